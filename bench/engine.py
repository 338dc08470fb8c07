"""Scenario 5: the engine's own cost, the network taken away.

    python -m bench.engine --occurrences 100000 --folder DIR

A source made up here yields a directory of people, then the sessions one by one, as
they are asked for; the timetable rules judge them; the Edusign sink writes them through
its real client, whose HTTP transport is a stub answering at once (``httpx.MockTransport``)
and whose pacing runs on a virtual clock. The state store is a real SQLite file. What
is left is passerelle's code: records per second, and peak memory, which must not grow
with the number of sessions beyond the few bytes a run keeps per key.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx

from bench.measure import emit, peak_rss_mib, quiet_logs, stopwatch
from bench.product import run_context
from bench.world import HORIZON_DAYS, TIMEZONE
from core import Group, Person, PersonKind, Record, RunContext, Session
from core.protocols import Pipeline, Seams, Setup
from core.runner import utc_now
from core.state import open_state
from core.stream import run_pipeline
from core.timetable import session_rules
from sinks.edusign import mapping
from sinks.edusign.plugin import EdusignOptions, open_sink

STUDENTS, INSTRUCTORS, GROUPS = 3_000, 200, 100
PER_SESSION = 20
PER_GROUP = STUDENTS // GROUPS


class MadeUpTimetable:
    """``occurrences`` sessions of 20 students, one instructor and one group each, over
    the window; none is held in memory longer than it takes to yield it."""

    def __init__(self, occurrences: int) -> None:
        self._occurrences = occurrences
        self._students = [_person(PersonKind.STUDENT, n) for n in range(STUDENTS)]
        self._instructors = [_person(PersonKind.INSTRUCTOR, n) for n in range(INSTRUCTORS)]
        self._groups = [
            Group(
                source_id=str(g),
                external_id=f"group:{g}",
                name=f"Groupe {g}",
                members=tuple(
                    s.external_id for s in self._students[g * PER_GROUP : (g + 1) * PER_GROUP]
                ),
            )
            for g in range(GROUPS)
        ]

    async def check(self) -> list[str]:
        return []

    async def read(self, ctx: RunContext) -> AsyncIterator[Record]:
        for person in (*self._instructors, *self._students):
            yield person
        for n in range(self._occurrences):
            group = n % GROUPS
            first = group * PER_GROUP
            day = ctx.window.first + timedelta(days=n % HORIZON_DAYS)
            start = datetime.combine(day, time(8 + n % 10), TIMEZONE)
            yield Session(
                external_id=f"session:{n}",
                name=f"Cours {n % 500}",
                start=start,
                end=start + timedelta(hours=1),
                rooms=(f"Salle {n % 40}",),
                instructors=(self._instructors[n % INSTRUCTORS],),
                students=tuple(self._students[first : first + PER_SESSION]),
                groups=(self._groups[group],),
            )
            if n % 100 == 0:
                await anyio.lowlevel.checkpoint()


def _person(kind: PersonKind, n: int) -> Person:
    return Person(
        kind=kind,
        source_id=str(n),
        external_id=f"{kind}:{n}",
        first_name="Camille",
        last_name=f"Martin{n}",
        email=f"{kind}{n}@example.org",
    )


class VirtualClock:
    """Pacing that costs no real time: sleeping moves this clock, not the world's."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await anyio.lowlevel.checkpoint()


def edusign_stub() -> httpx.MockTransport:
    """Edusign answering at once: every list empty, every create a new id."""
    ids = itertools.count(1)

    def answer(request: httpx.Request) -> httpx.Response:
        result: Any = [] if request.method == "GET" else {mapping.RESULT_ID: str(next(ids))}
        return httpx.Response(200, json={mapping.STATUS: mapping.SUCCESS, mapping.RESULT: result})

    return httpx.MockTransport(answer)


async def measure(occurrences: int, folder: Path) -> dict[str, Any]:
    source = MadeUpTimetable(occurrences)
    clock = VirtualClock()
    options = EdusignOptions.model_validate(
        {"url": "http://edusign.stub", "api_key": "stub", "sync_groups": True}
    )
    rss_before = peak_rss_mib()
    async with open_state(f"sqlite:///{folder / 'engine.db'}") as store:
        ctx = run_context(store, "engine", "timetable", utc_now())
        seams = Seams(transports={"edusign": edusign_stub()}, sleep=clock.sleep, monotonic=clock)
        setup = Setup("engine", TIMEZONE, options, ctx.report.call, seams=seams)
        async with open_sink(setup) as sink:
            with stopwatch() as elapsed:
                await run_pipeline(Pipeline(source, sink, session_rules(None)), ctx)
        report = ctx.report.finish(utc_now())
    if report.error:
        raise RuntimeError(f"the engine run failed: {report.error}")
    records = STUDENTS + INSTRUCTORS + occurrences
    return {
        "occurrences": occurrences,
        "records": records,
        "sessions_created": report.counts["session"].created,
        "wall": elapsed.wall,
        "cpu": elapsed.cpu,
        "records_per_second": records / elapsed.wall,
        "peak_rss_mib": peak_rss_mib(),
        "peak_rss_before_mib": rss_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--occurrences", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    quiet_logs()
    emit(anyio.run(measure, args.occurrences, args.folder))


if __name__ == "__main__":
    main()
