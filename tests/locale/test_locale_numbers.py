"""Numbers, percentages, changes and durations follow the active language: one card never mixes two."""

from __future__ import annotations

import pytest
from django.utils import translation

from insights_app.display.durations import format_duration
from insights_app.display.numbers import format_pct, format_signed, format_trimmed
from insights_app.reports.charts import sizes_chart
from insights_app.reports.views.overview import change_text, kpi_cards

NBSP = "\xa0"


@pytest.mark.parametrize(
    ("language", "count", "times", "change"),
    [
        ("en", "1,920", "24.0× the previous period (80)", "+19.9 % vs previous period (1,920)"),
        (
            "de",
            "1.920",
            "24,0× so viel wie im vorigen Zeitraum (80)",
            "+19,9 % gegenüber dem vorigen Zeitraum (1.920)",
        ),
        (
            "nb",
            f"1{NBSP}920",
            "24,0× så mye som forrige periode (80)",
            f"+19,9 % mot forrige periode (1{NBSP}920)",
        ),
    ],
)
def test_a_kpi_card_writes_every_figure_in_one_language(language, count, times, change):
    with translation.override(language):
        card = next(
            c
            for c in kpi_cards(
                {
                    key: {"value": 1920, "previous": 80}
                    for key in (
                        "sessions",
                        "participant_minutes",
                        "unique_participants",
                        "recorder_minutes",
                        "streamer_minutes",
                        "avg_session_seconds",
                        "avg_rating",
                    )
                }
            )
            if c["key"] == "sessions"
        )
        assert card["text"] == count
        assert card["change_text"] == times
        assert change_text(2302, 1920, "int") == change


def test_signed_changes_percentages_and_durations_in_german():
    with translation.override("de"):
        assert format_signed(-3.04) == "−3,0"
        assert format_signed(0.0) == "+0,0"
        assert format_pct(12.5) == "12,5 %"
        assert format_duration(3900) == "1 h 05 min"
        assert (format_trimmed(2.5), format_trimmed(5)) == ("2,5", "5")
    with translation.override("nb"):
        assert format_duration(3900) == "1 t 05 min"


@pytest.mark.parametrize(("language", "separators"), [("en", ".,"), ("de", ",."), ("nb", f",{NBSP}")])
def test_chart_hovers_use_the_languages_separators(language, separators):
    with translation.override(language):
        chart = sizes_chart([{"size": 2, "sessions": 1234}])
    assert chart.figure["layout"]["separators"] == separators
