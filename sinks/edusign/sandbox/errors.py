"""The ways the Edusign API says no, as exceptions the routes turn into envelopes.

Edusign answers a business error (a duplicate email, an unknown id) with HTTP 200 and
``status: error``: the contract warns that a client must read ``status`` even on 200, so the
sandbox does the same, and a client that trusts the HTTP status fails its tests here.
A request missing mandatory fields is HTTP 400 with a list of messages (the contract allows
a list; which status goes with it, it does not say).

Wording. The contract quotes four messages, each on its own call: ``Professor already
exists in this school`` (POST professor), ``Student already in the list`` (PUT attendance),
``Course already locked`` (lock) and ``No course with this ID found`` (GET course by id).
Those are said word for word (``quoted``). Every other message is the server's choice, so
the sandbox says it the least convenient way its ``Quirks`` allow: one of several
wordings (``wordings``), picked by seed and message (so that resources differ, as the
contract warns get-id's do), then reworded (case, prefix, suffix). ``Quirks(None)`` says
the first wording as it is. The helpers below hold each message and its other wordings;
none of those contains a quoted message, so a client matching the quoted words is never
fooled.
"""

from __future__ import annotations

from core.sandbox import Quirks


class ApiError(ValueError):
    """An answer ``{"status": "error", "message": ...}`` with HTTP ``status``.

    A ``ValueError``: the test helpers of ``School`` raise it too (a hand-made record is
    refused for the same reasons as one sent through the API)."""

    def __init__(
        self,
        message: str | list[str],
        status: int = 200,
        *,
        quoted: bool = False,
        wordings: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.quoted = quoted
        self.wordings = wordings

    def said(self, quirks: Quirks) -> str | list[str]:
        """The message as the server words it under ``quirks``."""
        if self.quoted:
            return self.message
        if isinstance(self.message, list):
            return [quirks.reword(problem) for problem in self.message]
        chosen = quirks.order((self.message, *self.wordings), "wording", self.message)[0]
        return quirks.reword(chosen)


def invalid(*problems: str) -> ApiError:
    """A validation error: HTTP 400, every problem listed."""
    return ApiError(list(problems), 400)


def unknown(kind: str, by: str = "ID", *, quoted: bool = False) -> ApiError:
    """No ``kind`` with this ``by`` (``ID``, ``API_ID``, ``email``). Quoted only for a
    course by id on ``GET /v1/course/{id}``."""
    name = kind.capitalize()
    return ApiError(
        f"No {kind} with this {by} found",
        quoted=quoted,
        wordings=(
            f"No {kind} found with this {by}",
            f"{name} not found",
            f"Unknown {by}",
            f"This {kind} does not exist",
            "Resource not found",
        ),
    )


def email_taken(kind: str) -> ApiError:
    """A second student with an email (the professors' message is quoted: see people)."""
    return ApiError(
        f"{kind.capitalize()} already exists in this school",
        wordings=(
            f"A {kind} with this email already exists",
            "Email already used",
            "This email address is already taken",
        ),
    )


def email_of_another(kind: str) -> ApiError:
    """An update giving a person another person's email."""
    return ApiError(
        f"Another {kind} already has this email",
        wordings=("Email already used", "This email address is already taken"),
    )


def not_on_sheet() -> ApiError:
    return ApiError(
        "Student not in the list",
        wordings=(
            "This student is not on this course",
            "Unknown attendee",
            "Student is not registered to this course",
        ),
    )


def frozen() -> ApiError:
    """A write to a locked course."""
    return ApiError(
        "Course is locked",
        wordings=("This course can no longer be modified", "Locked course", "Forbidden"),
    )


def bad_range(message: str) -> ApiError:
    """A course listing's ``start``..``end`` refused."""
    return ApiError(message, wordings=("Invalid date range", "Invalid period"))
