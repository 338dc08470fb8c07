"""The fields each resource accepts, their types, and what a new record holds by default.

The names are written out here from the contract (edusign-v1.md), not imported from the
connector's mapping, so that a typo on either side makes a contract test fail instead of
agreeing with itself. A field the contract does not list is ignored, as a real server
would: a misspelt mandatory field then shows as missing (400), a misspelt optional one as
absent from the stored record.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sinks.edusign.sandbox import dates
from sinks.edusign.sandbox.errors import invalid

Record = dict[str, Any]
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class Field:
    """``check`` says whether a value is acceptable (None always is when ``default`` is
    None); ``what`` completes the message "X must be ...". A ``mandatory`` field is
    required at creation and can never be emptied."""

    check: Callable[[object], bool]
    what: str
    default: object = None
    mandatory: bool = False


def _text(value: object) -> bool:
    return isinstance(value, str)


def _email(value: object) -> bool:
    return isinstance(value, str) and _EMAIL.fullmatch(value) is not None


def _flag(value: object) -> bool:
    return isinstance(value, bool)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _instant(value: object) -> bool:
    return dates.parse(value) is not None


def _texts(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _attendees(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, dict) and isinstance(item.get("studentId"), str) for item in value
    )


TEXT = Field(_text, "a string")
NAME = Field(_text, "a string", mandatory=True)
EMAIL = Field(_email, "an email address", mandatory=True)
FLAG = Field(_flag, "a boolean", False)
IDS = Field(_texts, "a list of ids", [])
TAGS = Field(_texts, "a list of strings", [])
INSTANT = Field(_instant, "an ISO 8601 date-time with an offset", mandatory=True)
PROFESSOR_N = re.compile(r"PROFESSOR_([2-9]|[1-9][0-9]+)")
"""``PROFESSOR_2``, ``PROFESSOR_3``, ...: the course's other professors, no fixed limit."""
PROFESSOR_OTHER = Field(_text, "a professor id")
ID = Field(_text, "an id", mandatory=True)

Schema = Mapping[str, Field]

STUDENT: Schema = {
    "FIRSTNAME": NAME,
    "LASTNAME": NAME,
    "EMAIL": EMAIL,
    "PHONE": TEXT,
    "GROUPS": IDS,
    "API_ID": TEXT,
    "API_TYPE": TEXT,
    "SEND_EMAIL_CREDENTIALS": FLAG,
    "NEW_PASSWORD_NEEDED": FLAG,
    "FILE_NUMBER": TEXT,
    "TAGS": TAGS,
}
PROFESSOR: Schema = {
    "FIRSTNAME": NAME,
    "LASTNAME": NAME,
    "EMAIL": EMAIL,
    "PHONE": TEXT,
    "SPECIALITY": TEXT,
    "API_ID": TEXT,
    "API_TYPE": TEXT,
    "TAGS": TAGS,
}
GROUP: Schema = {
    "NAME": NAME,
    "DESCRIPTION": TEXT,
    "STUDENTS": IDS,
    "PARENT": TEXT,
    "API_ID": TEXT,
    "API_TYPE": TEXT,
}
COURSE: Schema = {
    "NAME": NAME,
    "START": INSTANT,
    "END": INSTANT,
    "PROFESSOR": Field(_text, "a professor id", mandatory=True),
    "NEED_STUDENTS_SIGNATURE": Field(_flag, "a boolean", mandatory=True),
    "DESCRIPTION": TEXT,
    "CLASSROOM": TEXT,
    "SCHOOL_GROUP": IDS,
    "STUDENTS": Field(_attendees, 'a list of {"studentId": id}', []),
    "MAX_STUDENTS": Field(_count, "a non-negative integer"),
    "API_ID": TEXT,
    "API_TYPE": TEXT,
    "TRAINING_ID": TEXT,
}


def with_id(schema: Schema) -> Schema:
    """The schema of an update: the record's ``ID`` first."""
    return {"ID": ID, **schema}


def mandatory(schema: Schema) -> list[str]:
    return [name for name, field in schema.items() if field.mandatory]


def accepted(schema: Schema, given: Mapping[str, object], required: Collection[str]) -> Record:
    """The fields of ``given`` that ``schema`` knows, once checked; ``invalid`` (400)
    listing every problem otherwise. Null or "" counts as missing for a required or
    mandatory field; null is refused for a field whose default is not null (a list, a
    boolean)."""
    problems = []
    for name in dict.fromkeys([*required, *given]):
        field, value = schema.get(name), given.get(name)
        if field is None:
            continue
        if _blank(value):
            if name in required or field.mandatory:
                problems.append(f"{name} is required")
            elif field.default is not None:
                problems.append(f"{name} must be {field.what}")
        elif not field.check(value):
            problems.append(f"{name} must be {field.what}")
    if problems:
        raise invalid(*problems)
    return {name: value for name, value in given.items() if name in schema}


def new_record(schema: Schema, values: Record) -> Record:
    """Every field of ``schema``, at its default unless ``values`` gives it."""
    return {name: copy.deepcopy(field.default) for name, field in schema.items()} | values


def _blank(value: object) -> bool:
    return value is None or value == ""
