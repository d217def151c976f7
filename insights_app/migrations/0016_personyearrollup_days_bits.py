"""Person-year day marks as ``bit(366)`` on PostgreSQL (characters elsewhere, unchanged)."""

from django.db import migrations

import insights_app.models.day_marks

TABLE = '"insights_app_personyearrollup"'


def to_bits(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'ALTER TABLE {TABLE} ALTER COLUMN "days" TYPE bit(366) USING "days"::bit(366)')


def to_characters(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'ALTER TABLE {TABLE} ALTER COLUMN "days" TYPE varchar(366) USING "days"::varchar(366)'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("insights_app", "0015_rollupstaleday"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="personyearrollup",
                    name="days",
                    field=insights_app.models.day_marks.DayMarksField(max_length=366),
                ),
            ],
            # Django's own type change has no USING clause, and PostgreSQL casts characters to bits
            # only when told to.
            database_operations=[migrations.RunPython(to_bits, to_characters)],
        ),
    ]
