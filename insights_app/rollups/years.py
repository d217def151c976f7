"""The person-year rows of a rebuild, written once each from the day cells (not once per day of the year)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from operator import itemgetter

from django.db import transaction

from ..models import PersonDayRollup, PersonYearRollup
from ..models.day_marks import marks_of
from .cells import lock_years

BATCH = 2000


def rebuild_years(alias: str = "default", should_stop: Callable[[], bool] = lambda: False) -> bool:
    """Replace every year's person rows by the ones its day cells give, a year per transaction.

    True when done; False when ``should_stop`` ended it between years (run again: each year is whole).
    """
    cells = PersonDayRollup.objects.using(alias)
    for year in sorted({day.year for day in cells.dates("day", "year")}):
        if should_stop():
            return False
        with transaction.atomic(using=alias):
            lock_years(alias, [dt.date(year, 1, 1)])  # a concurrent recompute of a day of the year waits
            PersonYearRollup.objects.using(alias).filter(year=year).delete()
            rows = (
                cells.filter(day__gte=dt.date(year, 1, 1), day__lte=dt.date(year, 12, 31))
                .order_by("identity", "day")
                .values_list("identity", "day")
                .iterator(chunk_size=BATCH * 5)
            )
            batch: list[PersonYearRollup] = []
            for identity, days in itertools.groupby(rows, key=itemgetter(0)):
                marks = marks_of(day.timetuple().tm_yday for _identity, day in days)
                batch.append(PersonYearRollup(identity=identity, year=year, days=marks))
                if len(batch) == BATCH:
                    PersonYearRollup.objects.using(alias).bulk_create(batch)
                    batch = []
            PersonYearRollup.objects.using(alias).bulk_create(batch)
    return True
