"""Services raise domain errors by kind (contactcenter/common/domain.py); the API maps each kind to one HTTP status,
with Retry-After where the error says when to retry, in the standard error body (contactcenter/common/errors.py)."""

import ast
from pathlib import Path

import pytest
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from contactcenter.common import domain
from contactcenter.common.errors import http_headers_for, http_status_for

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("error", "status", "headers"),
    [
        (domain.InvalidInput("Bad phone.", code="invalid_phone", attr="phone"), 400, {}),
        (domain.NotAuthenticated("Wrong password."), 401, {}),
        (domain.PermissionDenied("Only a superuser."), 403, {}),
        (domain.NotFound("No such thing."), 404, {}),
        (domain.Conflict("Already resent.", code="already_resent"), 409, {}),
        (domain.IdempotencyKeyReused("Other request."), 422, {}),
        (domain.LimitReached("Too many.", retry_after=12.2), 429, {"Retry-After": "13"}),
        (domain.TooLarge("Too big."), 413, {}),
        (domain.ProviderFailed("Twilio said no."), 502, {}),
        (domain.Unavailable("Not configured.", code="provider_not_configured"), 503, {}),
        (domain.Unavailable("Briefly down.", retry_after=5), 503, {"Retry-After": "5"}),
    ],
)
def test_each_kind_has_one_http_status(error, status, headers):
    assert http_status_for(error) == status
    assert http_headers_for(error) == headers


class _Refusing(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    error: Exception

    def get(self, request):
        raise self.error


def _answer(error):
    view = type("View", (_Refusing,), {"error": error}).as_view()
    return view(APIRequestFactory().get("/api/anything"))


def test_a_domain_error_raised_under_the_api_gets_the_standard_body_and_status():
    response = _answer(domain.Conflict("This message was already resent.", code="already_resent"))
    assert response.status_code == 409
    assert response.data == {
        "type": "client_error",
        "errors": [{"code": "already_resent", "detail": "This message was already resent.", "attr": None}],
    }


def test_a_limit_reached_answers_429_with_retry_after():
    response = _answer(domain.LimitReached("Too many codes.", retry_after=30, code="rate_limited"))
    assert response.status_code == 429 and response["Retry-After"] == "30"
    assert response.data["errors"] == [{"code": "rate_limited", "detail": "Too many codes.", "attr": None}]


def test_a_field_at_fault_is_named_in_attr():
    response = _answer(domain.InvalidInput("Enter a phone number.", code="invalid_phone", attr="phone"))
    assert response.status_code == 400
    assert response.data["errors"] == [{"code": "invalid_phone", "detail": "Enter a phone number.", "attr": "phone"}]


def test_an_unavailable_provider_is_a_server_error():
    response = _answer(domain.Unavailable("Twilio is not configured.", code="provider_not_configured"))
    assert response.status_code == 503 and response.data["type"] == "server_error"
    assert "Retry-After" not in response


def test_the_domain_module_knows_no_http():
    tree = ast.parse((ROOT / "contactcenter/common/domain.py").read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert imported == ["math"]
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    for kind in (domain.DomainError, *domain.DomainError.__subclasses__()):
        assert not {"status", "status_code", "http_status", "headers"} & set(vars(kind))


def test_services_raise_no_http_status():
    """No service module builds an HTTP answer: no `status=`/`headers=` given to an error, no `http_status`."""
    services = [
        *ROOT.glob("*/services.py"),
        *ROOT.glob("*/services/*.py"),
        ROOT / "voice/services.py",
    ]
    offenders = []
    for path in services:
        source = path.read_text()
        if "http_status" in source:
            offenders.append(f"{path.relative_to(ROOT)}: http_status")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                names = {keyword.arg for keyword in node.exc.keywords}
                if names & {"status", "headers"}:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders
