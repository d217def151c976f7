"""Person-year day marks: bits on PostgreSQL, characters elsewhere, the same marks either way."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from insights_app.models import PersonYearRollup

BEFORE = [("insights_app", "0015_rollupstaleday")]
AFTER = [("insights_app", "0016_personyearrollup_days_bits")]
MARKS = "0" * 9 + "1" + "0" * 300 + "11" + "0" * 54  # 10 January, 6 and 7 November (a leap year's 366)


def _column_type() -> str:
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, PersonYearRollup._meta.db_table)
    (days,) = [c for c in description if c.name == "days"]
    return connection.introspection.get_field_type(days.type_code, days)


def _migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


@pytest.mark.django_db(transaction=True)
def test_stored_marks_survive_the_migration_to_bits_and_back():
    executor = _migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps.get_model("insights_app", "PersonYearRollup")
        old.objects.create(identity="ana", year=2028, days=MARKS)
        assert _column_type() == "CharField"
        _migrate(AFTER)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
                    " WHERE attrelid = %s::regclass AND attname = 'days'",
                    [PersonYearRollup._meta.db_table],
                )
                assert cursor.fetchone()[0] == "bit(366)"
        assert PersonYearRollup.objects.get(identity="ana").days == MARKS
        _migrate(BEFORE)
        assert old.objects.get(identity="ana").days == MARKS
    finally:
        _migrate(executor.loader.graph.leaf_nodes())
    assert PersonYearRollup.objects.get(identity="ana").days == MARKS


@pytest.mark.django_db
def test_marks_written_by_the_orm_read_back_the_same():
    PersonYearRollup.objects.create(identity="bo", year=2027, days=MARKS[:365] + "0")
    PersonYearRollup.objects.filter(identity="bo").update(days=MARKS)
    assert PersonYearRollup.objects.get(identity="bo").days == MARKS
