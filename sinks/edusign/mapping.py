"""The Edusign external API v1 as this sink writes it: every path, field name, page size
and message it relies on, in this one module.

Edusign publishes no machine-readable spec for v1; docs/edusign-v1.md says what this
connector codes against, which points were seen in public clients and which are assumed,
and where each lives. Points marked ``[assumed]`` here are marked so there too: a real
server that answers otherwise changes this module, not the sink.

What the code must not depend on, because the API promises none of it: the order of any
list, the wording of an error the docs do not quote, fields a record holds beyond the
ones named below, and what a write other than a creation answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from core import Group, Person, Session
from sinks.edusign.ids import api_id

API_TYPE = "passerelle"
"""Marks every resource this connector writes; only those are ever changed or deleted."""

Kind = Literal["student", "professor", "group", "course"]

# The envelope (docs/edusign-v1.md, "Transport") [seen]. A creation's ``result`` is
# ``{"ID"}``, a get-id's ``{"id"}`` [seen]; a record names itself ``ID`` as in the PATCH
# bodies [assumed: the docs list no id field in records]. Nothing is read from the result
# of any other write.
STATUS, RESULT, MESSAGE, SUCCESS, ERROR = "status", "result", "message", "success", "error"
RESULT_ID, GET_ID_KEY = "ID", "id"
RECORD_ID = "ID"

# Ids are "16-char lowercase alphanumeric strings" [seen]; any short word of letters,
# digits, ``-`` and ``_`` is taken [assumed: a server may spell them otherwise], and so is
# an integer. Anything else (``1e400``, which JSON reads as infinity, ``true``, a path,
# a list) is no id: storing it would point a record at nothing, or at anything.
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def edusign_id(value: Any) -> str | None:
    """``value`` as an Edusign id (the text stored), or None when it is no id."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**20:
        return str(value)
    if isinstance(value, str) and _ID.fullmatch(value):
        return value
    return None


def is_envelope(answer: Any) -> bool:
    """Whether a JSON answer is Edusign's envelope: an object with a ``status`` of
    ``success`` or ``error``. Anything else comes from another server (a wrong ``url``)."""
    return isinstance(answer, dict) and answer.get(STATUS) in (SUCCESS, ERROR)


# Paging ("Transport", "Paging") [seen]: courses 40 a page, professors 100, and a shorter
# page is the last. Students: the ``limit`` is ours; no cap is documented, so a server may
# serve fewer rows than asked and a short page proves nothing ([assumed]: the pages of
# one list all hold the same number of rows but the last; see ``client.pages``).
PAGE_SIZE: dict[Kind, int] = {"course": 40, "professor": 100, "student": 1000}
CONTRACTED_PAGE: frozenset[Kind] = frozenset({"course", "professor"})
MAX_PAGES = 2000
"""Pages of one list read before giving up: a server that ignored ``page`` would otherwise
be listed forever. 2,000 pages is 80,000 courses, 200,000 professors, or, at a cap as low
as 50 students a page, 100,000 students: more than any school."""

COURSE_RANGE = timedelta(days=90)
"""The widest ``start``..``end`` of one course listing ("Courses") [seen]; the client
splits a wider range."""

# The only messages matched by their words: those the docs quote, each on its own call.
# Every other error's wording is the server's choice; what a refusal means is decided by
# the call that got it (get-id, by-email: "unknown") or by looking the object up.
PROFESSOR_EXISTS = "Professor already exists in this school"  # POST professor ("Professors")
STUDENT_ON_SHEET = "Student already in the list"  # PUT course/attendance ("Courses")
COURSE_LOCKED = "Course already locked"  # GET course/lock ("Courses")
COURSE_NOT_FOUND = "No course with this ID found"  # GET course/{id} ("Courses")
ALREADY_EXISTS = (PROFESSOR_EXISTS, STUDENT_ON_SHEET, COURSE_LOCKED)
NOT_FOUND = (COURSE_NOT_FOUND,)

UNORDERED = frozenset({"STUDENTS", "SCHOOL_GROUP", "GROUPS", "TAGS"})
"""Fields holding lists of ids or words whose order means nothing (a group's students, a
course's groups...): sorted when read, since no answer promises an order."""

SCHOOL_NAME = "NAME"
"""Shown by ``check`` only [assumed: the docs say ``GET /v1/school`` returns the school,
not its fields]; nothing depends on it."""


def said(message: str, quoted: str) -> bool:
    """Whether an error ``message`` is the quoted one (a prefix, a full stop or another
    case around it are tolerated)."""
    return quoted.casefold() in message.casefold()


def path(kind: Kind, *parts: str) -> str:
    return "/".join(("/v1", kind, *parts))


SCHOOL = "/v1/school"


def attendance_path(course_id: str) -> str:
    return f"/v1/course/attendance/{course_id}"


@dataclass(frozen=True, slots=True)
class Remote:
    """A resource as listed by Edusign: enough to adopt it or to leave it alone."""

    id: str
    api_id: str | None
    ours: bool
    email: str | None
    content: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CourseState:
    """What decides whether a sheet may still be rewritten or deleted."""

    locked: bool
    signed: bool
    students: frozenset[str]


def remote(raw: dict[str, Any]) -> Remote:
    """A listed record; lists of ids come sorted, whatever order Edusign gave them in."""
    email = raw.get("EMAIL")
    api_id = raw.get("API_ID")
    return Remote(
        id=edusign_id(raw.get(RECORD_ID)) or "",
        api_id=api_id if isinstance(api_id, str) and api_id else None,
        ours=raw.get("API_TYPE") == API_TYPE,
        email=email.strip().casefold() if isinstance(email, str) else None,
        content={k: _sorted(v) if k in UNORDERED else v for k, v in raw.items()},
    )


def _sorted(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return sorted(value)
    return value


def attendance_entries(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """A course's attendance entries; anything else in ``STUDENTS`` is not one."""
    entries = raw.get("STUDENTS")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def course_state(raw: dict[str, Any]) -> CourseState:
    """A sheet holding any signature, or locked, is no longer the connector's to rewrite."""
    entries = attendance_entries(raw)
    professor_signed = any(v for k, v in raw.items() if k.startswith("PROFESSOR_SIGNATURE"))
    student_signed = any(e.get("state") or e.get("signature") for e in entries)
    return CourseState(
        locked=bool(raw.get("LOCKED")),
        signed=professor_signed or student_signed,
        students=frozenset(str(e["studentId"]) for e in entries if e.get("studentId")),
    )


def student_fields(person: Person, scope: str | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "FIRSTNAME": person.first_name,
        "LASTNAME": person.last_name,
        "EMAIL": person.email,
        "API_ID": api_id(person.external_id, scope),
        "API_TYPE": API_TYPE,
    }
    if person.phone:
        fields["PHONE"] = person.phone
    return fields


def professor_fields(person: Person, scope: str | None = None) -> dict[str, Any]:
    return {
        "FIRSTNAME": person.first_name,
        "LASTNAME": person.last_name,
        "EMAIL": person.email,
        "API_ID": api_id(person.external_id, scope),
        "API_TYPE": API_TYPE,
    }


def person_body(
    kind: Kind, fields: dict[str, Any], *, send_credentials: bool, remote_id: str | None = None
) -> dict[str, Any]:
    """A create (no ``remote_id``) or update body for a student or a professor."""
    record = dict(fields) if remote_id is None else {"ID": remote_id, **fields}
    if kind == "student":
        if remote_id is None:
            record["SEND_EMAIL_CREDENTIALS"] = send_credentials
        return {"student": record}
    body: dict[str, Any] = {"professor": record}
    if remote_id is None:
        # Top level, as documented; Edusign mails instructors unless told not to.
        body["dontSendCredentials"] = not send_credentials
    return body


def group_fields(group: Group, students: list[str], scope: str | None = None) -> dict[str, Any]:
    return {
        "NAME": group.name,
        "STUDENTS": sorted(students),
        "API_ID": api_id(group.external_id, scope),
        "API_TYPE": API_TYPE,
    }


def course_fields(
    session: Session, professors: list[str], groups: list[str] | None, scope: str | None = None
) -> dict[str, Any]:
    """A sheet's content, students apart (they are added and removed one by one)."""
    fields: dict[str, Any] = {
        "NAME": session.name,
        "START": _instant(session.start),
        "END": _instant(session.end),
        "CLASSROOM": ", ".join(session.rooms),
        "NEED_STUDENTS_SIGNATURE": True,
        "API_ID": api_id(session.external_id, scope),
        "API_TYPE": API_TYPE,
    }
    for n, professor in enumerate(professors, start=1):
        fields["PROFESSOR" if n == 1 else f"PROFESSOR_{n}"] = professor
    if groups is not None:
        fields["SCHOOL_GROUP"] = sorted(groups)
    return fields


def course_create_body(fields: dict[str, Any], students: list[str]) -> dict[str, Any]:
    return {"course": {**fields, "STUDENTS": [{"studentId": s} for s in sorted(students)]}}


def is_professor_slot(field: str) -> bool:
    """``PROFESSOR``, ``PROFESSOR_2``, ...: not ``PROFESSOR_SIGNATURE``."""
    return field == "PROFESSOR" or (field.startswith("PROFESSOR_") and field[10:].isdigit())


def course_update_body(
    remote_id: str, fields: dict[str, Any], professors_before: int
) -> dict[str, Any]:
    """An update; the professor slots the sheet no longer needs are emptied."""
    now = sum(1 for k in fields if is_professor_slot(k))
    cleared = {f"PROFESSOR_{n}": None for n in range(now + 1, professors_before + 1)}
    return {"course": {"ID": remote_id, **fields, **cleared}, "editSurveys": False}


def _instant(moment: datetime) -> str:
    """Local time with its UTC offset, as Edusign asks [seen]."""
    return moment.isoformat(timespec="seconds")
