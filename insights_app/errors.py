"""The app's errors, under one root; messages name the endpoint and never carry the API key."""

from __future__ import annotations

from .conf import get_settings
from .display.safetext import printable

MASK = "********"
MAX_MESSAGE = 500


class InsightsError(Exception):
    """Root of every error the app raises on purpose.

    ``retryable`` says whether running the same work again later may succeed (an outage, a
    malformed page); a job whose run failed on a retryable error is retried by its job runner.
    """

    retryable = False


class Interrupted(InsightsError):
    """The caller asked the client to stop waiting (a sync run was cancelled)."""


class WherebyError(InsightsError):
    """Anything that went wrong talking to the Whereby API."""

    retryable = True

    def __init__(self, message: str, *, endpoint: str = "") -> None:
        super().__init__(message)
        self.endpoint = endpoint


class ConfigurationError(WherebyError):
    """The client cannot be built from the settings (e.g. no API key)."""

    retryable = False


class TransportError(WherebyError):
    """The connection failed or timed out, even after retries."""


class MalformedResponse(WherebyError):
    """The API answered 200 with a body that is not JSON or not of the documented shape."""


class PaginationError(MalformedResponse):
    """The API's cursors would loop forever (a repeated cursor, or more pages than the cap)."""


class ApiError(WherebyError):
    """The API answered with an error status."""

    def __init__(self, message: str, *, endpoint: str = "", status: int = 0, body_excerpt: str = "") -> None:
        super().__init__(message, endpoint=endpoint)
        self.status = status
        self.body_excerpt = body_excerpt


class AuthenticationError(ApiError):
    """401: the API key is missing, wrong or revoked."""

    retryable = False


class AccessForbidden(ApiError):
    """403: the key may not read insights (named apart from Django's PermissionDenied)."""

    retryable = False


class NotFound(ApiError):
    """404: no such resource."""


class RateLimited(ApiError):
    """429 kept coming after we waited as told, more often than the retry limit allows."""


class ServerError(ApiError):
    """5xx kept coming after bounded retries."""


# After these no further call can succeed, so they end the run instead of being skipped.
FATAL_ERRORS = (AuthenticationError, AccessForbidden, ConfigurationError)
# An outage, not a bad item: skipping one item after another would grind through every pending
# call; ending the run lets the job runner's retry try again later (and resume from what is stored).
OUTAGE_ERRORS = (ServerError, TransportError, RateLimited)


def redact(text: str, secret: str | None = None) -> str:
    """``text`` with the API key (or ``secret``) masked: as given, stripped, and as repr() escapes it."""
    key = get_settings().API_KEY if secret is None else secret
    if isinstance(key, str) and key.strip():
        # A key with a newline shows as "\\n" in a repr()-formatted message.
        for variant in sorted({key, key.strip(), repr(key)[1:-1]}, key=len, reverse=True):
            if variant:
                text = text.replace(variant, MASK)
    return text


def safe_error(exc: BaseException) -> str:
    """A short, single-line error for staff, with the API key removed whatever produced the text."""
    text = str(exc) if isinstance(exc, WherebyError) else f"{type(exc).__name__}: {exc}"
    # API error bodies end up here: no terminal escapes or control characters in what staff see.
    return printable(redact(text), limit=MAX_MESSAGE)
