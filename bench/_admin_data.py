"""Set-based bulk data for the admin bench on PostgreSQL (INSERT ... SELECT generate_series)."""
# ruff: noqa: S608  (the SQL is built from this module's own constants and clock, never from input)

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from insights_app.models import COUNT_KINDS, SYNCED_MODELS, Participant, Room, RoomSession, SyncRun

ROOMS = 5_000
SESSIONS = 200_000
BIG_ROOM_SESSIONS = 50_000  # room 1 alone: its page and its sessions list must still open instantly
PARTICIPANTS_PER_SESSION = 5  # 1,000,000 participants
DETAILED_PARTICIPANTS = 20_000
SAMPLES = 300
RUNS = 2_000


def _exec(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def counts() -> tuple[int, int, int]:
    """Rows now in rooms, sessions, participants."""
    return Room.objects.count(), RoomSession.objects.count(), Participant.objects.count()


def app_now_sql() -> str:
    """The app's clock as an SQL literal: the data is laid out around it, not the database server's now()."""
    return f"'{timezone.now().isoformat()}'::timestamptz"


def load() -> None:
    """Empty the app's tables and fill them at bench scale (a minute); used when bench/bigdata.py is absent."""
    now = app_now_sql()
    _exec(
        "TRUNCATE insights_app_participantdetail, insights_app_participant, insights_app_roomsession,"
        " insights_app_room, insights_app_syncrun RESTART IDENTITY CASCADE"
    )
    _exec(
        f"""
        INSERT INTO insights_app_room (raw, room_name, created_at, first_session_started_at,
            last_session_started_at, total_participant_minutes, total_unique_participants, total_sessions,
            rating, total_ratings, sessions_synced_signature)
        SELECT '{{}}'::jsonb, '/bench-room-' || g, {now} - interval '500 days',
            {now} - interval '400 days', {now} - (g || ' minutes')::interval, g * 3.5, g % 97,
            CASE WHEN g = 1 THEN {BIG_ROOM_SESSIONS} ELSE 30 END, 4.2, g % 5, ''
        FROM generate_series(1, {ROOMS}) g
        """
    )
    _exec(
        f"""
        INSERT INTO insights_app_roomsession (raw, room_id, room_session_id, room_name, started_at, ended_at,
            total_participant_minutes, total_unique_participants, rating, total_ratings, duration_seconds,
            participants_synced_signature)
        SELECT '{{}}'::jsonb, r, 'bench-session-' || g, '/bench-room-' || r,
            {now} - (g * 2 || ' minutes')::interval,
            CASE WHEN g % 1000 = 0 THEN NULL ELSE {now} - (g * 2 || ' minutes')::interval + interval '40 minutes' END,
            150, {PARTICIPANTS_PER_SESSION}, CASE WHEN g % 3 = 0 THEN 4 ELSE NULL END, (g % 3)::float,
            2400, ''
        FROM (SELECT g, CASE WHEN g <= {BIG_ROOM_SESSIONS} THEN 1 ELSE 2 + g % {ROOMS - 1} END AS r
              FROM generate_series(1, {SESSIONS}) g) s
        """
    )
    _exec(
        f"""
        INSERT INTO insights_app_participant (raw, room_session_id, room_id, participant_id, user_id,
            role_name, display_name, joined_at, left_at, external_id, identity, duration_seconds,
            quality_degraded, degraded_seconds, max_packet_loss, avg_packet_loss, browser, os, device)
        SELECT '{{}}'::jsonb, s.id, s.room_id, s.id || '-' || k, 'user-' || (s.id * 7 + k) % 90000,
            (ARRAY['host','visitor','member','viewer'])[1 + k % 4], 'Person ' || s.id || '-' || k,
            s.started_at + (k || ' minutes')::interval, s.ended_at,
            CASE WHEN k <= 2 THEN 'ext-' || (s.id * 5 + k) % 50000 END,
            -- the sync's person_identity: external id, else user id
            CASE WHEN k <= 2 THEN 'ext-' || (s.id * 5 + k) % 50000 ELSE 'user-' || (s.id * 7 + k) % 90000 END,
            2100,
            CASE WHEN (s.id + k) % 11 = 0 THEN NULL ELSE (s.id + k) % 7 = 0 END, (s.id + k) % 60, (s.id + k) % 13,
            ((s.id + k) % 13) / 4.0, (ARRAY['Chrome','Firefox','Safari','Edge'])[1 + (s.id + k) % 4],
            (ARRAY['Windows','Mac OS X','Linux','iOS','Android'])[1 + (s.id * 3 + k) % 5], 'desktop'
        FROM insights_app_roomsession s CROSS JOIN generate_series(1, {PARTICIPANTS_PER_SESSION}) k
        """
    )
    _exec(
        f"""
        INSERT INTO insights_app_participantdetail (raw, participant_id, position, display_name, user_role,
            user_agent, time_stamp, sample_rate_ms, samples, packet_loss_unit, sample_count,
            avg_packet_loss_send, max_packet_loss_send, avg_packet_loss_recv, max_packet_loss_recv,
            degraded_seconds, browser, browser_version, os, os_version, device)
        SELECT '{{}}'::jsonb, p.id, 0, p.display_name, p.role_name, 'Mozilla/5.0 Chrome/120.0', p.joined_at, 2000,
            jsonb_build_object(
                'packetLossSend', (SELECT jsonb_agg(((i * p.id) % 17) / 2.0) FROM generate_series(1, {SAMPLES}) i),
                'packetLossRecv', (SELECT jsonb_agg(((i + p.id) % 11) / 2.0) FROM generate_series(1, {SAMPLES}) i),
                'bitrateSend', (SELECT jsonb_agg(500000) FROM generate_series(1, {SAMPLES}) i),
                'bitrateRecv', (SELECT jsonb_agg(800000) FROM generate_series(1, {SAMPLES}) i)),
            'fraction', {SAMPLES}, 2.1, 8.0, 1.5, 5.0, 30, 'Chrome', '120', 'Linux', '', 'desktop'
        FROM insights_app_participant p WHERE p.id <= {DETAILED_PARTICIPANTS}
        """
    )
    load_runs()
    for model in (Room, RoomSession, Participant):
        _exec(f"ANALYZE {model._meta.db_table}")
    _exec("ANALYZE insights_app_participantdetail")


def load_runs() -> None:
    """A history of finished sync runs (one every 15 minutes for three weeks)."""
    now = app_now_sql()
    _exec("DELETE FROM insights_app_syncrun WHERE dedup_key LIKE 'bench-%'")
    count_columns = [f"{model}_{kind}" for model in SYNCED_MODELS for kind in COUNT_KINDS]
    _exec(
        f"""
        INSERT INTO insights_app_syncrun (kind, scope, dedup_key, details_policy, status, trigger, job_id,
            queued_at, started_at, finished_at, cancel_requested, api_requests, api_points, api_throttles,
            api_retries, api_bytes, skip_reasons, progress_done, progress_total, error, checkpoint,
            {", ".join(count_columns)})
        SELECT 'incremental', '{{}}'::jsonb, 'bench-' || g, 'recent',
            (ARRAY['succeeded','succeeded','succeeded','failed','partial','cancelled'])[1 + g % 6], 'schedule',
            'job-' || g, {now} - (g * 15 || ' minutes')::interval, {now} - (g * 15 || ' minutes')::interval,
            {now} - (g * 15 - 2 || ' minutes')::interval, false, 40, 80, 0, 0, 100000, '{{}}'::jsonb, 10, 10, '',
            '{{}}'::jsonb, {", ".join(["g % 50"] * len(count_columns))}
        FROM generate_series(1, {RUNS}) g
        """
    )
    _exec(f"ANALYZE {SyncRun._meta.db_table}")
