"""Calls the CELCAT source makes for one run over a generated institution, by endpoint.

.venv/bin/python -m bench.celcat_calls [--students 3000] [--staff 200] [--occurrences 1500]
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import UTC, date, datetime

import anyio
import httpx

from adapters.celcat.plugin import CelcatOptions, open_source
from adapters.celcat.sandbox import CelcatSandbox, generate_institution
from bench.product import run_context
from bench.world import TIMEZONE
from core.models import Session
from core.protocols import Seams, Setup
from core.sandbox.quirks import Quirks
from core.state import open_state

NOW = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)


async def measure(students: int, staff: int, occurrences: int) -> None:
    inst = generate_institution(
        seed=11,
        start=date(2025, 10, 21),
        days=14,
        students=students,
        staff=staff,
        groups=max(1, students // 30),
        timetables=2,
        occurrences=occurrences,
    )
    # Plain answers: the calls counted are passerelle's, not a quirky server's (the
    # conformance tests are tests/contract's).
    sandbox = CelcatSandbox(inst, api_code="bench", quirks=Quirks(None))
    options = CelcatOptions.model_validate({"url": "http://celcat", "api_code": "bench"})
    async with open_state("sqlite://") as store:
        ctx = run_context(store, "bench", "timetable", NOW, dry_run=True)
        seams = Seams(transports={"celcat": httpx.ASGITransport(sandbox.app)})
        async with open_source(Setup("bench", TIMEZONE, options, seams=seams)) as source:
            sessions = sum([1 async for r in source.read(ctx) if isinstance(r, Session)])
    calls: Counter[str] = sandbox.calls
    print(
        f"{students} students, {staff} staff, {sessions} occurrences read: "
        f"{sum(calls.values())} calls to CELCAT"
    )
    for endpoint, n in sorted(calls.items(), key=lambda item: -item[1]):
        print(f"  {n:6d}  {endpoint}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--staff", type=int, default=200)
    parser.add_argument("--occurrences", type=int, default=1500)
    args = parser.parse_args()
    anyio.run(measure, args.students, args.staff, args.occurrences)


if __name__ == "__main__":
    main()
