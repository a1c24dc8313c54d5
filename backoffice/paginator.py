"""A paginator for tables of millions of rows: one bounded count query, no deep OFFSET.

A page never costs a full COUNT: the count stops at `cap` + 1 rows (an index-only walk of at most that many entries),
and the pages offered stop at `cap` rows (so OFFSET never goes deeper). When the cap is reached, the unfiltered list
shows PostgreSQL's own estimate of the table's size (`pg_class.reltuples`, read in the same query), a filtered one
"more than <cap>"; narrowing the filters or searching is the way to older rows.
"""

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property


class CappedCountPaginator(Paginator):
    cap = 10_000

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, **kwargs):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page, **kwargs)
        self.count_is_capped = False
        self.count_is_estimate = False
        self.display_count = 0

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        limit = self.cap + 1
        estimate = None
        connection = connections[queryset.db]
        if not queryset.query.where and connection.vendor == "postgresql":
            table = queryset.model._meta.db_table
            quoted = connection.ops.quote_name(table)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT (SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass), "  # noqa: S608
                    f"(SELECT count(*) FROM (SELECT 1 FROM {quoted} LIMIT %s) AS capped)",
                    [quoted, limit],
                )
                estimate, counted = cursor.fetchone()
        else:
            counted = queryset.order_by().values("pk")[:limit].count()
        if counted <= self.cap:
            self.display_count = counted
            return counted
        self.count_is_capped = True
        if estimate is not None and estimate > self.cap:
            self.count_is_estimate = True
            self.display_count = int(estimate)
        else:
            self.display_count = self.cap
        return self.cap
