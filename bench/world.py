"""What the benchmarks run against: tenants of given sizes, their generated CELCAT
institutions, and the changes made to them between two syncs.

Shared by the sandbox host (which builds and serves the institutions) and the scenarios
(which configure passerelle for the same tenants), so both agree on names and keys.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from adapters.celcat.sandbox import Institution, generate_institution

TIMEZONE = ZoneInfo("Europe/Paris")
HORIZON_DAYS = 14
API_CODE = "bench-api-code"


@dataclass(frozen=True, slots=True)
class TenantSpec:
    """A tenant: its institution's sizes, and the seed that makes it."""

    name: str
    seed: int
    students: int
    staff: int
    groups: int
    occurrences: int

    @property
    def edusign_key(self) -> str:
        return f"bench-key-{self.name}"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Size:
    """How big each scenario is: ``full`` is the issue's, ``tiny`` keeps CI quick."""

    large: TenantSpec
    small_tenants: int
    small: TenantSpec
    engine_occurrences: int

    def small_tenant(self, index: int) -> TenantSpec:
        """The ``index``-th small tenant: the ``small`` sizes, give or take a quarter, so
        that one of them is the slowest."""
        rng = random.Random(index)
        scale = rng.uniform(0.75, 1.25)
        base = self.small
        return TenantSpec(
            name=f"small{index:03d}",
            seed=1_000 + index,
            students=max(base.groups, round(base.students * scale)),
            staff=max(1, round(base.staff * scale)),
            groups=base.groups,
            occurrences=max(1, round(base.occurrences * scale)),
        )

    def small_tenant_list(self) -> list[TenantSpec]:
        return [self.small_tenant(i) for i in range(self.small_tenants)]

    def solo(self) -> TenantSpec:
        """A copy of the biggest small tenant, with a key of its own, to be run alone."""
        biggest = max(self.small_tenant_list(), key=lambda t: t.students + t.occurrences)
        return replace(biggest, name="solo")


SIZES = {
    "full": Size(
        large=TenantSpec("large", 11, students=3_000, staff=200, groups=100, occurrences=1_500),
        small_tenants=200,
        small=TenantSpec("small", 0, students=40, staff=6, groups=2, occurrences=20),
        engine_occurrences=100_000,
    ),
    "tiny": Size(
        large=TenantSpec("large", 11, students=120, staff=12, groups=4, occurrences=60),
        small_tenants=4,
        small=TenantSpec("small", 0, students=20, staff=3, groups=2, occurrences=8),
        engine_occurrences=2_000,
    ),
}


def first_day(now: datetime) -> date:
    """The first day of a sync's window at ``now``: tomorrow, in the tenants' zone."""
    return now.astimezone(TIMEZONE).date() + timedelta(days=1)


def institution(spec: TenantSpec, start: date) -> Institution:
    """The tenant's institution, its occurrences all inside the window starting ``start``,
    and no planted bad records: every object is one passerelle must write."""
    return generate_institution(
        seed=spec.seed,
        start=start,
        days=HORIZON_DAYS,
        students=spec.students,
        staff=spec.staff,
        groups=spec.groups,
        timetables=2,
        occurrences=spec.occurrences,
        bad_records=False,
    )


def change_occurrences(inst: Institution, fraction: float, seed: int = 7) -> int:
    """Change about ``fraction`` of the occurrences and return how many sheets that
    changes (a CELCAT change is made to an event, so it reaches all its occurrences).

    Each chosen event gets one change, in turn: a new name, new times, one more student
    (one who already has other courses, so no person is created)."""
    events = [(t.id, e) for t in inst.timetables.values() for e in t.events.values() if e.dates]
    random.Random(seed).shuffle(events)
    target = max(1, round(inst.occurrence_count() * fraction))
    known_students = sorted({s for _, e in events for s in e.students})
    changed = 0
    for turn, (timetable, event) in enumerate(events):
        if changed >= target:
            break
        match turn % 3:
            case 0:
                inst.rename_event(timetable, event.id, f"{event.name} (modifié)")
            case 1:
                inst.set_times(timetable, event.id, _later(event.start), _later(event.end))
            case _:
                extra = next(s for s in known_students if s not in event.students)
                inst.add_student_to_event(timetable, event.id, extra)
        changed += len(event.dates)
    return changed


def _later(moment: time) -> time:
    """A quarter of an hour later (courses are daytime: no wrap past midnight)."""
    return (datetime.combine(date.min, moment) + timedelta(minutes=15)).time()


def celcat_minimum(inst: Institution, first: date, page_size: int = 1_000) -> int:
    """The fewest Web API calls that read a window of ``inst``, as the API is shaped: each
    list once, in pages; each timetable's occurrences day by day (the API filters by
    date only); and the four assignment lists of each event that occurs (the extended
    event record does not carry them)."""
    lists = [
        inst.staff, inst.students, inst.memberships, inst.rooms, inst.groups,
        inst.categories, inst.timetables,
    ]  # fmt: skip
    calls = sum(_pages(len(rows), page_size) for rows in lists)
    days = [first + timedelta(days=n) for n in range(HORIZON_DAYS)]
    for timetable in inst.timetables.values():
        on_day = [sum(1 for e in timetable.events.values() if day in e.dates) for day in days]
        calls += sum(_pages(n, page_size) for n in on_day)
        calls += 4 * sum(1 for e in timetable.events.values() if e.dates & set(days))
    return calls


def _pages(rows: int, page_size: int) -> int:
    return max(1, -(-rows // page_size))
