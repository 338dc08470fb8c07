"""The records as the API answers them: private notes dropped, dates in UTC.

A professor's ``HIDDEN`` and ``SCHOOL_ID`` are arrays in answers (one Edusign account can
span schools) while the record keeps ``HIDDEN`` as 0/1: a sandbox professor belongs to one
school.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from sinks.edusign.sandbox import dates
from sinks.edusign.sandbox.fields import Record

if TYPE_CHECKING:
    from sinks.edusign.sandbox.state import Kind, School

_WHEN = ("timestamp", "earlyDeparture")


def public(record: Record) -> Record:
    """A copy without the sandbox's ``_`` notes."""
    return {k: copy.deepcopy(v) for k, v in record.items() if not k.startswith("_")}


def one(school: School, kind: Kind, record: Record) -> Record:
    if kind == "professor":
        return professor(school, record)
    if kind == "course":
        return course(record)
    return public(record)


def professor(school: School, record: Record) -> Record:
    return public(record) | {"HIDDEN": [record["HIDDEN"]], "SCHOOL_ID": [school.id]}


def course(record: Record) -> Record:
    return public(record) | {
        "START": dates.utc(record["START"]),
        "END": dates.utc(record["END"]),
        "STUDENTS": [attendance(entry) for entry in record["STUDENTS"]],
    }


def attendance(entry: Record) -> Record:
    return entry | {k: dates.utc(entry[k]) for k in _WHEN if entry[k] is not None}


def school(s: School) -> Record:
    return {"ID": s.id, "NAME": s.name}
