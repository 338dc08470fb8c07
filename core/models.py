"""The ERP-neutral records that flow from a source, through transformers, to a sink.

Sources translate their ERP's shapes into these; sinks translate these into their
target's. Nothing here knows CELCAT or Edusign. Records are frozen: a transformer that
changes one returns a copy (``dataclasses.replace``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import ClassVar, Protocol


class Keyed(Protocol):
    """What the engine needs of any record: what kind it is and its stable external id."""

    @property
    def kind(self) -> str: ...

    @property
    def external_id(self) -> str: ...


class PersonKind(enum.StrEnum):
    STUDENT = "student"
    INSTRUCTOR = "instructor"


@dataclass(frozen=True, slots=True)
class Person:
    """A student or an instructor, as the source knows them.

    ``source_name`` is the name exactly as the source wrote it, kept for reports: when it
    could not be split, ``first_name`` or ``last_name`` is empty and the validity rules
    say so.
    """

    kind: PersonKind
    source_id: str
    external_id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None = None
    source_name: str = ""


@dataclass(frozen=True, slots=True)
class Group:
    """A group of students; ``members`` holds the members' external ids."""

    source_id: str
    external_id: str
    name: str
    members: tuple[str, ...] = ()

    kind: ClassVar[str] = "group"


@dataclass(frozen=True, slots=True)
class Session:
    """One occurrence of a course: what becomes one attendance sheet.

    ``start`` and ``end`` are aware datetimes in the tenant's time zone. ``source_ids``
    names the source objects behind the session (for reports: "timetable 3, event 5120").
    """

    external_id: str
    name: str
    start: datetime
    end: datetime
    source_ids: dict[str, str] = field(default_factory=dict, hash=False)
    category: str | None = None
    suspended: bool = False
    rooms: tuple[str, ...] = ()
    instructors: tuple[Person, ...] = ()
    students: tuple[Person, ...] = ()
    groups: tuple[Group, ...] = ()

    kind: ClassVar[str] = "session"

    @property
    def day(self) -> date:
        return self.start.date()


class Presence(enum.StrEnum):
    PRESENT = "present"
    LATE = "late"
    EXCUSED = "excused"
    ABSENT = "absent"


@dataclass(frozen=True, slots=True)
class Mark:
    """One student's attendance on one session, as taken in the attendance system."""

    session: str
    student: str
    presence: Presence
    minutes_late: int = 0

    kind: ClassVar[str] = "mark"

    @property
    def external_id(self) -> str:
        return f"{self.session}/{self.student}"


Record = Person | Session
"""What a timetable source yields: its whole directory of people first, then sessions.

The directory comes first because some rules (duplicate emails) judge a person against
everyone the source knows, not only against those teaching in the window.
"""
