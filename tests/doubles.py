"""Test doubles: an in-memory source and sink, and builders of canonical records."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import anyio

from core.context import RunContext, Window
from core.errors import ObjectFailed
from core.models import Person, PersonKind, Record, Session
from core.protocols import StreamEnd
from core.report import ReportBuilder, RunReport
from core.state import StateStore

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)  # a Monday; the window is Oct 21..Nov 3


def person(
    kind: PersonKind,
    source_id: int,
    first: str = "Ada",
    last: str = "LOVELACE",
    email: str | None = None,
) -> Person:
    return Person(
        kind=kind,
        source_id=str(source_id),
        external_id=f"test:{kind.value}:{source_id}",
        first_name=first,
        last_name=last,
        email=email if email is not None else f"{kind.value}{source_id}@school.example",
        source_name=f"{last}, {first}",
    )


def student(source_id: int, **kwargs: str) -> Person:
    return person(PersonKind.STUDENT, source_id, **kwargs)


def instructor(source_id: int, **kwargs: str) -> Person:
    return person(PersonKind.INSTRUCTOR, source_id, **kwargs)


def session(
    event_id: int,
    day: date = date(2025, 10, 21),
    *,
    instructors: Iterable[Person] = (),
    students: Iterable[Person] = (),
    category: str | None = "Lecture",
    suspended: bool = False,
) -> Session:
    start = datetime.combine(day, time(9, 0), PARIS)
    return Session(
        external_id=f"test:{event_id}:{day}",
        name=f"Course {event_id}",
        start=start,
        end=start + timedelta(hours=2),
        source_ids={"event": str(event_id)},
        category=category,
        suspended=suspended,
        instructors=tuple(instructors),
        students=tuple(students),
    )


def context(
    store: StateStore,
    *,
    tenant: str = "acme",
    dry_run: bool = False,
    now: datetime = NOW,
    window: Window | None = None,
) -> RunContext:
    report = RunReport(
        run_id="test-run", tenant=tenant, pipeline="timetable", started_at=now, dry_run=dry_run
    )
    return RunContext(
        tenant=tenant,
        pipeline="timetable",
        run_id="test-run",
        now=now,
        timezone=PARIS,
        window=window or Window.starting_after(now, PARIS, 14),
        dry_run=dry_run,
        report=ReportBuilder(report),
        state=store.for_tenant(tenant, dry_run=dry_run),
    )


@dataclass
class MemorySource:
    records: list[Record]
    fail_after: int | None = None
    produced: int = 0

    async def read(self, ctx: RunContext) -> AsyncIterator[Record]:
        for record in self.records:
            if self.fail_after is not None and self.produced >= self.fail_after:
                raise RuntimeError("the source broke")
            self.produced += 1
            yield record

    async def check(self) -> list[str]:
        return [f"{len(self.records)} records"]


@dataclass
class MemorySink:
    """Records what it is given; refuses keys in ``refuse``; can be made to wait."""

    refuse: set[str] = field(default_factory=set)
    written: list[Record] = field(default_factory=list)
    finished: list[bool] = field(default_factory=list)
    gate: anyio.Event | None = None

    async def write(self, record: Record, ctx: RunContext) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if record.external_id in self.refuse:
            raise ObjectFailed("write_refused", "the target said no", ids={"target": "x1"})
        self.written.append(record)
        ctx.report.count(record.kind, "created")

    async def finish(self, ctx: RunContext, end: StreamEnd) -> None:
        self.finished.append(end.complete)

    async def check(self) -> list[str]:
        return ["ok"]


class FakeTime:
    """A clock that only moves when told to, and a sleep that moves it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


GRANT = {
    "grant_type": "password",
    "username": "passerelle",
    "password": "pw",
    "Timetable": "TT2025",
    "Role": "Admin",
}
"""The CAWS sandbox's default user asking for a token, as a client sends it."""
