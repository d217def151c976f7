"""Make untrusted text safe to store in messages and print on a terminal: no control characters."""

from __future__ import annotations

import re
import unicodedata

# ESC-introduced sequences a terminal acts on: CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or
# ESC \), DCS/SOS/PM/APC strings, and two-character escapes. C1 forms (U+009B CSI, U+009D OSC) too.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, clear screen
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)"  # OSC and other strings
    r"|\x1b[@-Z\\-_]",  # any other two-character escape
    re.DOTALL,
)
# Format characters that reorder or hide text on screen (bidi overrides, isolates, zero-width).
_INVISIBLE_FORMAT = {"\u200b", "\u200e", "\u200f", "\u2028", "\u2029", "\u2060", "\ufeff"} | {
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
}


def printable(text: object, limit: int | None = None) -> str:
    """``text`` on one line without escape sequences or control characters, cut to ``limit``."""
    value = text if isinstance(text, str) else str(text)
    if value.isprintable() and limit is None:
        return value
    value = _ESCAPE_SEQUENCE.sub("", value)
    cleaned = "".join(
        " " if ch in "\t\n\r\x0b\x0c" else ch
        for ch in value
        if ch in "\t\n\r\x0b\x0c"
        or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in _INVISIBLE_FORMAT)
    )
    cleaned = " ".join(cleaned.split())
    if limit is not None and len(cleaned) > limit:
        return cleaned[: max(0, limit - 1)] + "…"
    return cleaned


def isolated(text: str) -> str:
    """``text`` between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE, for plain-text places (a page
    title, a sentence) where ``<bdi>`` cannot go: a right-to-left override in a name then reorders
    only the name, never the words around it."""
    return f"\u2068{text}\u2069"
