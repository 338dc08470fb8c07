"""The CELCAT Web API as this adapter reads it: every path, header, query parameter and
JSON field name, in this one module.

CELCAT documents its Web API to customers only; what is here was read from public
clients, and some of it is assumed (marked ``[assumed]``, as in the contract). Meeting a
real server that differs means changing this module, not the source.

Parsers turn one JSON object into a small typed record, or raise ``Malformed`` saying
what is wrong with it; nothing CELCAT-shaped leaves the adapter.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

# Transport [seen]
API_CODE_HEADER = "ApiCode"
TIMETABLE_HEADER = "TimetableId"
PAGINATION_HEADER = "Pagination"
TOTAL_PAGES = "TotalPages"
PAGE, PAGE_SIZE = "page", "pageSize"
DETAIL, EXTENDED = "detail", "extended"
DATE, EVENT_ID = "date", "eventId"
STAFF_ID, STUDENT_ID, ROOM_ID, GROUP_ID = "staffId", "studentId", "roomId", "groupId"
DATE_FORMAT = "%Y-%m-%d"

# Resources [seen paths]
TIMETABLES = "/api/timetables"
CATEGORIES = "/api/event-categories"
EVENTS = "/api/events"
STAFF_ASSIGNMENTS = "/api/staff-assignments"
STUDENT_ASSIGNMENTS = "/api/student-assignments"
ROOM_ASSIGNMENTS = "/api/room-assignments"
GROUP_ASSIGNMENTS = "/api/group-assignments"
STUDENTS = "/api/students"
STAFF = "/api/staff"
ROOMS = "/api/rooms"
GROUPS = "/api/groups"
MEMBERSHIPS = "/api/student-membership"


class Malformed(ValueError):
    """A record this adapter cannot read; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Named:
    """A timetable, a category, a room or a group: an id and a name."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class RawPerson:
    """A student or a staff member, their combined ``name`` not yet split."""

    id: int
    name: str
    email: str
    mobile: str | None


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence of an event on one day, times in the timetable's zone."""

    event_id: int
    name: str
    category_id: int | None
    start: datetime
    end: datetime
    suspended: bool


def total_pages(header: str | None) -> int | None:
    """Pages in a list, from the ``Pagination`` header; None if absent or unreadable."""
    if not header:
        return None
    try:
        pages = json.loads(header).get(TOTAL_PAGES)
    except (ValueError, AttributeError):
        return None
    return pages if isinstance(pages, int) and not isinstance(pages, bool) and pages >= 0 else None


def parse_named(raw: Any) -> Named:
    record = _object(raw)
    return Named(id=_id(record, "id"), name=_text(record, "name"))


def parse_person(raw: Any) -> RawPerson:
    record = _object(raw)
    return RawPerson(
        id=_id(record, "id"),
        name=_text(record, "name"),
        email=_optional_text(record, "email") or "",
        mobile=_optional_text(record, "mobileTelephone"),  # students' phone [seen]
    )


def parse_occurrence(raw: Any, timezone: ZoneInfo) -> Occurrence:
    """An item of ``GET /api/events?date=D&detail=extended``. [assumed field names]"""
    record = _object(raw)
    start = _local_datetime(record, "start", timezone)
    end = _local_datetime(record, "end", timezone)
    if end <= start:
        raise Malformed(f"'end' {end:%H:%M} is not after 'start' {start:%H:%M}")
    category = record.get("eventCategoryId")
    return Occurrence(
        event_id=_id(record, "id"),
        name=_text(record, "name"),
        category_id=category
        if isinstance(category, int) and not isinstance(category, bool)
        else None,
        start=start,
        end=end,
        suspended=record.get("suspended") is True,
    )


def parse_assignment(raw: Any, other: str) -> int:
    """The id an assignment points at: ``other`` is staffId, studentId, roomId or groupId."""
    return _id(_object(raw), other)


def parse_membership(raw: Any) -> tuple[int, int]:
    """A group membership: (group id, student id)."""
    record = _object(raw)
    return _id(record, GROUP_ID), _id(record, STUDENT_ID)


def event_id_of(raw: Any) -> int | None:
    """The event id of a record too broken to parse, for the report, if it has one."""
    if isinstance(raw, dict):
        value = raw.get("id")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def day_param(day: date) -> str:
    return day.strftime(DATE_FORMAT)


def _object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise Malformed(f"expected an object, got {type(raw).__name__}")
    return raw


def _id(record: dict[str, Any], field: str) -> int:
    value = record.get(field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed(f"{field!r} is not an integer id: {value!r:.40}")
    return value


MAX_TEXT = 500
"""Longer than any name or title a timetable holds: such a field is broken, not a name."""


def _text(record: dict[str, Any], field: str) -> str:
    value = record.get(field)
    if not isinstance(value, str):
        raise Malformed(f"{field!r} is not text: {value!r:.40}")
    if len(value) > MAX_TEXT:
        raise Malformed(f"{field!r} is {len(value)} characters long")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in value):
        raise Malformed(f"{field!r} holds control characters: {value!r:.60}")
    return value


def _optional_text(record: dict[str, Any], field: str) -> str | None:
    value = record.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Malformed(f"{field!r} is not text: {value!r:.40}")
    return value.strip() or None


def _local_datetime(record: dict[str, Any], field: str, timezone: ZoneInfo) -> datetime:
    """A local date-time without offset (``yyyy-MM-ddTHH:mm:ss``) in the timetable's zone.
    [assumed] A value that carries an offset anyway is converted to the zone."""
    text = _text(record, field)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Malformed(f"{field!r} is not a date-time: {text!r:.40}") from None
    if parsed.tzinfo is not None:
        return parsed.astimezone(timezone)
    return parsed.replace(tzinfo=timezone)


# CAWS, CELCAT Attendance Web Services [seen], for marks.
CAWS_TOKEN = "/token"
CAWS_MARK_DEFINITIONS = "/MarkDefinitions"
CAWS_REGISTERS = "/Registers"
CAWS_JSONPARAM = "jsonparam"
CAWS_STUDENT_MARKS = "StudentMarks"


def token_form(username: str, password: str, timetable: str, role: str) -> dict[str, str]:
    return {
        "grant_type": "password",
        "username": username,
        "password": password,
        "Timetable": timetable,
        "Role": role,
    }


def register_filter(event_ids: list[int], weeks: list[int]) -> str:
    return json.dumps({"EventIds": sorted(event_ids), "Weeks": sorted(weeks)})


def register_path(register_id: str) -> str:
    return f"{CAWS_REGISTERS}/{register_id}"


def register_key(register: dict[str, Any]) -> tuple[int, int]:
    """(event id, week) of a register."""
    return _id(register, "EventId"), _id(register, "Week")


def set_mark(entry: dict[str, Any], mark_id: int, minutes_late: int) -> None:
    """Edit one student's mark in a register read from CAWS, flagged for the PUT."""
    entry.update({"MarkId": mark_id, "MinsLate": minutes_late, "Modified": True})


def mark_setter(entry: dict[str, Any]) -> str | None:
    """Who set this mark in CELCAT, if anyone. [assumed from the mark fields]"""
    if entry.get("MarkId") is None:
        return None
    who = entry.get("Source") or entry.get("UserId")
    return str(who) if who else None


def occurrence_week(raw: Any) -> int | None:
    """The timetable's week number of an occurrence (``week``). [assumed field name]"""
    value = raw.get("week") if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
