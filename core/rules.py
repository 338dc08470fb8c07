"""The customer-promise rules of a timetable sync, as transformers any ERP source gets.

They run in the order the reasons are ranked (``category_filtered``, ``event_suspended``,
``no_instructor``, ``invalid_instructor``, ``duplicate_instructor_email``,
``no_valid_student``): a session dropped by one rule never reaches the next, so the
reason reported is always the first that applies.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterable

from core.context import RunContext
from core.errors import RunFailed
from core.models import Person, PersonKind, Record, Session
from core.options import PluginOptions
from core.people import email_key, email_owners, person_problem
from core.reasons import Reason


class CategoryFilterOptions(PluginOptions):
    """Mix into a source's options to give its tenants the category filters."""

    event_category_names_included: list[str] = []
    event_category_names_excluded: list[str] = []


def fold(text: str) -> str:
    """Compare names as people do: trimmed, ignoring case and accents."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _skip(ctx: RunContext, session: Session, reason: Reason, detail: str = "") -> None:
    ctx.report.skip(
        session.kind, reason, key=session.external_id, ids=dict(session.source_ids), detail=detail
    )


class WindowRule:
    """Sessions outside the run's window are never created or changed."""

    async def transform(self, record: Record, ctx: RunContext) -> Record | None:
        if isinstance(record, Session) and record.day not in ctx.window:
            window = f"{ctx.window.first}..{ctx.window.last}"
            _skip(ctx, record, Reason.OUTSIDE_WINDOW, f"{record.day} is outside {window}")
            return None
        return record


class CategoryRule:
    """``included`` non-empty: keep only those categories; else drop ``excluded`` ones."""

    def __init__(self, included: Iterable[str], excluded: Iterable[str]) -> None:
        self._included = {fold(n) for n in included}
        self._excluded = {fold(n) for n in excluded}

    async def transform(self, record: Record, ctx: RunContext) -> Record | None:
        if not isinstance(record, Session):
            return record
        category = fold(record.category or "")
        kept = category in self._included if self._included else category not in self._excluded
        if kept:
            return record
        _skip(ctx, record, Reason.CATEGORY_FILTERED, f"category {record.category!r}")
        return None


class SuspendedRule:
    async def transform(self, record: Record, ctx: RunContext) -> Record | None:
        if isinstance(record, Session) and record.suspended:
            _skip(ctx, record, Reason.EVENT_SUSPENDED)
            return None
        return record


class _EmailOwners:
    """Who keeps each email shared by several people of one kind.

    It takes in the source's people of that kind (every one before any session: the
    order ``core.timetable`` documents) and settles the owners at the first session. A
    person arriving later would escape the duplicate check, and could take an email its
    owner keeps: the run fails instead (``RunFailed``), so that nothing is deleted.
    """

    def __init__(self, kind: PersonKind, rule: Reason) -> None:
        self.kind = kind
        self.rule = rule
        self._people: list[Person] = []
        self._owners: dict[str, Person] | None = None

    def absorb(self, record: Record) -> bool:
        """Whether ``record`` is a person (taken in if of this kind)."""
        if not isinstance(record, Person):
            return False
        if record.kind is self.kind:
            if self._owners is not None:
                raise RunFailed(
                    "source",
                    f"{record.kind.value} {record.source_id} came after the first session: the "
                    f"{self.rule} rule settled who keeps each email then, and every person "
                    "must come before any session",
                )
            self._people.append(record)
        return True

    def settle(self, ctx: RunContext) -> dict[str, Person]:
        if self._owners is None:
            self._owners = email_owners(self._people)
            for person in self._people:
                owner = self._owners.get(email_key(person.email))
                if owner is not None and owner.source_id != person.source_id:
                    ctx.report.skip(
                        person.kind,
                        self.rule,
                        key=person.external_id,
                        ids={self.kind.value: person.source_id},
                        detail=f"email {person.email!r} belongs to "
                        f"{owner.kind.value} {owner.source_id}",
                    )
            self._people = []
        return self._owners

    def blocked(self, person: Person, owners: dict[str, Person]) -> bool:
        owner = owners.get(email_key(person.email))
        return owner is not None and owner.source_id != person.source_id


class InstructorRules:
    """A session needs instructors, all valid, none blocked by a duplicate email."""

    def __init__(self) -> None:
        self._owners = _EmailOwners(PersonKind.INSTRUCTOR, Reason.DUPLICATE_INSTRUCTOR_EMAIL)

    async def transform(self, record: Record, ctx: RunContext) -> Record | None:
        if self._owners.absorb(record) or not isinstance(record, Session):
            return record
        owners = self._owners.settle(ctx)
        verdict = self._verdict(record, owners)
        if verdict is None:
            return record
        _skip(ctx, record, *verdict)
        return None

    def _verdict(self, session: Session, owners: dict[str, Person]) -> tuple[Reason, str] | None:
        if not session.instructors:
            return Reason.NO_INSTRUCTOR, "the session has no instructor"
        for person in session.instructors:
            problem = person_problem(person)
            if problem is not None:
                return Reason.INVALID_INSTRUCTOR, f"instructor {person.source_id}: {problem}"
        for person in session.instructors:
            if self._owners.blocked(person, owners):
                return (
                    Reason.DUPLICATE_INSTRUCTOR_EMAIL,
                    f"instructor {person.source_id} shares email {person.email!r}",
                )
        return None


class StudentRules:
    """Invalid students and those who lost a shared email are left off; a session left
    with no student is not created. Each student is reported once per run."""

    def __init__(self) -> None:
        self._owners = _EmailOwners(PersonKind.STUDENT, Reason.DUPLICATE_STUDENT_EMAIL)
        self._reported: set[str] = set()

    async def transform(self, record: Record, ctx: RunContext) -> Record | None:
        if self._owners.absorb(record):
            return None  # people have served; sinks take them from sessions
        if not isinstance(record, Session):
            return record
        owners = self._owners.settle(ctx)
        kept = []
        for person in record.students:
            problem = person_problem(person)
            if problem is not None:
                self._report_once(ctx, person, Reason.INVALID_STUDENT, problem)
            elif not self._owners.blocked(person, owners):
                kept.append(person)
        if not kept:
            none_valid = f"{len(record.students)} student(s), none valid"
            _skip(ctx, record, Reason.NO_VALID_STUDENT, none_valid)
            return None
        if len(kept) == len(record.students):
            return record
        return dataclasses.replace(record, students=tuple(kept))

    def _report_once(self, ctx: RunContext, person: Person, reason: Reason, detail: str) -> None:
        if person.external_id not in self._reported:
            self._reported.add(person.external_id)
            ctx.report.skip(
                person.kind,
                reason,
                key=person.external_id,
                ids={person.kind.value: person.source_id},
                detail=detail,
            )
