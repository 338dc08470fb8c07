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

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # whole syncs, faults injected

SEEDS = range(int(os.environ.get("PASSERELLE_FAULT_SEEDS", "6")))


def faults(seed: int) -> list[Fault]:
    """Every kind of failure a server or what stands in front of it produces."""
    # About one request in ten fails: a bad day. Four retries make an object's loss in one
    # run about 1e-4, in two runs in a row about 1e-8.
    return [
        Fault(status=500, rate=0.02, seed=seed),
        Fault(status=503, retry_after=2, rate=0.015, seed=seed + 1),
        Fault(status=429, retry_after=1, rate=0.015, seed=seed + 2),
        Fault(status=429, rate=0.015, seed=seed + 3),
        Fault(body="truncated", rate=0.015, seed=seed + 4),
        Fault(body="garbage", rate=0.015, seed=seed + 5),
        Fault(body="reset", rate=0.01, seed=seed + 6),
        Fault(delay=0.005, rate=0.05, seed=seed + 7),  # slow, then answers
    ]


REFUSED = {"status": "error", "message": "Internal error, please try again later"}
"""Edusign's way to fail with an HTTP 200: the envelope says so."""


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
        # Refusals are not retried (they may be final): the next run writes what they cost.
        faulty.edusign.faults.insert(
            0, Fault(method="POST", body="document", document=REFUSED, times=3)
        )
        reports = [await faulty.sync(), await faulty.sync()]
        refused = [e for e in reports[0].events if "Internal error" in e.detail]
        assert len(refused) == 3, "each refusal is a failure in the report"
        assert snapshot(faulty.school) == expected
        assert duplicates(faulty.school) == []
        fired = sum(f.fired for f in (*faulty.celcat.faults, *faulty.edusign.faults))
        assert fired > 0, "the faults did happen"
        for report in reports:
            failed = sum(c.failed for c in report.counts.values())
            assert failed == len([e for e in report.events if e.status == "failed"])
            assert (report.outcome == "ok") == (failed == 0)
