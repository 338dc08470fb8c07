"""The Edusign external API v1 as this sink writes it: every path, field name and message
it relies on, in this one module.

Edusign publishes no machine-readable spec for v1; what is here was read from public
clients. Points the contract marks ``[assumed]`` are marked so here too: a real server
that answers otherwise changes this module, not the sink.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from core import Group, Person, Session

API_TYPE = "passerelle"
"""Marks every resource this connector writes; only those are ever changed or deleted."""

Kind = Literal["student", "professor", "group", "course"]

# Envelope [seen]
STATUS, RESULT, MESSAGE, SUCCESS = "status", "result", "message", "success"
RESULT_ID, GET_ID_KEY = "ID", "id"

# Paging [seen]: a short page is the last. Students: `limit` is ours to choose [assumed: no cap].
PAGE_SIZE: dict[Kind, int] = {"course": 40, "professor": 100, "student": 1000}

# Messages that mean "exists already" / "not there" [seen]
ALREADY_EXISTS = ("already exists", "already in the list", "already locked")
NOT_FOUND = ("not found", "unknown", "does not exist", "not in the list")
NOT_FOUND_PATTERN = re.compile(r"^no \w+ with this .* found")  # "No course with this ID found"


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
    email = raw.get("EMAIL")
    return Remote(
        id=str(raw.get("ID") or raw.get("id") or ""),
        api_id=raw.get("API_ID") or None,
        ours=raw.get("API_TYPE") == API_TYPE,
        email=email.strip().casefold() if isinstance(email, str) else None,
        content=raw,
    )


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


def student_fields(person: Person) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "FIRSTNAME": person.first_name,
        "LASTNAME": person.last_name,
        "EMAIL": person.email,
        "API_ID": person.external_id,
        "API_TYPE": API_TYPE,
    }
    if person.phone:
        fields["PHONE"] = person.phone
    return fields


def professor_fields(person: Person) -> dict[str, Any]:
    return {
        "FIRSTNAME": person.first_name,
        "LASTNAME": person.last_name,
        "EMAIL": person.email,
        "API_ID": person.external_id,
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


def group_fields(group: Group, students: list[str]) -> dict[str, Any]:
    return {
        "NAME": group.name,
        "STUDENTS": sorted(students),
        "API_ID": group.external_id,
        "API_TYPE": API_TYPE,
    }


def course_fields(
    session: Session, professors: list[str], groups: list[str] | None
) -> dict[str, Any]:
    """A sheet's content, students apart (they are added and removed one by one)."""
    fields: dict[str, Any] = {
        "NAME": session.name,
        "START": _instant(session.start),
        "END": _instant(session.end),
        "CLASSROOM": ", ".join(session.rooms),
        "NEED_STUDENTS_SIGNATURE": True,
        "API_ID": session.external_id,
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
