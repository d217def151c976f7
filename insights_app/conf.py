"""App settings: one ``WHEREBY_INSIGHTS`` dict merged over defaults, read lazily and cached."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "WHEREBY_INSIGHTS"

DETAIL_POLICIES = ("all", "recent", "none")

DEFAULTS: dict[str, Any] = {
    # Whereby API access
    "API_KEY": None,
    "BASE_URL": "https://api.whereby.dev/v1",
    "CONNECT_TIMEOUT": 5.0,
    "READ_TIMEOUT": 30.0,
    "PAGE_SIZE": 100,
    "MAX_PAGES": 10_000,
    "MAX_RETRIES": 5,
    "MAX_THROTTLE_RETRIES": 20,
    "BACKOFF_BASE": 0.5,
    "BACKOFF_MAX": 30.0,
    "MAX_RETRY_WAIT": 120.0,
    # Rate budget: our share of the organisation's points per minute, shared by every process
    "PLAN_POINTS_PER_MINUTE": 100,
    "RATE_BUDGET_POINTS_PER_MINUTE": 50,
    "RATE_LOW_REMAINING": 10,
    "RATE_REDIS_URL": None,
    # Queue and jobs
    "QUEUE": "whereby_insights",
    "JOB_TIMEOUT": 3600,
    "JOB_RETRY_INTERVALS": [30, 120],
    "FANOUT_ROOMS_PER_JOB": 25,
    "FANOUT_MIN_ROOMS": 50,
    "ABANDONED_AFTER_SECONDS": 300,
    # What a sync fetches
    "DETAIL_POLICY": "recent",
    "DETAIL_RECENT_DAYS": 7,
    "LOOKBACK_MINUTES": 30,
    # Schedule read by insights_app.cron
    "SCHEDULE_INTERVAL_MINUTES": 15,
    "NIGHTLY_FULL_SYNC_CRON": None,
    # Reports
    "DEGRADED_PACKET_LOSS_PERCENT": 3.0,
    "DEGRADED_MIN_SECONDS": 10,
    "PACKET_LOSS_UNIT": "auto",
    "EXTERNAL_ID_RESOLVER": None,
}


class InsightsSettings:
    """Typed, attribute-style access to the merged settings."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"{SETTING_NAME} has no setting {name!r}") from None

    def as_dict(self) -> dict[str, Any]:
        """A copy of every setting, with the API key masked."""
        values = dict(self._values)
        if values.get("API_KEY"):
            values["API_KEY"] = "********"
        return values


@cache
def get_settings() -> InsightsSettings:
    """The merged settings; cached until a test or the site changes ``WHEREBY_INSIGHTS``."""
    user = getattr(django_settings, SETTING_NAME, None) or {}
    merged = {**DEFAULTS, **user}
    return InsightsSettings(merged)


def unknown_setting_keys() -> list[str]:
    """Keys in ``WHEREBY_INSIGHTS`` that the app does not know (typos)."""
    user = getattr(django_settings, SETTING_NAME, None) or {}
    return sorted(set(user) - set(DEFAULTS))


@receiver(setting_changed)
def _clear_cache(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        get_settings.cache_clear()
