"""A full sync stores the sessions of many small rooms in one upsert: a row the database refuses
fails its own room only, never the rooms stored beside it."""

from __future__ import annotations

import pytest
from django.db import connection

from insights_app.models import Room, RoomSession
from tests.helpers import configure, run_sync

pytestmark = [
    pytest.mark.django_db(
        transaction=True
    ),  # the sync writes on its own connection: the trigger is committed
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the refusal is a PostgreSQL trigger (PL/pgSQL); SQLite has no way to refuse one room's rows",
    ),
]


@pytest.fixture
def refuse_sessions_of():
    """Install the refusing trigger for a room name; dropped after the test."""
    yield _refuse
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(RoomSession._meta.db_table)
        cursor.execute(f"DROP TRIGGER IF EXISTS insights_test_refuse_room ON {table}")
        cursor.execute("DROP FUNCTION IF EXISTS insights_test_refuse_room()")


def _refuse(room_name: str) -> None:
    """A trigger that refuses, as out of range (SQLSTATE 22003), every session row of ``room_name``."""
    sessions = connection.ops.quote_name(RoomSession._meta.db_table)
    rooms = connection.ops.quote_name(Room._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("SELECT quote_literal(%s)", [room_name])  # quoted by PostgreSQL itself
        (literal,) = cursor.fetchone()
        body = (
            f"IF NEW.room_id IN (SELECT id FROM {rooms} WHERE room_name = {literal}) THEN "  # noqa: S608
            "RAISE EXCEPTION 'value out of range' USING ERRCODE = '22003'; END IF; RETURN NEW;"
        )
        cursor.execute(
            f"CREATE FUNCTION insights_test_refuse_room() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER insights_test_refuse_room BEFORE INSERT OR UPDATE ON {sessions} "
            "FOR EACH ROW EXECUTE FUNCTION insights_test_refuse_room()"
        )


def test_a_session_row_the_database_refuses_fails_its_own_room_only(
    settings, simulator_factory, refuse_sessions_of
):
    server = simulator_factory(seed=36, rooms=4, sessions_per_room=2, participants_per_session=1)
    configure(settings, server, DETAIL_POLICY="none")
    org = server.organisation
    names = sorted(room["roomName"] for room in org.room_items() if org.session_items(room["roomName"]))
    assert len(names) >= 3
    bad = names[1]
    refuse_sessions_of(bad)

    run = run_sync("full")

    assert run.status == "partial", run.error
    stored = set(RoomSession.objects.values_list("room__room_name", flat=True).distinct())
    assert stored == set(names) - {bad}
    assert [reason for reason in run.skip_reasons if bad in reason], run.skip_reasons
    assert not [reason for reason in run.skip_reasons if any(n in reason for n in stored)], run.skip_reasons
