"""The CELCAT source: the tenant's timetables over the run's window, as canonical records.

A run reads the timetables first (the only call without a ``TimetableId``), then the
reference data once, in large pages (people, rooms, groups, memberships, categories),
naming the first timetable it will read: those lists are the server's whatever timetable
is named, but a server with several refuses them without one. It yields the whole
directory of people, then, timetable by timetable and day by day, the occurrences with
their assignments. Assignments belong to an event, so an event seen on several days is
asked about once; the events of one day are asked about concurrently, at most
``concurrency`` calls at a time.

Nothing depends on the order CELCAT lists things in: people, rooms, groups, students and
instructors come out sorted by CELCAT id, and an id listed twice with different contents
is not guessed at (docs/celcat-webapi.md, "What the code does not rely on").

What cannot be read is reported and skipped: a broken record costs that record, a failed
call the objects it was about, and neither is taken for a deletion (an unreadable session
is skipped with ``keep``: its sheet stays). Only refused credentials, reference data that
cannot be read at all (a 404 on a list read without a filter included), no timetable to
read, or occurrences listed in the window of which none could be read, stop the run:
each would otherwise read as "every course removed".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import anyio

from adapters.celcat import mapping
from adapters.celcat.client import CelcatClient, CelcatError
from adapters.celcat.ids import GroupId, ListedId, RoomId, SessionId, StaffId, StudentId
from adapters.celcat.mapping import Malformed, Named, Occurrence
from adapters.celcat.names import NameFormat, split_name
from adapters.celcat.reasons import CelcatReason
from core import (
    CategoryFilterOptions,
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
    fold,
)

SERVICE = "CELCAT"
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class ReferenceData:
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
    reference: ReferenceData
    reported: set[str] = field(default_factory=set)
    listed: int = 0
    """Occurrences CELCAT listed in the window (rows of the days' event lists)."""
    misread: int = 0
    """Of those, the ones whose fields could not be read (in themselves or their
    assignments). Not an event listed twice differently, nor one naming a staff member
    the staff list lacks: those are readable, only wrong (their sheets are kept all the
    same)."""
    first_problem: str = ""

    def unreadable(self, detail: str, rows: int = 1) -> None:
        self.misread += rows
        self.first_problem = self.first_problem or detail

    def known(self, listed: type[ListedId], table: Mapping[int, T], id_: int) -> T | None:
        """``table[id_]``; an assigned id missing from CELCAT's list is reported once."""
        found = table.get(id_)
        key, kind = listed(id_).key(), listed.KIND
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
        self._timetable_ids = list(dict.fromkeys(timetable_ids))
        self._limiter = anyio.CapacityLimiter(concurrency)

    async def check(self) -> list[str]:
        listed = self._named(
            None, "timetable", mapping.TIMETABLES, await self._reference(mapping.TIMETABLES)
        )
        timetable = self._usable(listed)[0]
        categories = self._named(
            None,
            "category",
            mapping.CATEGORIES,
            await self._reference(mapping.CATEGORIES, timetable),
        )
        lines = [f"timetable {t}: {listed[t].name}" for t in sorted(listed)]
        lines += [
            f"warning: timetable_ids: CELCAT does not list timetable {t}; runs report it "
            "failed and delete nothing"
            for t in self._timetable_ids
            if t not in listed
        ]
        names = sorted(c.name for c in categories.values())
        lines.append(f"{len(names)} event categories: {', '.join(names) or '-'}")
        return lines

    async def check_options(self, options: object) -> list[str]:
        """Warnings on what ``options`` (the tenant's section) names that CELCAT does not
        have: a category filter naming no category filters nothing (or everything)."""
        if not isinstance(options, CategoryFilterOptions):
            return []
        listed = self._named(
            None, "timetable", mapping.TIMETABLES, await self._reference(mapping.TIMETABLES)
        )
        rows = await self._reference(mapping.CATEGORIES, self._usable(listed)[0])
        known = {
            fold(c.name) for c in self._named(None, "category", mapping.CATEGORIES, rows).values()
        }
        return [
            f"warning: {key}: no CELCAT event category is named {name!r}"
            for key, names in (
                ("event_category_names_included", options.event_category_names_included),
                ("event_category_names_excluded", options.event_category_names_excluded),
            )
            for name in names
            if fold(name) not in known
        ]

    async def read(self, ctx: RunContext) -> AsyncIterator[Record]:
        timetables = await self._timetables(ctx)
        # The reference lists are the same whatever timetable is named: name the first read.
        run = _Run(ctx, await self._read_reference_data(ctx, timetables[0]))
        for person in (*run.reference.staff.values(), *run.reference.students.values()):
            yield person
        for timetable in timetables:
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
        if run.listed and run.misread >= run.listed:
            # Every event renamed its fields, say: a misread, not an emptied timetable.
            raise RunFailed(
                SERVICE,
                f"CELCAT listed {run.listed} occurrence(s) in the window and none could be "
                f"read, so nothing is changed or deleted; the first problem: {run.first_problem}",
            )

    # Reference data: without it nothing can be judged, so failing to read it fails the run.

    async def _reference(self, path: str, timetable: int | None = None) -> list[Any]:
        try:
            return await self._client.rows(path, timetable=timetable)
        except TransientError as exc:
            raise ServerUnreachable(SERVICE, str(exc)) from None
        except CelcatError as exc:
            raise RunFailed(SERVICE, str(exc)) from None

    async def _read_reference_data(self, ctx: RunContext, timetable: int) -> ReferenceData:
        async def listed(path: str) -> list[Any]:
            return await self._reference(path, timetable)

        staff = self._people(ctx, await listed(mapping.STAFF), PersonKind.INSTRUCTOR)
        students = self._people(ctx, await listed(mapping.STUDENTS), PersonKind.STUDENT)
        members = self._members(ctx, await listed(mapping.MEMBERSHIPS))
        rooms = self._named(ctx, "room", mapping.ROOMS, await listed(mapping.ROOMS))
        groups = self._named(ctx, "group", mapping.GROUPS, await listed(mapping.GROUPS))
        categories = self._named(
            ctx, "category", mapping.CATEGORIES, await listed(mapping.CATEGORIES)
        )
        return ReferenceData(
            staff=staff,
            students=students,
            rooms={i: n.name for i, n in rooms.items()},
            groups=groups,
            members=members,
            categories={i: n.name for i, n in categories.items()},
        )

    def _people(self, ctx: RunContext, rows: list[Any], kind: PersonKind) -> dict[int, Person]:
        listed: type[ListedId] = StaffId if kind is PersonKind.INSTRUCTOR else StudentId
        prefix = listed.KIND
        parsed = []
        for raw in rows:
            try:
                parsed.append(mapping.parse_person(raw))
            except Malformed as exc:
                ctx.report.skip(kind, Reason.MALFORMED_RECORD, detail=f"{prefix}: {exc}")
        kept, conflicting = _unique(parsed, lambda p: p.id)
        for person_id, copies in conflicting.items():
            ctx.report.skip(
                kind,
                Reason.MALFORMED_RECORD,
                detail=f"{prefix}: id {person_id} is listed {copies} times, differently",
            )
        people: dict[int, Person] = {}
        for person in kept.values():
            first, last = split_name(person.name, self._name_format) or ("", "")
            people[person.id] = Person(
                kind=kind,
                source_id=str(person.id),
                external_id=listed(person.id).key(),
                first_name=first,
                last_name=last,
                email=person.email.strip(),
                phone=person.mobile if kind is PersonKind.STUDENT else None,
                source_name=person.name,
            )
        return people

    def _members(self, ctx: RunContext, rows: list[Any]) -> dict[int, tuple[int, ...]]:
        """Each group's students, by student id (a membership listed twice counts once)."""
        members: dict[int, set[int]] = {}
        for raw in rows:
            try:
                group_id, student_id = mapping.parse_membership(raw)
            except Malformed as exc:
                ctx.report.skip("membership", Reason.MALFORMED_RECORD, detail=str(exc))
                continue
            members.setdefault(group_id, set()).add(student_id)
        return {g: tuple(sorted(ids)) for g, ids in sorted(members.items())}

    def _named(
        self, ctx: RunContext | None, kind: str, path: str, rows: list[Any]
    ) -> dict[int, Named]:
        """Timetables, rooms, groups or categories by id; ``ctx`` None (``check``) reports
        nothing."""
        named = []
        for raw in rows:
            try:
                named.append(mapping.parse_named(raw))
            except Malformed as exc:
                if ctx is not None:
                    ctx.report.skip(kind, Reason.MALFORMED_RECORD, detail=f"{path}: {exc}")
        kept, conflicting = _unique(named, lambda n: n.id)
        for id_, copies in conflicting.items():
            if ctx is not None:
                ctx.report.skip(
                    kind,
                    Reason.MALFORMED_RECORD,
                    detail=f"{path}: id {id_} is listed {copies} times, differently",
                )
        return kept

    async def _timetables(self, ctx: RunContext) -> list[int]:
        """The timetables this run reads: all that CELCAT lists, by id, or the configured
        ones it lists, in the configured order."""
        rows = await self._reference(mapping.TIMETABLES)  # the one call without TimetableId
        listed = self._named(ctx, "timetable", mapping.TIMETABLES, rows)
        for missing in [t for t in self._timetable_ids if t not in listed]:
            # Not knowing what became of its sessions, nothing may be deleted this run.
            ctx.report.fail(
                "timetable",
                CelcatReason.UNKNOWN_TIMETABLE,
                ids={"timetable": str(missing)},
                detail=f"timetable {missing} is configured but CELCAT does not list it",
            )
        return self._usable(listed)

    def _usable(self, listed: Mapping[int, Named]) -> list[int]:
        """The configured timetables that CELCAT lists, in the configured order, or, with
        none configured, all it lists by id (not in its order: the header sent on the
        reference lists stays the same from run to run). None at all fails the run: a
        run that reads nothing would look like a timetable emptied, and delete every
        sheet."""
        usable = [t for t in self._timetable_ids or sorted(listed) if t in listed]
        if usable:
            return usable
        shown = ", ".join(map(str, sorted(listed))) or "none"
        if self._timetable_ids:
            configured = ", ".join(map(str, self._timetable_ids))
            detail = (
                f"CELCAT lists none of the configured timetables ({configured}); "
                f"it lists: {shown}. Fix timetable_ids."
            )
        else:
            detail = "CELCAT lists no timetable that can be read: nothing to sync"
        raise RunFailed(SERVICE, detail)

    # Occurrences: a day that cannot be read costs that day, and postpones deletions.

    async def _occurrences(self, run: _Run, timetable: int, day: date) -> list[Occurrence]:
        params = {mapping.DATE: mapping.day_param(day), mapping.DETAIL: mapping.EXTENDED}
        ids = {"timetable": str(timetable), "date": day.isoformat()}
        try:
            rows = await self._client.rows(mapping.EVENTS, timetable=timetable, params=params)
        except (TransientError, CelcatError) as exc:
            run.ctx.report.fail("session", Reason.SERVER_ERROR, ids=ids, detail=str(exc))
            return []
        parsed: list[Occurrence] = []
        for raw in rows:
            try:
                parsed.append(mapping.parse_occurrence(raw, run.ctx.timezone))
            except Malformed as exc:
                # Unread is not gone: its sheet is kept (by key; without one, every sheet).
                event = mapping.event_id_of(raw)
                key = None if event is None else SessionId(timetable, event, day).key()
                run.unreadable(f"event {event} on {day}: {exc}")
                run.ctx.report.skip(
                    "session",
                    Reason.MALFORMED_RECORD,
                    key=key,
                    ids={**ids, "event": str(event)},
                    detail=str(exc),
                    keep=True,
                )
        kept, conflicting = _unique(parsed, lambda o: o.event_id)
        # Identical copies of one occurrence count once.
        run.listed += len(rows) - (len(parsed) - len(kept) - sum(conflicting.values()))
        for event, copies in conflicting.items():
            detail = f"event {event} is listed {copies} times on {day}, differently"
            run.ctx.report.skip(
                "session",
                Reason.MALFORMED_RECORD,
                key=SessionId(timetable, event, day).key(),
                ids={**ids, "event": str(event)},
                detail=detail,
                keep=True,
            )
        return list(kept.values())

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
        key = SessionId(timetable, occurrence.event_id, occurrence.start.date()).key()
        ids = {"timetable": str(timetable), "event": str(occurrence.event_id)}
        if isinstance(assigned, Unreadable):
            if assigned.failed:
                run.ctx.report.fail(
                    "session", Reason.SERVER_ERROR, key=key, ids=ids, detail=assigned.detail
                )
            else:
                run.unreadable(f"event {occurrence.event_id}: {assigned.detail}")
                run.ctx.report.skip(
                    "session",
                    Reason.MALFORMED_RECORD,
                    key=key,
                    ids=ids,
                    detail=assigned.detail,
                    keep=True,
                )
            return None
        reference = run.reference
        unknown_staff = [s for s in assigned.staff if s not in reference.staff]
        if unknown_staff:
            detail = f"staff {unknown_staff[0]} is assigned but not in CELCAT's staff list"
            run.ctx.report.skip(
                "session", Reason.MALFORMED_RECORD, key=key, ids=ids, detail=detail, keep=True
            )
            return None
        # Sorted by CELCAT id: the order assignments are listed in is no change to a sheet.
        groups = [self._group(run, g) for g in sorted(set(assigned.groups))]
        student_ids = {
            *assigned.students,
            *(s for g in assigned.groups for s in reference.members.get(g, ())),
        }
        return Session(
            external_id=key,
            name=occurrence.name,
            start=occurrence.start,
            end=occurrence.end,
            source_ids=ids,
            category=reference.categories.get(occurrence.category_id or -1),
            suspended=occurrence.suspended,
            rooms=tuple(
                name
                for name in (
                    run.known(RoomId, reference.rooms, r) for r in sorted(set(assigned.rooms))
                )
                if name is not None
            ),
            instructors=tuple(reference.staff[s] for s in sorted(set(assigned.staff))),
            students=tuple(
                p
                for p in (run.known(StudentId, reference.students, s) for s in sorted(student_ids))
                if p is not None
            ),
            groups=tuple(g for g in groups if g is not None),
        )

    def _group(self, run: _Run, group_id: int) -> Group | None:
        group = run.known(GroupId, run.reference.groups, group_id)
        if group is None:
            return None
        members = run.reference.members.get(group_id, ())
        return Group(
            source_id=str(group_id),
            external_id=GroupId(group_id).key(),
            name=group.name,
            members=tuple(StudentId(s).key() for s in members if s in run.reference.students),
        )


def _unique(records: Iterable[R], id_of: Callable[[R], int]) -> tuple[dict[int, R], dict[int, int]]:
    """``records`` by id, sorted by id, and the ids listed more than once with different
    contents (with how many times): those are left out, for keeping "the first" would
    keep whichever the server happened to list first. Identical copies count as one."""
    by_id: dict[int, list[R]] = {}
    for record in records:
        by_id.setdefault(id_of(record), []).append(record)
    kept: dict[int, R] = {}
    conflicting: dict[int, int] = {}
    for id_, copies in sorted(by_id.items()):
        if all(copy == copies[0] for copy in copies):
            kept[id_] = copies[0]
        else:
            conflicting[id_] = len(copies)
    return kept, conflicting
