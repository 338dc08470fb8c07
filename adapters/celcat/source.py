"""The CELCAT source: the tenant's timetables over the run's window, as canonical records.

A run reads the reference data once, in large pages (people, rooms, groups, memberships,
categories), yields the whole directory of people, then, timetable by timetable and day
by day, the occurrences with their assignments. Assignments belong to an event, so an
event seen on several days is asked about once; the events of one day are asked about
concurrently, at most ``concurrency`` calls at a time.

What cannot be read is reported and skipped: a broken record costs that record, a failed
call the objects it was about. Only refused credentials, or reference data that cannot be
read at all, stop the run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import anyio

from adapters.celcat import mapping
from adapters.celcat.client import CelcatClient, CelcatError
from adapters.celcat.mapping import Malformed, Named, Occurrence
from adapters.celcat.names import NameFormat, split_name
from core import (
    Group,
    Person,
    PersonKind,
    Reason,
    Record,
    RunContext,
    RunFailed,
    ServerUnreachable,
    Session,
    TransientError,
)

SERVICE = "CELCAT"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Directory:
    """The server's reference data, read once per run."""

    staff: dict[int, Person]
    students: dict[int, Person]
    rooms: dict[int, str]
    groups: dict[int, Named]
    members: dict[int, tuple[int, ...]]
    categories: dict[int, str]


@dataclass(frozen=True, slots=True)
class Assignments:
    staff: list[int]
    students: list[int]
    rooms: list[int]
    groups: list[int]


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Why an event's assignments could not be had: ``failed`` (the server) or not (the data)."""

    detail: str
    failed: bool


@dataclass
class _Run:
    """What one run of the source keeps between days."""

    ctx: RunContext
    directory: Directory
    reported: set[str] = field(default_factory=set)

    def known(self, kind: str, table: Mapping[int, T], id_: int) -> T | None:
        """``table[id_]``; an assigned id missing from CELCAT's list is reported once."""
        found = table.get(id_)
        key = f"celcat:{kind}:{id_}"
        if found is None and key not in self.reported:
            self.reported.add(key)
            self.ctx.report.skip(
                kind,
                Reason.MALFORMED_RECORD,
                key=key,
                detail=f"{kind} {id_} is assigned but not in CELCAT's {kind} list",
            )
        return found


class CelcatSource:
    def __init__(
        self,
        client: CelcatClient,
        *,
        name_format: NameFormat,
        timetable_ids: Iterable[int] = (),
        concurrency: int = 8,
    ) -> None:
        self._client = client
        self._name_format = name_format
        self._timetable_ids = list(timetable_ids)
        self._limiter = anyio.CapacityLimiter(concurrency)

    async def check(self) -> list[str]:
        timetables = await self._reference(mapping.TIMETABLES)
        categories = await self._reference(mapping.CATEGORIES)
        lines = [f"timetable {t.get('id')}: {t.get('name')}" for t in timetables]
        names = sorted(str(c.get("name")) for c in categories if isinstance(c, dict))
        lines.append(f"{len(names)} event categories: {', '.join(names) or '-'}")
        return lines

    async def read(self, ctx: RunContext) -> AsyncIterator[Record]:
        run = _Run(ctx, await self._directory(ctx))
        for person in (*run.directory.staff.values(), *run.directory.students.values()):
            yield person
        for timetable in await self._timetables(ctx):
            assignments: dict[int, Assignments | Unreadable] = {}
            for day in ctx.window.days():
                occurrences = await self._occurrences(run, timetable, day)
                await self._assign(timetable, {o.event_id for o in occurrences}, assignments)
                for occurrence in occurrences:
                    session = self._session(
                        run, timetable, occurrence, assignments[occurrence.event_id]
                    )
                    if session is not None:
                        yield session

    # Reference data: without it nothing can be judged, so failing to read it fails the run.

    async def _reference(self, path: str) -> list[Any]:
        try:
            return await self._client.rows(path)
        except TransientError as exc:
            raise ServerUnreachable(SERVICE, str(exc)) from None
        except CelcatError as exc:
            raise RunFailed(SERVICE, str(exc)) from None

    async def _directory(self, ctx: RunContext) -> Directory:
        staff = self._people(ctx, await self._reference(mapping.STAFF), PersonKind.INSTRUCTOR)
        students = self._people(ctx, await self._reference(mapping.STUDENTS), PersonKind.STUDENT)
        members: dict[int, list[int]] = {}
        for raw in await self._reference(mapping.MEMBERSHIPS):
            try:
                group_id, student_id = mapping.parse_membership(raw)
            except Malformed as exc:
                ctx.report.skip("membership", Reason.MALFORMED_RECORD, detail=str(exc))
                continue
            members.setdefault(group_id, []).append(student_id)
        return Directory(
            staff=staff,
            students=students,
            rooms={
                n.id: n.name
                for n in self._named(
                    ctx, "room", mapping.ROOMS, await self._reference(mapping.ROOMS)
                )
            },
            groups={
                n.id: n
                for n in self._named(
                    ctx, "group", mapping.GROUPS, await self._reference(mapping.GROUPS)
                )
            },
            members={g: tuple(ids) for g, ids in members.items()},
            categories={
                n.id: n.name
                for n in self._named(
                    ctx, "category", mapping.CATEGORIES, await self._reference(mapping.CATEGORIES)
                )
            },
        )

    def _people(self, ctx: RunContext, rows: list[Any], kind: PersonKind) -> dict[int, Person]:
        people: dict[int, Person] = {}
        prefix = "staff" if kind is PersonKind.INSTRUCTOR else "student"
        for raw in rows:
            try:
                person = mapping.parse_person(raw)
                if person.id in people:
                    raise Malformed(f"id {person.id} is listed twice; the first is kept")
            except Malformed as exc:
                ctx.report.skip(kind, Reason.MALFORMED_RECORD, detail=f"{prefix}: {exc}")
                continue
            first, last = split_name(person.name, self._name_format) or ("", "")
            people[person.id] = Person(
                kind=kind,
                source_id=str(person.id),
                external_id=f"celcat:{prefix}:{person.id}",
                first_name=first,
                last_name=last,
                email=person.email.strip(),
                phone=person.mobile if kind is PersonKind.STUDENT else None,
                source_name=person.name,
            )
        return people

    def _named(self, ctx: RunContext, kind: str, path: str, rows: list[Any]) -> list[Named]:
        named = []
        for raw in rows:
            try:
                named.append(mapping.parse_named(raw))
            except Malformed as exc:
                ctx.report.skip(kind, Reason.MALFORMED_RECORD, detail=f"{path}: {exc}")
        return named

    async def _timetables(self, ctx: RunContext) -> list[int]:
        listed = {
            n.id
            for n in self._named(
                ctx, "timetable", mapping.TIMETABLES, await self._reference(mapping.TIMETABLES)
            )
        }
        if not self._timetable_ids:
            return sorted(listed)
        for missing in sorted(set(self._timetable_ids) - listed):
            # Not knowing what became of its sessions, nothing may be deleted this run.
            ctx.report.fail(
                "timetable",
                "unknown_timetable",
                ids={"timetable": str(missing)},
                detail=f"timetable {missing} is configured but CELCAT does not list it",
            )
        return [t for t in self._timetable_ids if t in listed]

    # Occurrences: a day that cannot be read costs that day, and postpones deletions.

    async def _occurrences(self, run: _Run, timetable: int, day: date) -> list[Occurrence]:
        params = {mapping.DATE: mapping.day_param(day), mapping.DETAIL: mapping.EXTENDED}
        ids = {"timetable": str(timetable), "date": day.isoformat()}
        try:
            rows = await self._client.rows(mapping.EVENTS, timetable=timetable, params=params)
        except (TransientError, CelcatError) as exc:
            run.ctx.report.fail("session", Reason.SERVER_ERROR, ids=ids, detail=str(exc))
            return []
        occurrences: list[Occurrence] = []
        seen: set[int] = set()
        for raw in rows:
            try:
                occurrence = mapping.parse_occurrence(raw, run.ctx.timezone)
                if occurrence.event_id in seen:
                    # Two records for one occurrence: the first is kept, the second reported.
                    raise Malformed(f"event {occurrence.event_id} is listed twice on {day}")
                seen.add(occurrence.event_id)
                occurrences.append(occurrence)
            except Malformed as exc:
                event = mapping.event_id_of(raw)
                key = None if event is None else _key(timetable, event, day)
                run.ctx.report.skip(
                    "session",
                    Reason.MALFORMED_RECORD,
                    key=key,
                    ids={**ids, "event": str(event)},
                    detail=str(exc),
                )
        return occurrences

    async def _assign(
        self, timetable: int, events: set[int], known: dict[int, Assignments | Unreadable]
    ) -> None:
        async with anyio.create_task_group() as tg:
            for event in events - known.keys():
                tg.start_soon(self._fetch_assignments, timetable, event, known)

    async def _fetch_assignments(
        self, timetable: int, event: int, known: dict[int, Assignments | Unreadable]
    ) -> None:
        lists: dict[str, list[int]] = {}

        async def fetch(path: str, other: str) -> None:
            async with self._limiter:
                rows = await self._client.rows(
                    path, timetable=timetable, params={mapping.EVENT_ID: str(event)}
                )
            lists[other] = [mapping.parse_assignment(row, other) for row in rows]

        problem: Unreadable | None = None
        try:
            async with anyio.create_task_group() as tg:
                for path, other in (
                    (mapping.STAFF_ASSIGNMENTS, mapping.STAFF_ID),
                    (mapping.STUDENT_ASSIGNMENTS, mapping.STUDENT_ID),
                    (mapping.ROOM_ASSIGNMENTS, mapping.ROOM_ID),
                    (mapping.GROUP_ASSIGNMENTS, mapping.GROUP_ID),
                ):
                    tg.start_soon(fetch, path, other)
        except* Malformed as group:
            problem = Unreadable(f"assignments: {group.exceptions[0]}", failed=False)
        except* (TransientError, CelcatError) as group:
            # A server failure outranks a broken record: the event is not known to be bad.
            problem = Unreadable(f"assignments: {group.exceptions[0]}", failed=True)
        known[event] = problem or Assignments(
            lists[mapping.STAFF_ID],
            lists[mapping.STUDENT_ID],
            lists[mapping.ROOM_ID],
            lists[mapping.GROUP_ID],
        )

    # From CELCAT's records to a canonical Session.

    def _session(
        self, run: _Run, timetable: int, occurrence: Occurrence, assigned: Assignments | Unreadable
    ) -> Session | None:
        key = _key(timetable, occurrence.event_id, occurrence.start.date())
        ids = {"timetable": str(timetable), "event": str(occurrence.event_id)}
        if isinstance(assigned, Unreadable):
            if assigned.failed:
                run.ctx.report.fail(
                    "session", Reason.SERVER_ERROR, key=key, ids=ids, detail=assigned.detail
                )
            else:
                run.ctx.report.skip(
                    "session", Reason.MALFORMED_RECORD, key=key, ids=ids, detail=assigned.detail
                )
            return None
        directory = run.directory
        unknown_staff = [s for s in assigned.staff if s not in directory.staff]
        if unknown_staff:
            run.ctx.report.skip(
                "session",
                Reason.MALFORMED_RECORD,
                key=key,
                ids=ids,
                detail=f"staff {unknown_staff[0]} is assigned but not in CELCAT's staff list",
            )
            return None
        groups = [self._group(run, g) for g in dict.fromkeys(assigned.groups)]
        student_ids = [
            *assigned.students,
            *(s for g in assigned.groups for s in directory.members.get(g, ())),
        ]
        return Session(
            external_id=key,
            name=occurrence.name,
            start=occurrence.start,
            end=occurrence.end,
            source_ids=ids,
            category=directory.categories.get(occurrence.category_id or -1),
            suspended=occurrence.suspended,
            rooms=tuple(
                name
                for name in (
                    run.known("room", directory.rooms, r) for r in dict.fromkeys(assigned.rooms)
                )
                if name is not None
            ),
            instructors=tuple(directory.staff[s] for s in dict.fromkeys(assigned.staff)),
            students=tuple(
                p
                for p in (
                    run.known("student", directory.students, s) for s in dict.fromkeys(student_ids)
                )
                if p is not None
            ),
            groups=tuple(g for g in groups if g is not None),
        )

    def _group(self, run: _Run, group_id: int) -> Group | None:
        group = run.known("group", run.directory.groups, group_id)
        if group is None:
            return None
        members = run.directory.members.get(group_id, ())
        return Group(
            source_id=str(group_id),
            external_id=f"celcat:group:{group_id}",
            name=group.name,
            members=tuple(f"celcat:student:{s}" for s in members if s in run.directory.students),
        )


def _key(timetable: int, event: int, day: date) -> str:
    """A session's external id: readable by a person doing support, stable across runs."""
    return f"celcat:{timetable}:{event}:{day.isoformat()}"
