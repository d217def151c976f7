"""Stable pseudonyms and criterion hashes: keyed HMACs with a site-specific key, never reversible."""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

from django.conf import settings as django_settings
from django.utils.crypto import salted_hmac

from ..conf import get_settings

PREFIX = "anon-"
# 24 hex digits (96 bits): collisions among a site's people are negligible, and it fits every column.
DIGITS = 24
_PSEUDONYM = re.compile(rf"^{PREFIX}[0-9a-f]{{{DIGITS}}}$")
# Purpose strings: the same key never yields the same digest for two different uses.
PSEUDONYM_PURPOSE = "insights_app.privacy.pseudonym"
CRITERION_PURPOSE = "insights_app.privacy.criterion"


def _secret() -> str:
    """``PSEUDONYM_KEY`` when set, else the site's ``SECRET_KEY`` (salted with a purpose string)."""
    return str(get_settings().PSEUDONYM_KEY or django_settings.SECRET_KEY)


def is_pseudonym(value: object) -> bool:
    """True for a string this module produced (so pseudonymising twice changes nothing)."""
    return isinstance(value, str) and bool(_PSEUDONYM.match(value))


def pseudonym(value: str) -> str:
    """The stable pseudonym of ``value``: equal values give equal pseudonyms, so grouping still works."""
    if is_pseudonym(value):
        return value
    # Django's salted_hmac(PSEUDONYM_PURPOSE, value, secret, "sha256"), with its key derived once per
    # secret: a full sync computes one pseudonym per connection.
    mac = _keyed(PSEUDONYM_PURPOSE, _secret()).copy()
    mac.update(value.encode())
    return PREFIX + mac.hexdigest()[:DIGITS]


@lru_cache(maxsize=8)
def _keyed(purpose: str, secret: str) -> hmac.HMAC:
    """An HMAC-SHA256 keyed as ``salted_hmac`` keys it (sha256 of purpose + secret), to be copied."""
    return hmac.new(hashlib.sha256((purpose + secret).encode()).digest(), digestmod=hashlib.sha256)


def maybe_pseudonym(value: object) -> object:
    """``pseudonym(value)`` for a non-empty string; None, empty strings and other types pass through."""
    if isinstance(value, str) and value:
        return pseudonym(value)
    return value


def criterion_hash(kind: str, value: str) -> str:
    """The keyed hash recorded in tombstones and the audit for an erasure criterion (never the value)."""
    message = f"{kind}\x00{value}"
    return salted_hmac(CRITERION_PURPOSE, message, secret=_secret(), algorithm="sha256").hexdigest()
