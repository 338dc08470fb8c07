"""The records as the API answers them: private notes dropped, dates in UTC, and what the
contract leaves open answered by the sandbox's ``Quirks``.

A professor's ``HIDDEN`` and ``SCHOOL_ID`` are arrays in answers (one Edusign account can
span schools) while the record keeps ``HIDDEN`` as 0/1: a sandbox professor belongs to one
school.

Where the contract is silent (each by seed, nothing with ``Quirks(None)``):

- every record (student, professor, group, course, a course's attendance entry, the
  school) carries a few unknown extra fields, as a newer server version would add, the
  same ones for the same record;
- lists of ids inside a record (a group's ``STUDENTS``, a course's ``SCHOOL_GROUP``, a
  student's ``GROUPS``) and a course's attendance entries come in an order of the seed's
  own, stable for the record.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from core.sandbox import Quirks
from sinks.edusign.sandbox import dates
from sinks.edusign.sandbox.fields import Record

if TYPE_CHECKING:
    from sinks.edusign.sandbox.state import Kind, School

_WHEN = ("timestamp", "earlyDeparture")
_UNORDERED = ("STUDENTS", "SCHOOL_GROUP", "GROUPS")


def public(record: Record, quirks: Quirks) -> Record:
    """A copy without the sandbox's ``_`` notes, as the quirks show it."""
    shown = {k: copy.deepcopy(v) for k, v in record.items() if not k.startswith("_")}
    for name in _UNORDERED:
        if isinstance(shown.get(name), list):
            shown[name] = quirks.order(shown[name], record.get("ID"), name)
    return quirks.decorate(shown, record.get("ID"))


def one(school: School, kind: Kind, record: Record, quirks: Quirks) -> Record:
    if kind == "professor":
        return professor(school, record, quirks)
    if kind == "course":
        return course(record, quirks)
    return public(record, quirks)


def professor(school: School, record: Record, quirks: Quirks) -> Record:
    return public(record, quirks) | {"HIDDEN": [record["HIDDEN"]], "SCHOOL_ID": [school.id]}


def course(record: Record, quirks: Quirks) -> Record:
    entries = [attendance(record["ID"], entry, quirks) for entry in record["STUDENTS"]]
    return public(record | {"STUDENTS": entries}, quirks) | {
        "START": dates.utc(record["START"]),
        "END": dates.utc(record["END"]),
    }


def attendance(course_id: str, entry: Record, quirks: Quirks) -> Record:
    shown = entry | {k: dates.utc(entry[k]) for k in _WHEN if entry[k] is not None}
    return quirks.decorate(shown, course_id, entry["studentId"])


def school(s: School, quirks: Quirks) -> Record:
    return quirks.decorate({"ID": s.id, "NAME": s.name}, s.id)
