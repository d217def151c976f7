"""A paginator that never counts a big table row by row."""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

# Up to this many rows the count is exact; past it the page shows an estimate.
EXACT_COUNT_LIMIT = 10_000


class BoundedCountPaginator(Paginator):
    """Counts exactly up to ``EXACT_COUNT_LIMIT`` rows, then estimates on PostgreSQL.

    ``is_estimate`` tells the template to say "about". On other databases the count stays exact: they
    are the embedded default for small sites.
    """

    is_estimate = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        db = getattr(queryset, "db", "default")
        if connections[db].vendor != "postgresql" or not isinstance(queryset, QuerySet):
            return super().count
        capped = queryset.order_by()[: EXACT_COUNT_LIMIT + 1].count()
        if capped <= EXACT_COUNT_LIMIT:
            return capped
        self.is_estimate = True
        return max(self._planner_estimate(queryset), capped)

    @staticmethod
    def _planner_estimate(queryset) -> int:
        """The row estimate of the query planner (no rows are read)."""
        sql, params = queryset.order_by().query.sql_with_params()
        with connections[queryset.db].cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"])
