"""Keyset (cursor) pagination, newest first: stable under inserts and as fast on page 10 000 as on page 1."""

from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    """Pages ordered by (created_at, id) descending, the order of the composite indexes; `next`/`previous` are
    opaque cursor links. `page_size` is 50 by default, at most 200."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
