"""The ids the CELCAT plugin gives what it reads, built and parsed here only.

A session is ``celcat:<timetable>:<event>:<yyyy-mm-dd>`` (one event on one day of one
timetable: CELCAT's event ids are per timetable); a person, group or room is
``celcat:<kind>:<id>`` (``student``, ``staff``, ``group``, ``room``: CELCAT numbers
students and staff separately). They are the external ids of the records the source
yields, hence the state store's keys and the sink's ``API_ID``: readable by a person
doing support, and stable across runs, so the format never changes.

``parse`` is the inverse of ``key`` and nothing more: it returns None for any text that
``key`` could not have produced (another source's id, another kind of CELCAT id, a
number with a leading zero, a date that does not exist). None rather than an error,
for the return trip meets keys it did not build (the state store holds whatever the
tenant's source wrote) and "not one of ours" is an answer, not a failure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import ClassVar, Self

PREFIX = "celcat"
_INTEGER = re.compile(r"-?[0-9]+", re.ASCII)


@dataclass(frozen=True, slots=True)
class SessionId:
    """One occurrence of an event: the timetable, CELCAT's event id, and its day."""

    timetable: int
    event: int
    day: date

    def key(self) -> str:
        return f"{PREFIX}:{self.timetable}:{self.event}:{self.day.isoformat()}"

    @classmethod
    def parse(cls, key: str) -> SessionId | None:
        parts = key.split(":")
        if len(parts) != 4 or parts[0] != PREFIX:
            return None
        timetable, event, day = _integer(parts[1]), _integer(parts[2]), _day(parts[3])
        if timetable is None or event is None or day is None:
            return None
        return cls(timetable, event, day)


@dataclass(frozen=True, slots=True)
class ListedId:
    """An id from one of CELCAT's reference lists; ``KIND`` names the list."""

    KIND: ClassVar[str]
    id: int

    def key(self) -> str:
        return f"{PREFIX}:{self.KIND}:{self.id}"

    @classmethod
    def parse(cls, key: str) -> Self | None:
        parts = key.split(":")
        if len(parts) != 3 or parts[0] != PREFIX or parts[1] != cls.KIND:
            return None
        found = _integer(parts[2])
        return None if found is None else cls(found)


@dataclass(frozen=True, slots=True)
class StudentId(ListedId):
    KIND: ClassVar[str] = "student"


@dataclass(frozen=True, slots=True)
class StaffId(ListedId):
    KIND: ClassVar[str] = "staff"


@dataclass(frozen=True, slots=True)
class GroupId(ListedId):
    KIND: ClassVar[str] = "group"


@dataclass(frozen=True, slots=True)
class RoomId(ListedId):
    """Only a report's key: rooms are names on a session, not records of their own."""

    KIND: ClassVar[str] = "room"


def _integer(text: str) -> int | None:
    """``text`` as ``str(int)`` writes it, else None: "07" or "٣" is not a key we built."""
    if not _INTEGER.fullmatch(text):
        return None
    value = int(text)
    return value if str(value) == text else None


def _day(text: str) -> date | None:
    """``text`` as ``date.isoformat`` writes it (``fromisoformat`` also takes "20251021")."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if day.isoformat() == text else None
