"""Shared pieces of the security tests: the product served as production serves it (gunicorn, DEBUG off, PostgreSQL,
Redis), API keys of each role (users: tests/factories.py), and the HTTP helpers an outside attacker would use."""

from collections import OrderedDict

import pytest
import requests
from django.conf import settings
from django.core.cache import cache

from accounts.models import ApiKey
from simulators.fake_builderbot import FakeBuilderBot
from simulators.fake_twilio import FakeTwilio
from tests.support.prod_server import ProdServer

# The servers kept running, most recently used last. Each gunicorn worker holds database connections: only a few
# servers are kept at once, so that the suite stays far below PostgreSQL's connection limit (tests that come later
# open dozens of connections of their own).
_servers: OrderedDict[tuple, ProdServer] = OrderedDict()
KEEP_SERVERS = 2


@pytest.fixture(scope="session")
def _prod_servers(django_db_setup):
    yield _servers
    for server in _servers.values():
        server.close()
    _servers.clear()


@pytest.fixture(scope="module", autouse=True)
def _prod_servers_closed_after_each_module():
    """A module's servers stop when it ends: the next module's tests and the rest of the suite get the connections
    back."""
    yield
    while _servers:
        _servers.popitem(last=False)[1].close()


@pytest.fixture
def fake_twilio():
    """A fake Twilio Messages API on loopback (accepts this run's account SID and auth token)."""
    fake = FakeTwilio(account_sid=settings.TWILIO_ACCOUNT_SID, auth_token=settings.TWILIO_AUTH_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_builderbot():
    """A fake BuilderBot send API on loopback (accepts this run's API key and project)."""
    fake = FakeBuilderBot(api_key=settings.BUILDERBOT_API_KEY, project_id=settings.BUILDERBOT_PROJECT_ID).start()
    yield fake
    fake.stop()


@pytest.fixture
def prod_server(_prod_servers, transactional_db):
    """`prod_server(env={...})` -> a running ProdServer with those settings (started once per set of settings and
    kept while the module runs, the KEEP_SERVERS most recently used). The test's rows are committed
    (transactional_db), so the server sees them."""
    cache.clear()  # throttles, lockouts and counters start afresh for each test

    def get(env: dict | None = None, workers: int = 2) -> ProdServer:
        key = (tuple(sorted((env or {}).items())), workers)
        server = _prod_servers.get(key)
        if server is None or server.process is None or server.process.poll() is not None:
            server = ProdServer(env=env, workers=workers).start()
            _prod_servers[key] = server
        _prod_servers.move_to_end(key)
        while len(_prod_servers) > KEEP_SERVERS:
            _prod_servers.popitem(last=False)[1].close()
        return server

    return get


def make_api_key(role: str, name: str | None = None) -> str:
    _row, key = ApiKey.objects.create_key(name=name or f"{role}-client", role=role)
    return key


def totp_device(user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def totp_now(device, *, offset_steps: int = 0) -> str:
    from django_otp.oath import totp

    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset_steps)
    return f"{code:0{device.digits}d}"


class _PlainHttpSession(requests.Session):
    """Production marks its cookies Secure; the test server speaks plain HTTP on loopback: after every answer the
    cookies it set are made sendable over HTTP."""

    def request(self, *args, **kwargs):
        response = super().request(*args, **kwargs)
        for cookie in self.cookies:
            cookie.secure = False
        return response


class AdminBrowser:
    """A requests session that signs in to /admin/ as a person would (the login form, its CSRF token) and posts
    admin actions."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = _PlainHttpSession()

    def _plain_http_cookies(self) -> None:
        # Production marks its cookies Secure; the test server speaks plain HTTP on loopback.
        for cookie in self.session.cookies:
            cookie.secure = False

    def csrf(self, path: str) -> str:
        self.session.get(self.base_url + path, timeout=10)
        self._plain_http_cookies()
        return self.session.cookies.get("csrftoken", "")

    def login(self, username: str, password: str, otp_token: str = "", **headers) -> requests.Response:
        token = self.csrf("/admin/login/")
        data = {"username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"}
        if otp_token:
            data["otp_token"] = otp_token
        response = self.session.post(
            self.base_url + "/admin/login/",
            data=data,
            headers={"Referer": self.base_url + "/admin/login/", **headers},
            allow_redirects=False,
            timeout=10,
        )
        self._plain_http_cookies()
        return response

    def action(self, changelist: str, action: str, ids: list, **headers) -> requests.Response:
        token = self.csrf(changelist)
        data = {"action": action, "_selected_action": [str(i) for i in ids], "csrfmiddlewaretoken": token}
        return self.session.post(
            self.base_url + changelist,
            data=data,
            headers={"Referer": self.base_url + changelist, **headers},
            allow_redirects=False,
            timeout=10,
        )
