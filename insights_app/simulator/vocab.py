"""Words the generator draws from: names, roles, user agents, and deliberately hostile text."""

from __future__ import annotations

FIRST_NAMES = (
    "Ada", "Bjørn", "Chloé", "Dmitri", "Emeka", "Fatima", "Goran", "Hana", "Ines", "Jonas",
    "Kenji", "Leila", "Mateo", "Nora", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tomás",
    "Uma", "Viktor", "Wen", "Xavier", "Yara", "Zainab", "Ingrid", "Åsa", "Liam", "Mei",
)  # fmt: skip
LAST_NAMES = (
    "Andersen", "Baptiste", "Chen", "Dubois", "Eriksen", "Fernández", "García", "Haugen",
    "Ito", "Johansson", "Kowalski", "López", "Müller", "Nakamura", "O'Brien", "Petrov",
    "Quinn", "Rossi", "Singh", "Takahashi", "Usman", "Vega", "Wójcik", "Xu", "Yilmaz", "Zhou",
)  # fmt: skip

# User-typed text that must be escaped everywhere it is shown or exported.
HOSTILE_NAMES = (
    "<script>alert(1)</script>",
    "\"quotes' & <b>bold</b>",
    "Zoë 🚀👩‍💻 Ünïcødé",
    ("Extremely long display name " * 11)[:300],
    "=cmd|' /C calc'!A0",
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "-2+3+cmd|' /C calc'!A0",
    "<img src=x onerror=alert(2)>",
    "Robert'); DROP TABLE participants;--",
    "\u202eevil\u202c rtl",
    "line\nbreak\ttab",
)
REDACTED = "[[redacted]]"

ROOM_PREFIXES = (
    "team-standup", "sales", "support", "all-hands", "design-review", "onboarding", "clinic",
    "class", "interview", "board", "coaching", "webinar", "helpdesk", "retro", "consult",
)  # fmt: skip
# Room names a customer typed; they test URL encoding of '&', '+', '=' and non-ASCII.
HOSTILE_ROOM_PREFIXES = ("q&a+sales=1", "café-über", "100%-sure")

HOST_ROLES = (("owner", 4), ("host", 6))
GUEST_ROLES = (
    ("member", 30),
    ("visitor", 30),
    ("granted_visitor", 15),
    ("viewer", 8),
    ("granted_viewer", 7),
    ("captioner", 2),
)
RECORDER = "recorder"
STREAMER = "streamer"
BOT_ROLES = frozenset({RECORDER, STREAMER})
SEND_NOTHING_ROLES = frozenset({"viewer", "granted_viewer", RECORDER, "captioner"})

USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
)
BOT_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36"

RATING_TAGS = ("audio-quality", "video-quality", "connection", "screen-share", "echo")
RATING_COMMENTS = (
    "Great call quality!",
    "Audio kept dropping",
    "<i>laggy</i> & choppy video",
    "Could not share my screen",
    '=HYPERLINK("http://example.invalid","click")',
)

# Home time zones of rooms (hours from UTC): office-hour peaks land at different UTC hours.
TIME_ZONES = (-8, -5, 0, 1, 2, 5.5, 9)
EVENT_TYPES = ("camera_muted", "camera_unmuted", "mic_muted", "mic_unmuted", "screenshare_started")
