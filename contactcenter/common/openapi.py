"""OpenAPI helpers shared by the API views: the error body of statuses the standard handler does not document, the
limits of query filters, and the schema's postprocessing (the links between operations, the rules a serializer cannot
say by itself).

The document is read by people and by Schemathesis (tests/security/test_schemathesis.py): whatever the API checks of
a request, the document says, so a client that follows it is not refused; and the links say which answer feeds which
next request, so the stateful tests chain real calls (a created OTP challenge into its read, cancel and verify; an
interaction from the list into its detail, its change and its messages)."""

from django import forms
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_standardized_errors.openapi_serializers import ClientErrorEnum
from rest_framework import serializers


class ClientErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ClientErrorResponseSerializer(serializers.Serializer):
    """`{"type": "client_error", "errors": [{"code", "detail", "attr"}]}`: a business rule refused the request."""

    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = ClientErrorSerializer(many=True)  # type: ignore[assignment]  # a field named like Serializer.errors


# --- query filters ------------------------------------------------------------------------------------------------
_FILTER_LIMITS = {"max_length": "maxLength", "min_length": "minLength", "min_value": "minimum", "max_value": "maximum"}


class LimitedDjangoFilterExtension(DjangoFilterExtension):
    """django-filter parameters with the limits their form fields check (`max_length`, `min_value`…), and whole-number
    filters as integers: without them the document admits values the API refuses."""

    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(auto_schema, model, filterset_class, field_name, filter_field)
        for parameter in parameters:
            schema = parameter["schema"]
            if issubclass(filter_field.field_class, forms.IntegerField):
                schema["type"] = "integer"
            for keyword, json_keyword in _FILTER_LIMITS.items():
                if filter_field.extra.get(keyword) is not None:
                    schema[json_keyword] = filter_field.extra[keyword]
        return parameters


# --- rules across a serializer's fields ---------------------------------------------------------------------------
def schema_keywords(**keywords):
    """Class decorator: JSON Schema keywords added to a serializer's component, for rules no single field can say
    ("give at least one of these", `anyOf`). The serializer's `validate` must check the same."""

    def decorate(serializer_class):
        def map_serializer(self, auto_schema, direction):
            return {**auto_schema._map_serializer(self.target, direction, bypass_extensions=True), **keywords}

        type(
            f"{serializer_class.__name__}Keywords",
            (OpenApiSerializerExtension,),
            {"target_class": serializer_class, "map_serializer": map_serializer},
        )
        return serializer_class

    return decorate


# --- request bodies -----------------------------------------------------------------------------------------------
_REQUIRED_BODY = "x-contactcenter-required-body"


def required_body(schema: dict) -> dict:
    """A raw request schema (`extend_schema(request={media_type: required_body({...})})`) whose body is required:
    spectacular marks a body required only for a serializer with required fields."""
    return {**schema, _REQUIRED_BODY: True}


# --- links --------------------------------------------------------------------------------------------------------
def _link(operation_id: str, description: str, *, parameters: dict | None = None, body: dict | None = None) -> dict:
    link: dict[str, object] = {"operationId": operation_id, "description": description}
    if parameters:
        link["parameters"] = parameters
    if body:
        link["requestBody"] = body
    return link


_CHALLENGE = {"challenge_id": "$response.body#/id"}
_INTERACTION = {"id": "$response.body#/id"}
_FIRST_LISTED = {"id": "$response.body#/results/0/id"}
_REFRESH = {"refresh": "$response.body#/refresh"}

# (operation, status) -> {link name: link}: which answer feeds which next request. A cancel's answer links nowhere on
# purpose: what follows a cancel is the 409 of anything else, and a tool following links (Schemathesis' stateful
# phase) would otherwise start its chains from canceling challenges rather than from creating them.
LINKS = {
    ("otp_create", "201"): {
        "ReadChallenge": _link("otp_retrieve", "The challenge just created.", parameters=_CHALLENGE),
        "CancelChallenge": _link("otp_cancel", "Cancel it.", parameters=_CHALLENGE),
        "VerifyChallenge": _link("otp_verify", "Check a code against it, by id.", body={"id": "$response.body#/id"}),
    },
    ("otp_retrieve", "200"): {
        "CancelChallenge": _link("otp_cancel", "Cancel it.", parameters=_CHALLENGE),
        "VerifyChallenge": _link("otp_verify", "Check a code against it, by id.", body={"id": "$response.body#/id"}),
    },
    ("api_interactions_list", "200"): {
        "ReadInteraction": _link("api_interactions_retrieve", "The first one listed.", parameters=_FIRST_LISTED),
        "ChangeInteraction": _link(
            "api_interactions_partial_update", "Assign it or change its status.", parameters=_FIRST_LISTED
        ),
        "MessageCustomer": _link(
            "api_interactions_messages_create", "Reply to its customer.", parameters=_FIRST_LISTED
        ),
    },
    ("api_interactions_retrieve", "200"): {
        "ChangeInteraction": _link(
            "api_interactions_partial_update", "Assign it or change its status.", parameters=_INTERACTION
        ),
        "MessageCustomer": _link("api_interactions_messages_create", "Reply to its customer.", parameters=_INTERACTION),
    },
    ("api_interactions_partial_update", "200"): {
        "ReadInteraction": _link("api_interactions_retrieve", "The interaction as changed.", parameters=_INTERACTION),
        "MessageCustomer": _link("api_interactions_messages_create", "Reply to its customer.", parameters=_INTERACTION),
    },
    ("api_auth_token_create", "200"): {
        "Refresh": _link("api_auth_token_refresh_create", "A new pair for the refresh token.", body=_REFRESH),
        "SignOut": _link("api_auth_logout_create", "Revoke the refresh token.", body=_REFRESH),
    },
    ("api_auth_token_refresh_create", "200"): {
        "Refresh": _link("api_auth_token_refresh_create", "A new pair for the new refresh token.", body=_REFRESH),
        "SignOut": _link("api_auth_logout_create", "Revoke the new refresh token.", body=_REFRESH),
    },
}


# --- statuses every operation may answer ---------------------------------------------------------------------------
def _header(description: str, schema: dict, *, required: bool = True) -> dict:
    return {"description": description, "schema": schema, "required": required}


_RETRY_AFTER = "Retry-After"
# Operations whose 429 may come without Retry-After: a challenge whose attempts are used up is locked for good.
_FINAL_429 = {"otp_verify"}
# Operations that never answer the database outage's 503: health answers its own, the voice agent's endpoints always
# answer 200 (an error would tell the agent nothing).
_NO_OUTAGE_503 = {
    "health",
    "webhooks_elevenlabs_tool_otp_send",
    "webhooks_elevenlabs_tool_otp_verify",
    "webhooks_elevenlabs_initiation",
}
_SERVICE_UNAVAILABLE = "ServiceUnavailableErrorResponse"
_SERVICE_UNAVAILABLE_SCHEMA = {
    "type": "object",
    "description": "The database was briefly out of reach (a restart, a failover, a deadlock): retry after Retry-After.",
    "properties": {
        "type": {"type": "string", "enum": ["server_error"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "enum": ["service_unavailable"]},
                    "detail": {"type": "string"},
                    "attr": {"type": "string", "nullable": True},
                },
                "required": ["code", "detail", "attr"],
            },
        },
    },
    "required": ["type", "errors"],
}


def _document_common_statuses(operation: dict, components: dict) -> None:
    """`Allow` on 405, `Retry-After` on 429, and the 503 of a database outage (contactcenter.common.errors), as the
    product answers them."""
    responses = operation.setdefault("responses", {})
    operation_id = operation.get("operationId")
    if "405" in responses:
        allow = _header("The methods this endpoint takes.", {"type": "string"})
        responses["405"] = {**responses["405"], "headers": {**responses["405"].get("headers", {}), "Allow": allow}}
    if "429" in responses:
        retry_after = _header(
            "Seconds to wait before trying again.",
            {"type": "integer", "minimum": 0},
            required=operation_id not in _FINAL_429,
        )
        headers = {**responses["429"].get("headers", {}), _RETRY_AFTER: retry_after}
        responses["429"] = {**responses["429"], "headers": headers}
    if operation_id not in _NO_OUTAGE_503 and "503" not in responses:
        components.setdefault(_SERVICE_UNAVAILABLE, _SERVICE_UNAVAILABLE_SCHEMA)
        responses["503"] = {
            "description": "The service is briefly unavailable (the database is out of reach); retry shortly.",
            "headers": {_RETRY_AFTER: _header("Seconds to wait before retrying.", {"type": "integer", "minimum": 0})},
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{_SERVICE_UNAVAILABLE}"}}},
        }


def postprocess_schema(result, generator, request, public):
    """Spectacular postprocessing hook: the statuses every operation may answer (405, 429, 503) with their headers;
    the LINKS above on the responses they start from; the bodies marked by
    `required_body` required; and, on the API's reads, every optional query parameter `allowEmptyValue` (`?channel=`
    is read as no `channel` at all, as django-filter and the metrics query do)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            _document_common_statuses(operation, components)
            if method == "get" and path.startswith("/api/"):
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "query" and not parameter.get("required"):
                        parameter["allowEmptyValue"] = True
            for media in operation.get("requestBody", {}).get("content", {}).values():
                body_schema = media.get("schema", {})
                if body_schema.get(_REQUIRED_BODY):
                    # A copy without the marker: the schema is the very dict given to extend_schema, which the next
                    # generation of the document (the next GET /api/schema in this process) reads again.
                    media["schema"] = {k: v for k, v in body_schema.items() if k != _REQUIRED_BODY}
                    operation["requestBody"]["required"] = True
            for status, response in operation.get("responses", {}).items():
                links = LINKS.get((operation.get("operationId"), status))
                if links:
                    response["links"] = links
    return result
