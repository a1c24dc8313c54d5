"""OpenAPI helpers shared by the API views: the error body of statuses the standard handler does not document."""

from drf_standardized_errors.openapi_serializers import ClientErrorEnum
from rest_framework import serializers


class ClientErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ClientErrorResponseSerializer(serializers.Serializer):
    """`{"type": "client_error", "errors": [{"code", "detail", "attr"}]}`: a business rule refused the request."""

    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = ClientErrorSerializer(many=True)
