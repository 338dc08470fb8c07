"""The CELCAT Web API as this adapter reads it: every path, header, query parameter,
status code and JSON field name, in this one module.

CELCAT documents its Web API to customers only; what is here was read from public
clients, and some of it is assumed (marked ``[assumed]``). docs/celcat-webapi.md lists
both, section by section, and the comments here name its sections. Meeting a real server
that differs means changing this module, not the source.

Parsers turn one JSON object into a small typed record, or raise ``Malformed`` saying
what is wrong with it; nothing CELCAT-shaped leaves the adapter. They read only the
fields named here: a record may carry any others, in any order.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.http import AnswerRefused, parse_json

# Transport [seen] (docs/celcat-webapi.md, "Transport")
API_CODE_HEADER = "ApiCode"
TIMETABLE_HEADER = "TimetableId"
"""Sent on every call but ``GET /api/timetables``: required as soon as the server holds
more than one timetable, reference lists included."""
DETAIL, EXTENDED = "detail", "extended"
DATE, EVENT_ID = "date", "eventId"
STAFF_ID, STUDENT_ID, ROOM_ID, GROUP_ID = "staffId", "studentId", "roomId", "groupId"
DATE_FORMAT = "%Y-%m-%d"

CREDENTIALS_REFUSED = frozenset({401, 403})
"""[assumed] (docs/celcat-webapi.md, "Transport"): the statuses of a refused ApiCode. No
status is documented for it; these are HTTP's own."""

# Paging [seen] (docs/celcat-webapi.md, "Paging")
PAGE, PAGE_SIZE = "page", "pageSize"
PAGINATION_HEADER = "Pagination"
TOTAL_PAGES = "TotalPages"
NO_ROWS = 404
"""A 404 on a filtered list (the events of a day, an event's assignments) is an empty
list, not an error."""

# Resources [seen paths] (docs/celcat-webapi.md, "Resources")
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
WHOLE_LISTS = frozenset({TIMETABLES, CATEGORIES, STUDENTS, STAFF, ROOMS, GROUPS, MEMBERSHIPS})
"""The lists read without a filter. [assumed] (docs/celcat-webapi.md, "Paging"): only an
empty *filtered* list is seen to answer 404. A 404 on the first page of one of these
says the URL is wrong (a ``url`` one folder off) or the timetable named is gone: it
fails the call, for reading it as "no rows" would delete every sheet. A 404 on a later
page still ends the list."""


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
    """One occurrence of an event on one day (a row of the day's event list), times in the
    timetable's zone. Its session's id, with the timetable, is ``ids.SessionId``."""

    event_id: int
    name: str
    category_id: int | None
    start: datetime
    end: datetime
    suspended: bool


def total_pages(header: str | None) -> int | None:
    """Pages in a list, from the ``Pagination`` header; None if absent or unreadable
    (the header is not on every answer of every server: the client then reads on to an
    empty page)."""
    if not header:
        return None
    try:
        # Bounded like a body: a header nested 50,000 deep is no RecursionError.
        pages = parse_json(header).get(TOTAL_PAGES)
    except (ValueError, AttributeError, AnswerRefused):
        return None
    return pages if isinstance(pages, int) and not isinstance(pages, bool) and pages >= 0 else None


def parse_named(raw: Any) -> Named:
    """A timetable, category, room or group: ``id`` and ``name`` [seen] ("Records")."""
    record = _object(raw)
    return Named(id=_id(record, "id"), name=_text(record, "name"))


def parse_person(raw: Any) -> RawPerson:
    """A student or staff member [seen] ("Records"). ``email`` may be missing or null:
    the person is then read, and judged invalid by the rules, rather than dropped here."""
    record = _object(raw)
    return RawPerson(
        id=_id(record, "id"),
        name=_text(record, "name"),
        email=_optional_text(record, "email") or "",
        mobile=_optional_text(record, "mobileTelephone"),  # students' phone [seen]
    )


def parse_occurrence(raw: Any, timezone: ZoneInfo) -> Occurrence:
    """An item of ``GET /api/events?date=D&detail=extended``. [assumed field names]
    (docs/celcat-webapi.md, "Events"): ``id``, ``name``, ``start``, ``end`` required;
    ``eventCategoryId`` and ``suspended`` read when present."""
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
        suspended=_suspended(record.get("suspended")),
    )


def _suspended(value: Any) -> bool:
    """``suspended`` [assumed] ("Events"): a JSON boolean, or the string "true"/"false"
    (the API's query strings spell booleans so); absent or null is not suspended. Any
    other value cannot be read as "not suspended": a suspended course would sync."""
    if value is None or isinstance(value, bool):
        return value is True
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise Malformed(f"'suspended' is not a boolean: {value!r:.40}")


def parse_assignment(raw: Any, other: str) -> int:
    """The id an assignment points at: ``other`` is staffId, studentId, roomId or groupId
    [seen] ("Records")."""
    return _id(_object(raw), other)


def parse_membership(raw: Any) -> tuple[int, int]:
    """A group membership: (group id, student id) [seen] ("Records")."""
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
    """``date=yyyy-MM-dd`` of ``GET /api/events`` [seen] ("Resources")."""
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
    [assumed] ("Events"; no date-time format is documented at all). A value that carries
    an offset anyway is converted to the zone; fractional seconds are accepted."""
    text = _text(record, field)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Malformed(f"{field!r} is not a date-time: {text!r:.40}") from None
    if parsed.tzinfo is not None:
        return parsed.astimezone(timezone)
    return parsed.replace(tzinfo=timezone)


# CAWS, CELCAT Attendance Web Services: the return-attendance pipeline's write path for
# marks. Every path, form field, status code and JSON field name it uses is here; the
# comments name the section of docs/caws.md that says whether it is seen or assumed.
# The client (adapters/celcat/caws.py) reads only the fields named here: a record may
# carry any others, in any order, and they are sent back untouched.

# Token (docs/caws.md, "Token") [seen]
CAWS_TOKEN = "/token"
CAWS_GRANT_TYPE = "password"
CAWS_ACCESS_TOKEN = "access_token"
CAWS_AUTHORIZATION = "Authorization"
CAWS_EXPIRES_IN = "expires_in"
"""[assumed] ("Token"): the token's lifetime in seconds. A server may leave it out."""
CAWS_ASSUMED_LIFETIME = 300.0
"""[assumed] ("Token"): the lifetime taken when the answer states none readable. Short
on purpose: renewing a token every few minutes costs one call, while trusting a long one
that has expired costs a refused call (then renewed: see ``CAWS_UNAUTHORIZED``)."""
CAWS_TOKEN_REFUSED = frozenset({400, 401, 403})
"""[assumed] ("Token"): the statuses of a refused password grant. None is documented:
400 is OAuth 2's for a bad grant, 401 and 403 HTTP's own for a refusal."""
CAWS_UNAUTHORIZED = 401
"""[assumed] ("Token"): a bearer token the server no longer accepts. HTTP's status for
it; the client then asks for one new token, and only a second refusal is final."""

# Mark definitions (docs/caws.md, "Mark definitions") [seen]
CAWS_MARK_DEFINITIONS = "/MarkDefinitions"
CAWS_MARK_ID = "MarkId"
CAWS_ABBREVIATION = "Abbreviation"

# Registers (docs/caws.md, "Registers") [seen]
CAWS_REGISTERS = "/Registers"
CAWS_JSONPARAM = "jsonparam"
CAWS_EVENT_IDS, CAWS_WEEKS = "EventIds", "Weeks"
CAWS_EVENT_ID, CAWS_WEEK = "EventId", "Week"
CAWS_STUDENT_MARKS = "StudentMarks"
CAWS_MINS_LATE, CAWS_MODIFIED = "MinsLate", "Modified"
CAWS_NOT_FOUND = 404
"""An unknown register id [seen] ("Registers"); on ``GET Registers`` read as "none"."""
CAWS_MARK_STUDENT = "StudentId"
"""[assumed] ("Student marks"): the field of a ``StudentMarks`` entry naming its student.
The contract lists the fields a client edits, not this one."""
CAWS_MARK_SETTERS = ("Source", "UserId")
"""[assumed] ("Who set a mark"): the fields of a mark recording who set it. A mark is the
connector's when either holds its CAWS user name."""


def token_form(username: str, password: str, timetable: str, role: str) -> dict[str, str]:
    """The password grant, form-encoded by the client [seen] ("Token")."""
    return {
        "grant_type": CAWS_GRANT_TYPE,
        "username": username,
        "password": password,
        "Timetable": timetable,
        "Role": role,
    }


def bearer(token: str) -> dict[str, str]:
    """The header of every call but the token's [seen] ("Token")."""
    return {CAWS_AUTHORIZATION: f"Bearer {token}"}


def access_token(answer: Any) -> str | None:
    """The token of a grant's answer [seen] ("Token"); None when it holds none."""
    token = answer.get(CAWS_ACCESS_TOKEN) if isinstance(answer, dict) else None
    return token if isinstance(token, str) and token else None


def token_lifetime(answer: Any) -> float:
    """Seconds the token lives, from ``expires_in`` [assumed] ("Token"): a number, or a
    string holding one; ``CAWS_ASSUMED_LIFETIME`` when absent, unreadable or not positive."""
    value = answer.get(CAWS_EXPIRES_IN) if isinstance(answer, dict) else None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return CAWS_ASSUMED_LIFETIME
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return CAWS_ASSUMED_LIFETIME
    return min(float(value), 366 * 86400.0)  # also refuses infinity


def mark_definitions(raw: Any) -> list[tuple[int, str]]:
    """(``MarkId``, ``Abbreviation``) of each readable definition [seen] ("Mark
    definitions"), in the server's order; the others are not marks a client can set."""
    found: list[tuple[int, str]] = []
    for definition in raw if isinstance(raw, list) else []:
        if not isinstance(definition, dict):
            continue
        mark_id, abbreviation = definition.get(CAWS_MARK_ID), definition.get(CAWS_ABBREVIATION)
        if (
            isinstance(mark_id, int)
            and not isinstance(mark_id, bool)
            and isinstance(abbreviation, str)
        ):
            found.append((mark_id, abbreviation))
    return found


def register_filter(event_ids: list[int], weeks: list[int]) -> str:
    """``jsonparam`` of ``GET Registers`` [seen] ("Registers"): the registers of any of
    these events in any of these weeks (the client picks out the pairs it wants). Compact:
    no space for a "+" or a "%20" to stand for in the query string."""
    return json.dumps(
        {CAWS_EVENT_IDS: sorted(set(event_ids)), CAWS_WEEKS: sorted(set(weeks))},
        separators=(",", ":"),
    )


def register_id(event_id: int, week: int) -> str:
    """The id of ``PUT Registers/{id}`` [seen] ("Register ids"): the event id followed by
    (week + 1) as two digits. A register as read carries no id of its own.

    ValueError for a week whose id would not have two digits (0..98 do)."""
    if not 0 <= week <= 98 or event_id < 0:
        raise ValueError(f"event {event_id}, week {week}: no register id (week + 1 in 1..99)")
    return f"{event_id}{week + 1:02d}"


def register_path(register_id: str) -> str:
    return f"{CAWS_REGISTERS}/{register_id}"


def register_key(register: Any) -> tuple[int, int] | None:
    """(event id, week) of a register [seen] ("Registers"); None when it names none."""
    if not isinstance(register, dict):
        return None
    event, week = register.get(CAWS_EVENT_ID), register.get(CAWS_WEEK)
    if isinstance(event, bool) or isinstance(week, bool):
        return None
    return (event, week) if isinstance(event, int) and isinstance(week, int) else None


def student_marks(register: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A register's ``StudentMarks`` entries by student id (as text), [assumed] field
    ``CAWS_MARK_STUDENT`` ("Student marks"). Entries are the register's own objects:
    editing one edits the register that is sent back."""
    entries = register.get(CAWS_STUDENT_MARKS)
    found: dict[str, dict[str, Any]] = {}
    for entry in entries if isinstance(entries, list) else []:
        student = entry.get(CAWS_MARK_STUDENT) if isinstance(entry, dict) else None
        if isinstance(student, int | str) and not isinstance(student, bool):
            found[str(student).strip()] = entry
    return found


def set_mark(entry: dict[str, Any], mark_id: int, minutes_late: int) -> None:
    """Edit one student's mark in a register read from CAWS, flagged for the PUT [seen]
    ("Registers": ``MarkId``, ``MinsLate``, ``Modified: true``)."""
    entry.update({CAWS_MARK_ID: mark_id, CAWS_MINS_LATE: minutes_late, CAWS_MODIFIED: True})


def someone_elses_mark(entry: dict[str, Any], username: str) -> str | None:
    """Who set this mark, when it is set and not by ``username``; None when it is unset or
    the connector's own. [assumed] ("Who set a mark"): a set mark that records no setter
    at all is someone else's too: the connector never overwrites a mark it cannot prove
    is its own."""
    if entry.get(CAWS_MARK_ID) is None:
        return None
    recorded = [
        str(entry[name]).strip()
        for name in CAWS_MARK_SETTERS
        if entry.get(name) is not None and str(entry[name]).strip()
    ]
    if any(who.casefold() == username.casefold() for who in recorded):
        return None
    return " / ".join(recorded) or "an unrecorded user"


def occurrence_week(raw: Any) -> int | None:
    """The timetable's week number of an occurrence, from the Web API's
    ``GET /api/events?date=`` (``week``), taken as the register's ``Week``. [assumed]
    (docs/caws.md, "Weeks")"""
    value = raw.get("week") if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
