"""Rollups: per local day (and hour) sums of the raw rows that the busy report pages read.

Cells are keyed by the local day in the zone ``RollupState.zone`` names: every report period is a
whole number of local days, so a period is exactly a set of cells, whatever the zone's offset
(+05:30, +05:45) or its daylight-saving changes. A site that changes TIME_ZONE reads raw rows until
``insights_rollup --rebuild`` has rebuilt the cells in the new zone. A cell holds only counts,
sums and maxima of one day, recomputed from the raw rows after a write marks that day stale
(``RollupStaleDay``); pages never read a stale day's cells.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .day_marks import DayMarksField
from .float_arrays import FloatArrayField


class RollupStatus(models.TextChoices):
    """Whether the report pages may read the rollups."""

    READY = "ready", _("ready")
    REBUILDING = "rebuilding", _("rebuilding")
    NEEDS_REBUILD = "needs_rebuild", _("needs a rebuild")


class RollupState(models.Model):
    """The one row saying in which zone the cells are keyed and whether they are complete."""

    zone = models.CharField(_("time zone of the days"), max_length=64, blank=True, default="")
    status = models.CharField(
        _("status"), max_length=16, choices=RollupStatus.choices, default=RollupStatus.NEEDS_REBUILD
    )
    # The last local day a running rebuild has finished (it resumes from the day after).
    rebuilt_through = models.DateField(_("rebuilt through"), null=True, blank=True)
    rebuild_first = models.DateField(_("rebuild from"), null=True, blank=True)
    rebuild_last = models.DateField(_("rebuild to"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("rollup state")
        verbose_name_plural = _("rollup state")

    def __str__(self) -> str:
        return f"{self.status} ({self.zone})"


class RollupStaleDay(models.Model):
    """A local day (in ``RollupState.zone``) whose cells a committed write has made stale.

    A write bumps ``version`` in its own transaction; a fixer recomputes the day and deletes the mark
    only if ``version`` is still what it read, so a later writer's mark is never lost.
    """

    day = models.DateField(_("day"), primary_key=True)
    version = models.BigIntegerField(_("version"), default=1)

    class Meta:
        verbose_name = _("stale rollup day")
        verbose_name_plural = _("stale rollup days")

    def __str__(self) -> str:
        return f"{self.day} (v{self.version})"


class RollupCell(models.Model):
    """A cell of one local day."""

    day = models.DateField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.day}"


class UsageCell(RollupCell):
    """Sums over the sessions that started in one local hour (of a day)."""

    day = models.DateField()
    hour = models.PositiveSmallIntegerField()
    sessions = models.IntegerField(default=0)
    ongoing = models.IntegerField(default=0)
    participant_minutes = models.FloatField(default=0.0)
    recorder_minutes = models.FloatField(default=0.0)
    streamer_minutes = models.FloatField(default=0.0)
    ended = models.IntegerField(default=0)
    ended_seconds = models.FloatField(default=0.0)
    rating_weighted = models.FloatField(default=0.0)
    rating_weight = models.FloatField(default=0.0)
    size_0 = models.IntegerField(default=0)
    size_1 = models.IntegerField(default=0)
    size_2 = models.IntegerField(default=0)
    size_3 = models.IntegerField(default=0)
    size_4 = models.IntegerField(default=0)
    size_5 = models.IntegerField(default=0)
    size_6 = models.IntegerField(default=0)

    class Meta:
        abstract = True


class UsageHourRollup(UsageCell):
    """Sessions that started in one local hour, site-wide: the overview's KPIs, series, grid, sizes."""

    class Meta:
        indexes = [models.Index(fields=["day", "hour"], name="insights_rollup_usage_day")]


class RoomHourRollup(UsageCell):
    """Sessions that started in one room in one local hour: the room page's KPIs, series and grid."""

    room = models.ForeignKey("insights_app.Room", on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["room", "day"], name="insights_rollup_room_hour")]


class RoomDayRollup(RollupCell):
    """Sessions that started in one room on one local day: the rooms ranking."""

    room = models.ForeignKey("insights_app.Room", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    sessions = models.IntegerField(default=0)
    minutes = models.FloatField(default=0.0)
    duration_sum = models.FloatField(default=0.0)
    duration_n = models.IntegerField(default=0)
    size_sum = models.FloatField(default=0.0)
    size_n = models.IntegerField(default=0)
    last_started = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["day", "room"], name="insights_rollup_room_day")]


class QualityDayRollup(RollupCell):
    """Connection quality per local day, browser, OS and role, site-wide."""

    day = models.DateField()
    browser = models.CharField(max_length=64, blank=True, default="")
    os = models.CharField(max_length=64, blank=True, default="")
    role = models.CharField(max_length=64, blank=True, default="")
    connections = models.IntegerField(default=0)
    measured = models.IntegerField(default=0)
    degraded = models.IntegerField(default=0)
    measured_seconds = models.FloatField(default=0.0)
    degraded_seconds_sum = models.FloatField(default=0.0)

    class Meta:
        indexes = [models.Index(fields=["day"], name="insights_rollup_quality_day")]


class RoomQualityDayRollup(RollupCell):
    """Connection quality per room and local day (the room of the connection; null when unknown)."""

    room = models.ForeignKey("insights_app.Room", on_delete=models.CASCADE, related_name="+", null=True)
    day = models.DateField()
    connections = models.IntegerField(default=0)
    measured = models.IntegerField(default=0)
    degraded = models.IntegerField(default=0)
    measured_seconds = models.FloatField(default=0.0)
    degraded_seconds_sum = models.FloatField(default=0.0)

    class Meta:
        indexes = [models.Index(fields=["day", "room"], name="insights_rollup_room_qual")]


class PersonDayRollup(RollupCell):
    """One person (``Participant.identity``) seen on one local day: distinct people stay exact."""

    day = models.DateField()
    identity = models.CharField(max_length=255, blank=True, default="")
    connections = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["day", "identity"], name="insights_rollup_person_day")]


class PersonYearRollup(models.Model):
    """One person's local days of a year as 366 characters, ``1`` where ``PersonDayRollup`` has a cell.

    Distinct people over a period are the rows with a ``1`` in the period's span: a scan of one row
    per person and year, however many days and connections the period holds.
    """

    identity = models.CharField(max_length=255, blank=True, default="")
    year = models.PositiveSmallIntegerField()
    days = DayMarksField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["year", "identity"], name="insights_rollup_person_year"),
        ]

    def __str__(self) -> str:
        return f"{self.identity} {self.year}"


class PeopleYearRollup(models.Model):
    """One external id's local days of a year with running totals, for ranking the People list.

    ``days`` marks the days with a connection carrying this external id; the arrays hold one running
    total per marked day, in day order. A period's total is the difference of two running totals,
    picked by counting the marks before and within it: one row per person and year, however many
    connections. ``ongoing`` and ``open_joined`` are null while the year has no open connection.
    """

    external_id = models.CharField(max_length=255)
    year = models.PositiveSmallIntegerField()
    days = DayMarksField()
    # Finished seconds (``duration_seconds``) up to and including each marked day.
    seconds = FloatArrayField()
    # Connections still open, and the sum of their join instants in epoch seconds: the ongoing ones'
    # seconds up to now are ``ongoing * now - open_joined``, as the raw page adds them.
    ongoing = FloatArrayField(null=True)
    open_joined = FloatArrayField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["year", "external_id"], name="insights_rollup_people_year"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} {self.year}"
