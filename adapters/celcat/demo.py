"""The CELCAT sandbox in ``passerelle demo``: a generated institution on a loopback port,
and CAWS beside it for the attendance that comes back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from adapters.celcat.caws_sandbox import CawsSandbox
from adapters.celcat.sandbox import CelcatSandbox, Institution, generate_institution
from core import DemoSettings
from core.sandbox import serve_app

API_CODE = "demo-api-code"
CAWS_USER, CAWS_PASSWORD, CAWS_TIMETABLE, CAWS_ROLE = "passerelle", "demo-pw", "TT", "Admin"


def demo_institution(settings: DemoSettings) -> Institution:
    """A few hundred students over two timetables, with a handful of bad records."""
    return generate_institution(
        seed=settings.seed,
        start=settings.first_day,
        days=14,
        students=300,
        staff=30,
        groups=12,
        timetables=2,
    )


class CelcatDemo:
    def __init__(self, inst: Institution, url: str) -> None:
        self._inst = inst
        self.options: dict[str, Any] = {
            "url": url,
            "api_code": API_CODE,
            "event_category_names_excluded": ["Réunion"],
        }

    async def change(self) -> list[str]:
        """Rename one course, move another by a day, cancel a third."""
        planted = set().union(*self._inst.planted.values())
        events = [
            e
            for e in self._inst.timetables[1].events.values()
            if not any(f"1:{e.id}:" in key for key in planted) and len(e.dates) >= 1
        ]
        renamed, moved, removed = events[0], events[1], events[2]
        self._inst.rename_event(1, renamed.id, f"{renamed.name} (salle changée)")
        day = min(moved.dates)
        self._inst.move_event(1, moved.id, day, day + timedelta(days=1))
        self._inst.remove_event(1, removed.id)
        return [
            f"renamed event {renamed.id} to {renamed.name!r}",
            f"moved event {moved.id} from {day} to {day + timedelta(days=1)}",
            f"cancelled event {removed.id} ({len(removed.dates)} session(s))",
        ]

    async def attend(self, now: datetime) -> list[str]:
        return []

    def received(self) -> list[str]:
        return []


@asynccontextmanager
async def celcat_demo(settings: DemoSettings) -> AsyncIterator[CelcatDemo]:
    inst = demo_institution(settings)
    sandbox = CelcatSandbox(inst, api_code=API_CODE)
    async with serve_app(sandbox.app) as url:
        yield CelcatDemo(inst, url)


class CawsDemo:
    def __init__(self, sandbox: CawsSandbox, url: str) -> None:
        self._sandbox = sandbox
        self.options: dict[str, Any] = {
            "caws_url": url,
            "username": CAWS_USER,
            "password": CAWS_PASSWORD,
            "timetable_alias": CAWS_TIMETABLE,
            "role": CAWS_ROLE,
            "timetable_id": 1,
        }

    async def change(self) -> list[str]:
        return []

    async def attend(self, now: datetime) -> list[str]:
        return []

    def received(self) -> list[str]:
        marks = [
            (rid, m)
            for rid, body in self._sandbox.puts
            for m in body["StudentMarks"]
            if m.get("Modified")
        ]
        names = {d.MarkId: d.Abbreviation for d in self._sandbox.marks.values()}
        tally: dict[str, int] = {}
        for _, mark in marks:
            tally[names[mark["MarkId"]]] = tally.get(names[mark["MarkId"]], 0) + 1
        shown = ", ".join(f"{n} {abbreviation}" for abbreviation, n in sorted(tally.items()))
        return [f"CELCAT (CAWS) received {len(self._sandbox.puts)} register(s): {shown or '-'}"]


@asynccontextmanager
async def caws_demo(settings: DemoSettings) -> AsyncIterator[CawsDemo]:
    """CAWS with a register for every event and week of timetable 1, all students on it."""
    inst = demo_institution(settings)
    sandbox = CawsSandbox(
        username=CAWS_USER, password=CAWS_PASSWORD, timetable=CAWS_TIMETABLE, role=CAWS_ROLE
    )
    timetable = inst.timetables[1]
    students = sorted(inst.students)
    weeks = {timetable.week_of(settings.first_day + timedelta(days=d)) for d in range(-7, 22)}
    for event_id in range(min(timetable.events), max(timetable.events) + 40):
        for week in sorted(weeks):
            sandbox.add_register(event_id, week, staff_id=1, student_ids=students)
    async with serve_app(sandbox.app) as url:
        yield CawsDemo(sandbox, url)
