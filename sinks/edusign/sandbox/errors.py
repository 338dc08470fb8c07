"""The two ways the Edusign API says no, as exceptions the routes turn into envelopes.

Edusign answers a business error (a duplicate email, an unknown id) with HTTP 200 and
``status: error``: the contract warns that a client must read ``status`` even on 200, so the
sandbox does the same, and a client that trusts the HTTP status fails its tests here.
A request missing mandatory fields is HTTP 400 with a list of messages.
"""

from __future__ import annotations


class ApiError(ValueError):
    """An answer ``{"status": "error", "message": message}`` with HTTP ``status``.

    A ``ValueError``: the test helpers of ``School`` raise it too (a hand-made record is
    refused for the same reasons as one sent through the API)."""

    def __init__(self, message: str | list[str], status: int = 200) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def invalid(*problems: str) -> ApiError:
    """A validation error: HTTP 400, every problem listed."""
    return ApiError(list(problems), 400)
