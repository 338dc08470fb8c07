"""Seeded random faults on both servers: after at most two runs, Edusign holds exactly what
a fault-free run writes, nothing twice, and every failure on the way was reported.

``PASSERELLE_FAULT_SEEDS`` sets how many seeds run (CI: a short budget; more by hand)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from core.sandbox import Fault
from sinks.edusign.sandbox import School
from tests.worlds import new_world

pytestmark = pytest.mark.anyio

SEEDS = range(int(os.environ.get("PASSERELLE_FAULT_SEEDS", "6")))


def faults(seed: int) -> list[Fault]:
    """Every kind of failure a server or what stands in front of it produces."""
    return [
        Fault(status=500, rate=0.04, seed=seed),
        Fault(status=503, retry_after=2, rate=0.03, seed=seed + 1),
        Fault(status=429, retry_after=1, rate=0.03, seed=seed + 2),
        Fault(status=429, rate=0.03, seed=seed + 3),
        Fault(body="truncated", rate=0.03, seed=seed + 4),
        Fault(body="garbage", rate=0.03, seed=seed + 5),
        Fault(body="reset", rate=0.02, seed=seed + 6),
    ]


def ours(records: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in records.values() if r.get("API_TYPE") == "passerelle"]


def snapshot(school: School) -> dict[str, Any]:
    """What Edusign holds, by the connector's own ids (Edusign's ids differ run to run)."""
    people = {**school.students, **school.professors}
    api_id = {r["ID"]: r.get("API_ID") or r["ID"] for r in people.values()}
    courses = {}
    for course in ours(school.courses):
        professors = sorted(
            api_id[v]
            for k, v in course.items()
            if v and (k == "PROFESSOR" or k.removeprefix("PROFESSOR_").isdigit())
        )
        students = sorted(api_id[e["studentId"]] for e in course["STUDENTS"])
        courses[course["API_ID"]] = (
            course["NAME"],
            course["START"],
            course["END"],
            course["CLASSROOM"],
            professors,
            students,
        )
    return {
        "courses": courses,
        "people": {r["API_ID"]: (r["FIRSTNAME"], r["LASTNAME"], r["EMAIL"]) for r in ours(people)},
    }


def duplicates(school: School) -> list[str]:
    """The connector's ids that Edusign holds more than once."""
    api_ids = [
        r["API_ID"]
        for records in (school.courses, school.students, school.professors)
        for r in ours(records)
    ]
    return sorted({a for a in api_ids if api_ids.count(a) > 1})


@pytest.mark.parametrize("seed", SEEDS)
async def test_faults_leave_no_trace_after_two_runs(seed: int) -> None:
    async with new_world() as clean:
        await clean.sync()
        expected = snapshot(clean.school)
    async with new_world() as faulty:
        faulty.celcat.faults += faults(seed)
        faulty.edusign.faults += faults(seed + 100)
        reports = [await faulty.sync(), await faulty.sync()]
        assert snapshot(faulty.school) == expected
        assert duplicates(faulty.school) == []
        fired = sum(f.fired for f in (*faulty.celcat.faults, *faulty.edusign.faults))
        assert fired > 0, "the faults did happen"
        for report in reports:
            failed = sum(c.failed for c in report.counts.values())
            assert failed == len([e for e in report.events if e.status == "failed"])
            assert (report.outcome == "ok") == (failed == 0)
