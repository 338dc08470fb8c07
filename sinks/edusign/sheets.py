"""Attendance sheets (Edusign courses): one per session, created, or updated while it may
still be rewritten. A sheet that is locked, started or signed is left alone
(``sheet_locked``).

It keeps what ``deletions`` needs to know of this run's writes: the sessions seen, and
the sheets it created (which the deletion guard does not count as held before the run).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from core import (
    Change,
    ObjectFailed,
    Reason,
    RunContext,
    Session,
    Synced,
    TransientError,
    fingerprint,
)
from sinks.edusign import mapping
from sinks.edusign.changes import field_changes, student_changes
from sinks.edusign.client import AlreadyExists, EdusignError, NotFound
from sinks.edusign.groups import Groups
from sinks.edusign.people import People
from sinks.edusign.reasons import EdusignReason
from sinks.edusign.toolkit import Toolkit


class Sheets:
    def __init__(
        self,
        kit: Toolkit,
        people: People,
        groups: Groups | None,
    ) -> None:
        self._kit = kit
        self._people = people
        self._groups = groups
        self._seen: set[str] = set()
        self._created: set[str] = set()

    @property
    def seen(self) -> frozenset[str]:
        """External ids of the sessions written this run, whatever became of their sheet."""
        return frozenset(self._seen)

    @property
    def created(self) -> frozenset[str]:
        """External ids of the sessions whose sheet this run created (a dry run: would)."""
        return frozenset(self._created)

    async def write(self, ctx: RunContext, session: Session) -> None:
        self._seen.add(session.external_id)
        professors = [await self._people.resolve(ctx, p) for p in session.instructors]
        if None in professors:
            missing = session.instructors[professors.index(None)]
            raise ObjectFailed(
                Reason.WRITE_REFUSED,
                f"instructor {missing.source_id} could not be written to Edusign",
            )
        students = [s for s in [await self._people.resolve(ctx, p) for p in session.students] if s]
        groups = None
        if self._groups is not None:
            groups = [g for g in [await self._groups.resolve(ctx, g) for g in session.groups] if g]
        fields = mapping.course_fields(
            session, [p for p in professors if p], groups, self._kit.scope.name
        )
        try:
            await self._write(ctx, Sheet(session, fields, sorted(students)))
        except EdusignError as exc:
            raise ObjectFailed(Reason.WRITE_REFUSED, exc.message) from None
        except TransientError as exc:
            raise ObjectFailed(Reason.SERVER_ERROR, str(exc)) from None

    async def _write(self, ctx: RunContext, sheet: Sheet) -> None:
        key = sheet.session.external_id
        known = (await self._kit.memory.stored(ctx, "session")).get(key)
        if known is not None and known.fingerprint == sheet.fingerprint:
            ctx.report.count("session", "unchanged")
            return
        if known is None:
            found = (await self._kit.listings.index(ctx, "course")).by_api_id.get(key)
            if found is not None:
                state = mapping.course_state(found.content)
                known = Synced(
                    found.id,
                    "",
                    {"students": sorted(state.students), "professors": professors(found.content)},
                )
        if known is None:
            await self._create(ctx, sheet)
        else:
            await self._update(ctx, sheet, known)

    async def _create(self, ctx: RunContext, sheet: Sheet) -> None:
        key = sheet.session.external_id
        if not ctx.dry_run:
            body = mapping.course_create_body(sheet.fields, sheet.students)
            remote_id = await self._kit.client.create("course", body, self._kit.scope.api_id(key))
            await self._kit.memory.remember(ctx, "session", key, sheet.synced(remote_id))
        self._created.add(key)
        self._acted(ctx, "created", sheet.session)

    async def _update(self, ctx: RunContext, sheet: Sheet, known: Synced) -> None:
        key = sheet.session.external_id
        if sheet.session.start <= ctx.now:
            self._locked(ctx, sheet.session, "it has started")
            return
        try:
            current = await self._kit.client.call("GET", mapping.path("course", known.remote_id))
        except NotFound:
            # Deleted in Edusign meanwhile: the session still wants a sheet.
            await self._kit.memory.forget(ctx, "session", key)
            await self._create(ctx, sheet)
            return
        if isinstance(current, dict) and self._kit.scope.foreign(current.get("API_ID")):
            # Another tenant's sheet (two stores adopted one sheet before API_IDs were
            # scoped): it stays theirs; this session gets a sheet of its own.
            await self._kit.memory.forget(ctx, "session", key)
            await self._create(ctx, sheet)
            return
        state = mapping.course_state(current)
        if state.locked or state.signed:
            self._locked(ctx, sheet.session, "it is locked" if state.locked else "it is signed")
            return
        body = mapping.course_update_body(
            known.remote_id, sheet.fields, int(known.data.get("professors", 0))
        )
        changes = [
            *field_changes(current, body["course"]),
            *student_changes(state.students, sheet.students),
        ]
        if not ctx.dry_run:
            if known.data.get("fields") != sheet.fields_fingerprint:
                await self._kit.client.call("PATCH", mapping.path("course"), json=body)
            await self._attendance(known.remote_id, state.students, set(sheet.students))
            await self._kit.memory.remember(ctx, "session", key, sheet.synced(known.remote_id))
        self._acted(ctx, "updated", sheet.session, changes)

    async def _attendance(self, course: str, present: frozenset[str], wanted: set[str]) -> None:
        url = mapping.attendance_path(course)
        # Asked twice (a retry, a second worker), each is already done: that is success.
        for student in sorted(wanted - present):
            with contextlib.suppress(AlreadyExists):
                await self._kit.client.call("PUT", url, json={"studentId": student})
        for student in sorted(present - wanted):
            try:
                await self._kit.client.call("DELETE", url, json={"studentId": student})
            except EdusignError:
                # "Not on the sheet" has no documented wording: the sheet itself says
                # whether the student is off it already (docs/edusign-v1.md, "Courses").
                sheet = await self._kit.client.call("GET", mapping.path("course", course))
                if student in mapping.course_state(sheet).students:
                    raise

    def _acted(
        self, ctx: RunContext, action: Change, session: Session, changes: list[str] | None = None
    ) -> None:
        ctx.report.acted(
            "session",
            action,
            key=session.external_id,
            name=session.name,
            start=session.start,
            end=session.end,
            changes=changes,
        )

    def _locked(self, ctx: RunContext, session: Session, why: str) -> None:
        ctx.report.skip(
            "session",
            EdusignReason.SHEET_LOCKED,
            key=session.external_id,
            ids=dict(session.source_ids),
            detail=f"the sheet is not rewritten: {why}",
        )


@dataclass(frozen=True)
class Sheet:
    """A session as it is to be written: its fields, its students' Edusign ids."""

    session: Session
    fields: dict[str, Any]
    students: list[str]

    @property
    def fields_fingerprint(self) -> str:
        return fingerprint(self.fields)

    @property
    def fingerprint(self) -> str:
        return fingerprint({"fields": self.fields, "students": self.students})

    def synced(self, remote_id: str) -> Synced:
        return Synced(
            remote_id,
            self.fingerprint,
            {
                "date": self.session.day.isoformat(),
                "fields": self.fields_fingerprint,
                "professors": professors(self.fields),
            },
        )


def professors(fields: dict[str, Any]) -> int:
    """How many professor slots a sheet's fields fill."""
    return sum(1 for k, v in fields.items() if v and mapping.is_professor_slot(k))
