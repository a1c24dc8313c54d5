"""Every answer under /api/ and /webhooks/ has the JSON error shape, an unknown path too, and in DEBUG too (Django's
debug 404 page would otherwise answer HTML there)."""

import pytest

pytestmark = [pytest.mark.django_db]


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/otp/"),
        ("get", "/api/nope"),
        ("get", "/api/interactions/"),
        ("post", "/webhooks/nope"),
        ("delete", "/api/otp/anything/else"),
    ],
)
def test_an_unknown_path_answers_a_json_404(client, settings, debug, method, path):
    settings.DEBUG = debug
    response = getattr(client, method)(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["errors"][0]["code"] == "not_found"


def test_a_path_outside_the_api_keeps_django_s_page(client, settings):
    settings.DEBUG = False
    response = client.get("/nope")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")
