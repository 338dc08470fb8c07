"""Seeded random faults on both servers: after at most two runs, Edusign holds exactly what
a fault-free run writes, nothing twice, and every failure on the way was reported.

``PASSERELLE_FAULT_SEEDS`` sets how many seeds run (CI: a short budget; more by hand)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from core.sandbox import Fault
from tests.worlds import World, new_world

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


def snapshot(world: World) -> dict[str, Any]:
    """What Edusign holds, by the connector's own ids (Edusign's ids differ run to run)."""
    api_id = {
        r["ID"]: r.get("API_ID") or r["ID"]
        for kind in ("student", "professor")
        for r in getattr(world.school, f"{kind}s").values()
    }
    courses = {}
    for course in world.ours("course"):
        professors = sorted(
            api_id[v]
            for k, v in course.items()
            if (k == "PROFESSOR" or k[10:].isdigit()) and k.startswith("PROF") and v
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
    people = {
        r["API_ID"]: (r["FIRSTNAME"], r["LASTNAME"], r["EMAIL"])
        for kind in ("student", "professor")
        for r in world.ours(kind)
    }
    return {"courses": courses, "people": people}


@pytest.mark.parametrize("seed", SEEDS)
async def test_faults_leave_no_trace_after_two_runs(seed: int) -> None:
    async with new_world() as clean:
        await clean.sync()
        expected = snapshot(clean)
    async with new_world() as faulty:
        faulty.celcat.faults += faults(seed)
        faulty.edusign.faults += faults(seed + 100)
        reports = [await faulty.sync(), await faulty.sync()]
        assert snapshot(faulty) == expected
        for kind in ("course", "student", "professor"):
            api_ids = [r["API_ID"] for r in faulty.ours(kind)]
            assert len(api_ids) == len(set(api_ids)), f"a {kind} written twice"
        fired = sum(f.fired for f in (*faulty.celcat.faults, *faulty.edusign.faults))
        assert fired > 0, "the faults did happen"
        for report in reports:
            failed = sum(c.failed for c in report.counts.values())
            assert failed == len([e for e in report.events if e.status == "failed"])
            assert (report.outcome == "ok") == (failed == 0)
