"""What one Edusign school holds: its students, professors, groups and courses, by id.

Records are plain dicts with the contract's field names, dates as the client sent them,
so a test reads exactly what a connector wrote. Keys starting with ``_`` are the sandbox's
own notes, never rendered: ``_updated`` (when a person last changed, for the students'
``updatedAfter``), ``_dontSendCredentials``, ``_dontSendCredentialsFrom`` and
``_credentialsSent`` (professors: see ``people``).

The helpers below stand for work done by hand in Edusign (a secretary adding a student, a
student signing): they are no API calls, so they count nowhere and are never slowed down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sinks.edusign.sandbox import courses, groups, people
from sinks.edusign.sandbox.errors import unknown
from sinks.edusign.sandbox.fields import Record

Kind = Literal["student", "professor", "group", "course"]


@dataclass(eq=False)
class School:
    """One school, reached through one API key. ``new_id`` makes the Edusign ids (the
    sandbox's seeded factory, shared by its schools so that ids never collide)."""

    id: str
    name: str
    new_id: Callable[[], str] = field(repr=False)
    students: dict[str, Record] = field(default_factory=dict)
    professors: dict[str, Record] = field(default_factory=dict)
    groups: dict[str, Record] = field(default_factory=dict)
    courses: dict[str, Record] = field(default_factory=dict)

    def records(self, kind: Kind) -> dict[str, Record]:
        return {
            "student": self.students,
            "professor": self.professors,
            "group": self.groups,
            "course": self.courses,
        }[kind]

    def get(self, kind: Kind, id: str) -> Record:
        """The record, or the error Edusign answers for an unknown id (HTTP 200, worded by
        the quirks: only ``GET /v1/course/{id}``'s is quoted, see ``endpoint.by_id``)."""
        found = self.records(kind).get(id)
        if found is None:
            raise unknown(kind)
        return found

    def find(self, kind: Kind, api_id: str) -> Record | None:
        """The first record created with this ``API_ID`` (v1 does not make it unique)."""
        return next((r for r in self.records(kind).values() if r.get("API_ID") == api_id), None)

    def insert(self, kind: Kind, record: Record) -> str:
        """Store ``record`` under a new id, which it holds as ``ID``; returns the id."""
        new = self.new_id()
        self.records(kind)[new] = {"ID": new, **record}
        return new

    # Done by hand in Edusign: no API_TYPE unless given. Refused (ApiError) for the
    # same reasons as through the API.

    def add_student(self, **fields: Any) -> str:
        return people.create_student(self, fields)

    def add_professor(self, **fields: Any) -> str:
        """``dontSendCredentials`` may be given among ``fields`` (recorded as "inside")."""
        return people.create_professor(self, fields, top_level=None)

    def add_group(self, **fields: Any) -> str:
        return groups.create(self, fields)

    def add_course(self, **fields: Any) -> str:
        """``NEED_STUDENTS_SIGNATURE`` defaults to True here; ``STUDENTS`` is a list of
        ``{"studentId": id}`` as in the API."""
        return courses.create(self, {"NEED_STUDENTS_SIGNATURE": True, **fields})

    def sign(
        self,
        course_id: str,
        student_id: str,
        *,
        delay: int = 0,
        absence_id: str | None = None,
        signed: bool = True,
    ) -> None:
        """Set a student's attendance entry: signed (``state`` true, a signature URL,
        ``timestamp`` the course's start) or not, ``delay`` minutes late, ``absenceId``
        for a justified absence. The student must be on the course."""
        courses.sign(self, course_id, student_id, delay, absence_id, signed)

    def sign_professor(self, course_id: str, n: int = 1) -> None:
        """The course's n-th professor signs: ``PROFESSOR_SIGNATURE`` (n=1) or
        ``PROFESSOR_SIGNATURE_n`` gets a URL."""
        courses.sign_professor(self, course_id, n)

    def lock(self, course_id: str) -> None:
        """Lock the sheet (again is no error here, unlike the API)."""
        self.get("course", course_id)["LOCKED"] = 1
