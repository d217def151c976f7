"""Typed errors of the Whereby client; messages name the endpoint and never carry the API key."""

from __future__ import annotations


class Interrupted(Exception):
    """The caller asked the client to stop waiting (a sync run was cancelled)."""


class WherebyError(Exception):
    """Anything that went wrong talking to the Whereby API."""

    def __init__(self, message: str, *, endpoint: str = "") -> None:
        super().__init__(message)
        self.endpoint = endpoint


class ConfigurationError(WherebyError):
    """The client cannot be built from the settings (e.g. no API key)."""


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


class PermissionDenied(ApiError):
    """403: the key may not read insights."""


class NotFound(ApiError):
    """404: no such resource."""


class RateLimited(ApiError):
    """429 kept coming after we waited as told, more often than the retry limit allows."""


class ServerError(ApiError):
    """5xx kept coming after bounded retries."""
