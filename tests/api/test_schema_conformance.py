"""What Schemathesis found (tests/security/test_schemathesis.py), each finding reproduced as a small test.

Two kinds: the API accepted a request its schema calls invalid (a number where a string is due, a page size that is
not a positive integer, a filter value it silently ignored), so it now refuses it with a 400 naming the field; or the
schema said less than the API checks (a maximum length, a minimum, "give at least one field"), so a client following
the schema was refused, and the schema now says it."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.factories import InteractionFactory, UserFactory

from .helpers import key_client, user_client

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _parameter(schema, path: str, name: str) -> dict:
    (parameter,) = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name]
    return parameter["schema"]


def _component(schema, name: str) -> dict:
    return schema["components"]["schemas"][name]


def _error(response) -> tuple[int, str | None]:
    return response.status_code, response.json()["errors"][0]["attr"]


# --- the API refuses what its schema calls invalid ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "attr"),
    [
        ("/api/otp", {"phone": "+5215512345678", "purpose": "login", "conversation_id": 0}, "conversation_id"),
        ("/api/otp", {"phone": 5215512345678, "purpose": "login"}, "phone"),
        ("/api/otp/verify", {"phone": "+5215512345678", "purpose": "login", "code": 123456}, "code"),
        ("/api/auth/token", {"username": 7, "password": "x"}, "username"),
    ],
)
def test_a_number_where_the_schema_says_string_is_a_400_naming_the_field(path, body, attr):
    client, _ = key_client("integration")
    assert _error(client.post(path, body, format="json")) == (400, attr)


def test_a_message_body_that_is_not_a_string_is_a_400():
    interaction = InteractionFactory(channel="whatsapp", provider="builderbot")
    client, _ = key_client("integration")
    response = client.post(f"/api/interactions/{interaction.pk}/messages", {"body": 0}, format="json")
    assert _error(response) == (400, "body")


@pytest.mark.parametrize("spelling", [str, lambda pk: [pk], lambda pk: {"id": pk}])
def test_an_agent_id_that_is_not_a_json_integer_is_a_400(spelling):
    interaction = InteractionFactory()
    agent = UserFactory(roles=["agent"])
    supervisor = user_client(UserFactory(roles=["supervisor"]))
    response = supervisor.patch(
        f"/api/interactions/{interaction.pk}", {"assigned_agent": spelling(agent.pk)}, format="json"
    )
    assert _error(response) == (400, "assigned_agent")


@pytest.mark.parametrize("path", ["/api/interactions", "/api/audit-logs"])
@pytest.mark.parametrize("page_size", ["0", "-3", "abc", "1.5", "null"])
def test_a_page_size_that_is_not_a_positive_integer_is_a_400(path, page_size):
    client, _ = key_client("supervisor")
    assert _error(client.get(path, {"page_size": page_size})) == (400, "page_size")


def test_a_page_size_over_the_maximum_is_served_at_the_maximum():
    for n in range(3):
        InteractionFactory(external_id=f"SM{n}")
    client, _ = key_client("supervisor")
    assert len(client.get("/api/interactions", {"page_size": 100000}).json()["results"]) == 3


@pytest.mark.parametrize(("name", "value"), [("agent", "1.5"), ("unassigned", "abc"), ("unassigned", "2")])
def test_an_interaction_filter_value_of_the_wrong_type_is_a_400_not_ignored(name, value):
    InteractionFactory()
    client, _ = key_client("supervisor")
    assert _error(client.get("/api/interactions", {name: value})) == (400, name)


@pytest.mark.parametrize("value", ["true", "false", "True", "1", "0"])
def test_the_unassigned_filter_still_reads_the_usual_spellings(value):
    InteractionFactory()
    client, _ = key_client("supervisor")
    assert client.get("/api/interactions", {"unassigned": value}).status_code == 200


# --- the schema says what the API checks ----------------------------------------------------------------------------


def test_the_schema_gives_the_limits_the_interaction_filters_check(schema):
    path = "/api/interactions"
    assert _parameter(schema, path, "agent") == {"type": "integer", "minimum": 1}
    assert _parameter(schema, path, "provider")["maxLength"] == 32
    assert _parameter(schema, path, "phone")["maxLength"] == 40
    assert _parameter(schema, path, "search")["maxLength"] == 128
    assert _parameter(schema, path, "page_size") == {"type": "integer", "minimum": 1}


def test_the_schema_says_a_patch_needs_an_agent_or_a_status(schema):
    body = _component(schema, "PatchedInteractionPatchRequest")
    assert body["anyOf"] == [{"required": ["assigned_agent"]}, {"required": ["status"]}]


@pytest.mark.parametrize("path", ["/api/interactions", "/api/audit-logs", "/api/metrics/summary", "/api/metrics/daily"])
def test_the_schema_says_an_empty_query_value_is_read_as_absent(schema, path):
    parameters = schema["paths"][path]["get"]["parameters"]
    assert parameters and all(p.get("allowEmptyValue") is True for p in parameters if p["in"] == "query")


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/interactions", "agent=&unassigned=&created_after=&page_size=&cursor="),
        ("/api/metrics/summary", "date_to="),
    ],
)
def test_an_empty_query_value_is_read_as_absent(path, query):
    client, _ = key_client("supervisor")
    assert client.get(f"{path}?{query}").json() == client.get(path).json()


def test_the_schema_documents_the_validation_errors_of_a_message(schema):
    response = schema["paths"]["/api/interactions/{id}/messages"]["post"]["responses"]["400"]
    name = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    shapes = [one["$ref"].rsplit("/", 1)[1] for one in _component(schema, name)["oneOf"]]
    assert shapes == ["ValidationErrorResponse", "ClientErrorResponse"]
    interaction = InteractionFactory(channel="whatsapp", provider="builderbot")
    client, _ = key_client("integration")
    answer = client.post(f"/api/interactions/{interaction.pk}/messages", {"media_url": "0"}, format="json").json()
    assert answer["type"] == "validation_error"


def test_the_schema_says_a_provider_delivery_has_a_body(schema):
    def body(path):
        return schema["paths"][path]["post"]["requestBody"]

    assert all(
        body(path).get("required")
        for path in ["/webhooks/elevenlabs/call", "/webhooks/builderbot/whatsapp", "/webhooks/twilio/sms/status"]
    )
    form = body("/webhooks/twilio/sms/status")["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["minProperties"] == 1
    builderbot = body("/webhooks/builderbot/whatsapp")["content"]["application/json"]["schema"]
    assert builderbot["anyOf"] == [
        {"type": "object", "additionalProperties": {}},
        {"type": "array", "items": {"type": "object", "additionalProperties": {}}, "minItems": 1},
    ]


def test_the_schema_is_the_same_each_time_it_is_generated(schema):
    # /api/schema generates it on every request: the second must not lose what the first one's postprocessing read.
    assert SchemaGenerator().get_schema(request=None, public=True) == schema
    assert SchemaGenerator().get_schema(request=None, public=True) == schema


@pytest.mark.parametrize("path", ["/api/auth/token/refresh", "/api/auth/logout"])
@pytest.mark.parametrize("refresh", ["\x1c", " ", ""])
def test_a_blank_refresh_token_is_refused_like_any_invalid_token(path, refresh):
    response = key_client("integration")[0].post(path, {"refresh": refresh}, format="json")
    assert (response.status_code, response.json()["errors"][0]["code"]) == (401, "authentication_failed")


@pytest.mark.parametrize("username", ["\x1c", " ", ""])
def test_a_blank_username_is_refused_like_a_wrong_password(username):
    response = key_client("integration")[0].post(
        "/api/auth/token", {"username": username, "password": "whatever"}, format="json"
    )
    assert (response.status_code, response.json()["errors"][0]["code"]) == (401, "invalid_credentials")


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_the_schema_documents_retry_after_on_every_429(schema):
    for label, operation in _operations(schema):
        if "429" in operation["responses"]:
            header = operation["responses"]["429"].get("headers", {}).get("Retry-After")
            assert header and header["schema"]["type"] == "integer", label
            # Attempts used up on a challenge are final: that 429 has nothing to wait for.
            assert header.get("required", False) is (label != "POST /api/otp/verify"), label


def test_the_schema_documents_allow_on_every_405(schema):
    for label, operation in _operations(schema):
        assert operation["responses"]["405"]["headers"]["Allow"]["required"] is True, label


def test_the_schema_documents_the_503_of_a_database_outage_with_retry_after(schema):
    # Health answers its own 503 (the database is down: nothing to retry); the voice agent's endpoints never fail.
    exempt = ("/api/health", "/webhooks/elevenlabs/tools/", "/webhooks/elevenlabs/initiation")
    for label, operation in _operations(schema):
        if not label.split(" ", 1)[1].startswith(exempt):
            answer = operation["responses"]["503"]
            assert answer["headers"]["Retry-After"]["required"] is True, label
            error = answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            assert _component(schema, error)["properties"]["type"]["enum"] == ["server_error"]


def test_a_method_an_endpoint_does_not_take_is_a_405_naming_those_it_takes():
    client, _ = key_client("supervisor")
    response = client.delete("/api/interactions")
    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}


def test_the_schema_gives_the_purpose_slug_the_otp_service_takes(schema):
    body = _component(schema, "OtpCreateInputRequest")["properties"]["purpose"]
    assert (body["pattern"], body["maxLength"]) == (r"^[a-z0-9_.\-]{1,32}$", 32)


def test_a_purpose_with_spaces_around_it_is_not_the_slug_a_400_naming_it():
    client, _ = key_client("integration")
    response = client.post("/api/otp", {"phone": "+5215512345678", "purpose": " login "}, format="json")
    assert _error(response) == (400, "purpose")


def test_the_schema_links_each_answer_to_the_requests_it_feeds(schema):
    def links(path, method, status):
        found = schema["paths"][path][method]["responses"][status].get("links", {})
        return {link["operationId"] for link in found.values()}

    assert links("/api/otp", "post", "201") == {"otp_retrieve", "otp_cancel", "otp_verify"}
    assert links("/api/otp/{challenge_id}", "get", "200") == {"otp_cancel", "otp_verify"}
    assert links("/api/interactions", "get", "200") == {
        "api_interactions_retrieve",
        "api_interactions_partial_update",
        "api_interactions_messages_create",
    }
    assert links("/api/interactions/{id}", "get", "200") == {
        "api_interactions_partial_update",
        "api_interactions_messages_create",
    }
    assert links("/api/interactions/{id}", "patch", "200") == {
        "api_interactions_retrieve",
        "api_interactions_messages_create",
    }
    assert links("/api/auth/token", "post", "200") == {"api_auth_token_refresh_create", "api_auth_logout_create"}
