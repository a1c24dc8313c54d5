"""Keyset (cursor) pagination, newest first: stable under inserts and as fast on page 10 000 as on page 1."""

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from drf_standardized_errors.openapi_validation_errors import get_validation_errors, set_validation_errors
from rest_framework.exceptions import ErrorDetail, NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination

from .filters import datetime_to_utc

CURSOR_ERROR = "invalid_cursor"
PAGE_SIZE_ERROR = "invalid"
_PAGE_SIZE_RE = re.compile(r"[0-9]+")


def _invalid_cursor() -> ValidationError:
    return ValidationError(
        {"cursor": [ErrorDetail("Invalid cursor: use the `next` or `previous` link as given.", code=CURSOR_ERROR)]}
    )


def _invalid_page_size() -> ValidationError:
    return ValidationError({"page_size": [ErrorDetail("Give a whole number from 1.", code=PAGE_SIZE_ERROR)]})


class NewestFirstCursorPagination(CursorPagination):
    """Pages ordered by (created_at, id) descending, the order of the composite indexes; `next`/`previous` are
    opaque cursor links. `page_size` is 50 by default, at most 200.

    A cursor that is not one we made (not decodable, or whose position is not a value of the ordering field: a
    malformed date, one that overflows or has an offset no time zone has) is a 400 validation error `invalid_cursor`
    on `cursor`, never a 404 or a 500 from the database. A `page_size` that is not a whole number from 1 is a 400
    `invalid` on `page_size` (not silently the default); one above the maximum is served at the maximum."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_schema_operation_parameters(self, view):
        # The paginator documents the error of the parameter it reads, on every view that pages with it (spectacular
        # asks for a view's parameters before its responses, where drf-standardized-errors lists its 400s).
        # What `@extend_validation_errors([CURSOR_ERROR], field_name="cursor", methods=["get"])` on the view does,
        # without its checks that read every attribute of the class (a schema being generated cannot have that).
        view_class = type(view)
        for field_name, code in (("cursor", CURSOR_ERROR), (self.page_size_query_param, PAGE_SIZE_ERROR)):
            documented = get_validation_errors(view_class).get(field_name, [])  # type: ignore[arg-type]  # a class works
            if not any(code in error.error_codes for error in documented):
                set_validation_errors(
                    view_class, [code], field_name=field_name, actions=None, methods=["get"], versions=None
                )
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (
                    f"Results per page: {self.page_size} by default, at most {self.max_page_size} (a larger number "
                    f"is served as {self.max_page_size})."
                )
        return parameters

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        digits = raw.lstrip("0")
        if not _PAGE_SIZE_RE.fullmatch(raw) or not digits:
            raise _invalid_page_size()
        return self.max_page_size if len(digits) > 6 else min(int(digits), self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound as exc:
            raise _invalid_cursor() from exc
        if cursor is None or cursor.position is None:
            return cursor
        # DRF's stubs type a position as int; it is the text of the ordering field's value.
        position = self._position_clean(cursor.position)  # type: ignore[arg-type]
        return Cursor(offset=cursor.offset, reverse=cursor.reverse, position=position)  # type: ignore[arg-type]

    def _position_clean(self, position: str) -> str:
        """The position as a valid value of the ordering field, written as the database will read it."""
        field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
        if "\x00" in position:
            raise _invalid_cursor()
        try:
            value = field.to_python(position)
            if isinstance(field, models.DateTimeField):
                value = datetime_to_utc(value)
        except (DjangoValidationError, ValueError, TypeError, OverflowError) as exc:
            raise _invalid_cursor() from exc
        if value is None:
            raise _invalid_cursor()
        # str(): how DRF wrote it (its paging compares positions as strings), for a datetime in UTC.
        return str(value)
