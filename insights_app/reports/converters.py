"""A URL converter for external ids, which may hold any character including ``/``, ``..`` and newlines."""

from __future__ import annotations

import re

# "~" escapes the characters a browser or proxy would act on before Django sees the path: "/" would
# add segments, and a "." or ".." segment (even percent-encoded) is resolved away by the browser.
_DECODE = re.compile(r"~(7E|2F|2E)", re.IGNORECASE)


def encode_external_id(value: str) -> str:
    """The id as one path segment that no browser normalises; ``decode_external_id`` reverses it."""
    text = value.replace("~", "~7E").replace("/", "~2F")
    if text.strip(".") == "":
        text = text.replace(".", "~2E")
    return text


def decode_external_id(value: str) -> str:
    """The id ``encode_external_id`` was given."""
    return _DECODE.sub(lambda m: chr(int(m.group(1), 16)), value)


class ExternalIdConverter:
    """Matches any text (newlines too); ``reverse`` encodes it with ``encode_external_id`` and quotes it."""

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        """The id as given; one with a NUL (which no database row can hold) matches no URL (404)."""
        decoded = decode_external_id(value)
        if "\x00" in decoded:
            raise ValueError("NUL in an external id")
        return decoded

    def to_url(self, value: str) -> str:
        """The id encoded as one segment; Django percent-encodes the rest."""
        return encode_external_id(value)
