"""OpenAPI security schemes of our authentication classes (drf-spectacular loads these on import, from apps.ready)."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class JwtAuthenticationScheme(SimpleJWTScheme):
    """Console users: `Authorization: Bearer <access token>` from POST /api/auth/token."""

    target_class = "accounts.authentication.JwtAuthentication"


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Machine clients: `Authorization: Api-Key <key>` (issued by `manage.py create_api_key` or "
            "the admin; shown once).",
        }


class StaffSessionAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.StaffSessionAuthentication"
    name = "StaffSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "Staff signed in to the admin, trying the API from Swagger.",
        }
