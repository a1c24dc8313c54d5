"""Every endpoint of the REST API, for every kind of caller: no credentials (401), a user without a role (403), and
each role (success or 403). The agent's row uses an interaction assigned to them."""

import pytest

from tests.factories import InteractionFactory, UserFactory

from .helpers import role_client, user_client

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

OK, DENIED = "ok", 403
# endpoint → expected outcome for supervisor, agent, auditor, integration
MATRIX = {
    ("get", "/api/interactions"): (OK, OK, OK, OK),
    ("get", "/api/interactions/{id}"): (OK, OK, OK, OK),
    ("patch", "/api/interactions/{id}"): (OK, OK, DENIED, DENIED),
    ("get", "/api/audit-logs"): (OK, DENIED, OK, DENIED),
    ("get", "/api/metrics/summary"): (OK, DENIED, OK, DENIED),
    ("get", "/api/metrics/daily"): (OK, DENIED, OK, DENIED),
    ("post", "/api/interactions/{id}/messages"): (OK, OK, DENIED, OK),
    ("post", "/api/otp"): (OK, OK, DENIED, OK),
    ("post", "/api/otp/verify"): (OK, OK, DENIED, OK),
}
ROLES = ("supervisor", "agent", "auditor", "integration")
CASES = [
    (method, path, role, outcome)
    for (method, path), row in MATRIX.items()
    for role, outcome in zip(ROLES, row, strict=True)
]


def _call(client, method, path, interaction):
    url = path.format(id=interaction.pk)
    if method == "patch":
        return client.patch(url, {"status": "in_progress"}, format="json")
    if path.endswith("/messages"):
        return client.post(url, {"body": "Hola"}, format="json")
    if path == "/api/otp":
        return client.post(url, {"phone": "+5215512345678", "purpose": "login"}, format="json")
    if path == "/api/otp/verify":
        return client.post(url, {"phone": "+5215512345678", "purpose": "login", "code": "000000"}, format="json")
    return client.get(url)


@pytest.mark.parametrize(("method", "path", "role", "outcome"), CASES)
def test_role_matrix(method, path, role, outcome):
    if role == "agent":
        agent = UserFactory(roles=["agent"])
        interaction = InteractionFactory(assigned_agent=agent)
        client = user_client(agent)
    else:
        interaction = InteractionFactory()
        client = role_client(role)
    response = _call(client, method, path, interaction)
    if outcome == OK and path == "/api/otp/verify":
        # Admitted: the answer is about the code (no pending challenge here), never 401/403.
        assert response.status_code not in (401, 403), response.content
    elif outcome == OK:
        assert 200 <= response.status_code < 300, response.content
    else:
        assert response.status_code == 403
        assert response.json()["errors"][0]["code"] == "permission_denied"


@pytest.mark.parametrize(("method", "path"), list(MATRIX))
def test_without_credentials_every_endpoint_is_401(method, path):
    response = _call(role_client(None), method, path, InteractionFactory())
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "not_authenticated"


@pytest.mark.parametrize(("method", "path"), list(MATRIX))
def test_a_user_without_a_role_gets_403_everywhere(method, path):
    response = _call(user_client(UserFactory()), method, path, InteractionFactory())
    assert response.status_code == 403
