"""Fuzzing the URL parameters of every report, admin and presence page (issue 26): never a 5xx.

Any query string (any bytes, percent-encoded: invalid UTF-8 and NUL too), any path id: the page
answers, redirects, or says what is wrong (4xx). Run on SQLite and on PostgreSQL (``DATABASE_URL``).
"""

from __future__ import annotations

from urllib.parse import quote, quote_from_bytes

import pytest
from django.test import Client
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from insights_app.reports.filters import PARAMS
from tests.helpers.admin_data import make_data
from tests.helpers.webhooks import SECRET

pytestmark = pytest.mark.django_db

FIXTURES_OK = hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

# Parameters the pages read (reports, Django's changelists, our date drill-down, presence), and any.
KNOWN_KEYS = [
    *PARAMS, "sort", "page", "csv", "o", "p", "q", "e", "all", "_popup", "_to_field",
    "joined_at__year", "joined_at__month", "joined_at__day", "started_at__year", "started_at__month",
    "last_session_started_at__year", "received_at__gte", "received_at__lt", "outcome__exact",
    "type__exact", "status__exact", "kind__exact", "quality_degraded__exact", "room__id__exact",
]  # fmt: skip
text_value = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "9999-12-31",
            "0001-01-01",
            "2100-01-01",
            "1e999",
            "-1",
            str(10**30),
            "NaN",
            "",
            " ",
            "custom",
            "minutes",
            "-started",
            "\u202e",
            "' OR 1=1 --",
            "<script>",
        ]
    ),
)
encoded_value = st.one_of(
    text_value.map(lambda text: quote(text.encode("utf-8", "surrogatepass"), safe="")),
    st.binary(max_size=30).map(lambda raw: quote_from_bytes(raw, safe="")),  # invalid UTF-8, NUL
)
encoded_key = st.one_of(st.sampled_from(KNOWN_KEYS), encoded_value)
query_strings = st.lists(st.tuples(encoded_key, encoded_value), max_size=6).map(
    lambda pairs: "&".join(f"{key}={value}" for key, value in pairs)
)
# "real" is replaced by the pk of a stored row, so the page itself is reached too.
path_ids = st.one_of(
    st.just("real"),
    st.just("real"),
    st.integers(min_value=0, max_value=10**30).map(str),
    st.sampled_from(["0", "2147483648", "9223372036854775808"]),
)

PAGES = [
    "/insights/",
    "/insights/rooms/{id}/",
    "/insights/sessions/{id}/",
    "/insights/connections/{id}/quality/",
    "/insights/quality/",
    "/insights/people/",
    "/insights/people/{text}/",
    "/insights/webhooks/presence/",
    "/admin/insights_app/syncrun/dashboard/",
    "/admin/insights_app/room/",
    "/admin/insights_app/roomsession/",
    "/admin/insights_app/participant/",
    "/admin/insights_app/syncrun/",
    "/admin/insights_app/webhookevent/",
    "/admin/insights_app/alert/",
    "/admin/insights_app/room/{id}/change/",
    "/admin/insights_app/participant/{id}/change/",
]


@pytest.fixture
def superuser_client(settings, django_user_model, redis_conn) -> Client:
    settings.WHEREBY_INSIGHTS = {**settings.WHEREBY_INSIGHTS, "WEBHOOK_SECRET": SECRET}
    data = make_data(rooms=2, sessions_per_room=2, participants_per_session=2)
    user = django_user_model.objects.create_superuser("root", password="pw-12345678")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    client.real_ids = {  # type: ignore[attr-defined]
        "room": data.rooms[0].pk,
        "session": data.sessions[0].pk,
        "participant": data.participants[0].pk,
    }
    return client


REAL_IDS = {
    "/insights/rooms/": "room",
    "/insights/sessions/": "session",
    "/insights/connections/": "participant",
    "/admin/insights_app/room/": "room",
    "/admin/insights_app/participant/": "participant",
}


@pytest.mark.parametrize("page", PAGES)
@FIXTURES_OK
@given(object_id=path_ids, text=st.one_of(st.just("real"), encoded_value.filter(bool)), query=query_strings)
def test_any_url_parameters_answer_without_a_server_error(superuser_client, page, object_id, text, query):
    if object_id == "real":
        kind = next((kind for prefix, kind in REAL_IDS.items() if page.startswith(prefix)), None)
        object_id = str(superuser_client.real_ids[kind]) if kind else "1"
    if "{text}" in page and text == "real":
        text = "ext-0"
    url = page.format(id=object_id, text=text) + (f"?{query}" if query else "")
    response = superuser_client.get(url)
    event(f"{page}: {response.status_code}")
    assert response.status_code < 500, (url, response.status_code)
