"""The API-to-column mapping is read from the models: each column declared once, with its API field."""

from __future__ import annotations

import pytest

from insights_app.models import Participant, ParticipantDetail, Room, RoomSession
from insights_app.simulator import schemas
from insights_app.sync import items

# (item schema, model, mapping, API fields stored otherwise than as a column of the same name)
ITEMS = (
    (schemas.ROOM, Room, items.ROOM_FIELDS, set()),
    (schemas.ROOM_SESSION, RoomSession, items.SESSION_FIELDS, set()),
    (schemas.PARTICIPANT, Participant, items.PARTICIPANT_FIELDS, set()),
    (schemas.DETAIL, ParticipantDetail, items.DETAIL_FIELDS, {"samples"}),  # normalised to percent
)


@pytest.mark.parametrize(
    ("schema", "model", "mapping", "elsewhere"), ITEMS, ids=[model.__name__ for _, model, _, _ in ITEMS]
)
def test_every_api_field_of_an_item_is_a_column_marked_from_api(schema, model, mapping, elsewhere):
    assert {api for api, _, _ in mapping} == set(schema["properties"]) - elsewhere
    assert items.api_fields(model) == mapping
    columns = {f.attname for f in model._meta.concrete_fields}
    assert {column for _, column, _ in mapping} <= columns


def test_kinds_and_lengths_follow_the_model_fields():
    assert ("roomName", "room_name", "id") in items.ROOM_FIELDS
    assert ("roomName", "room_name", "str") in items.SESSION_FIELDS
    assert ("roomSessionId", "room_session_id", "id") in items.PARTICIPANT_FIELDS
    assert ("timeStamp", "time_stamp", "datetime") in items.DETAIL_FIELDS
    assert ("tags", "tags", "json") in items.PARTICIPANT_FIELDS
    assert items.MAX_LENGTHS["room_name"] == Room._meta.get_field("room_name").max_length
    assert items.MAX_LENGTHS["role_name"] == Participant._meta.get_field("role_name").max_length
    # Free text has no column length: it is cut by TEXT_LIMITS instead.
    assert "display_name" not in items.MAX_LENGTHS
