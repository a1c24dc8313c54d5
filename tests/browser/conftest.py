"""Browser tests: Playwright driving Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it), headless,
against pytest-django's live server on a free loopback port. Screenshots go to SCREENSHOT_DIR
(default: artifacts/screenshots/)."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT_DIR = Path(
    os.environ.get("SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "artifacts" / "screenshots")
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if _in_ci():
            pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/run installs it with apt-get.")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if _in_ci():
            raise
        pytest.skip("the playwright package is not installed")
    # Playwright's sync API keeps an event loop running in this thread while it is open; the tests' own ORM calls are
    # still synchronous. Allowed for this module only, and Playwright is stopped before the next module runs.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def screenshots():
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def shoot(page, name: str):
        page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=True)

    return shoot


@pytest.fixture
def browser_settings(settings, monkeypatch):
    from django.db import connections

    # The live server answers each request in a new thread: let those threads close their connections.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    # The live server speaks plain HTTP on loopback.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_SSL_REDIRECT = False
    return settings
