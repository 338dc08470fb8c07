"""Dates as the contract has them: ISO 8601 with an offset or ``Z`` in, UTC out.

Records keep a date as the client sent it (so a test can see what was sent); answers give
it in UTC with milliseconds, ``2025-10-21T07:00:00.000Z``, as Edusign does. A date without
an offset is refused: its meaning would depend on the server's time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime


def parse(value: object) -> datetime | None:
    """The instant ``value`` names, or None when it is not an ISO 8601 date-time with an
    offset (or ``Z``)."""
    if not isinstance(value, str):
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return None
    return instant if instant.utcoffset() is not None else None


def instant(text: str) -> datetime:
    """The instant of a date already checked by ``parse`` (a stored one)."""
    found = parse(text)
    if found is None:
        raise ValueError(f"not an ISO 8601 date-time with an offset: {text!r}")
    return found


def utc(text: str) -> str:
    """``text`` as Edusign answers it: UTC, milliseconds, ``Z``."""
    moment = instant(text).astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
