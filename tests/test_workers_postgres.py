"""Two real ``passerelle run`` processes on one PostgreSQL database: each slot runs once,
a tenant never runs twice at once, and a killed worker's tenant still gets synced."""

from __future__ import annotations

import itertools
import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import psycopg
import pytest
from anyio.abc import Process

from adapters.celcat.sandbox import CelcatSandbox, Fault, generate_institution
from core.asgi import serve_app
from core.state import open_state
from sinks.edusign.sandbox import EdusignSandbox

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

PASSERELLE = str(Path(sys.executable).parent / "passerelle")
TENANTS = ("north", "south")


async def test_two_workers_share_the_slots_and_survive_a_kill(
    postgres_url: str, tmp_path: Path
) -> None:
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    inst = generate_institution(
        seed=8, start=tomorrow, days=7, students=60, staff=10, groups=3, timetables=1
    )
    celcat = CelcatSandbox(inst, api_code="c")
    # Each run reads the timetables first: a slow answer keeps runs in flight for a kill.
    celcat.faults.append(Fault(path="^/api/timetables$", delay=1.0))
    edusign = EdusignSandbox()
    for tenant in TENANTS:
        edusign.add_school(f"key-{tenant}", name=tenant)
    async with serve_app(celcat.app) as celcat_url, serve_app(edusign.app) as edusign_url:
        config = tmp_path / "plugins.toml"
        text = f"""
[worker]
state_url = "{postgres_url}"
stalled_after_seconds = 2
shutdown_timeout_seconds = 5
"""
        for tenant in TENANTS:
            text += f"""
[tenants.{tenant}]
schedule = ["* * * * * */2"]   # every 2 seconds
[tenants.{tenant}.celcat]
url = "{celcat_url}"
api_code = "c"
[tenants.{tenant}.edusign]
url = "{edusign_url}"
api_key = "key-{tenant}"
requests_per_minute = 60000
"""
        config.write_text(text)

        async def start(name: str) -> Process:
            return await anyio.open_process(
                [
                    PASSERELLE,
                    "--log-file",
                    str(tmp_path / f"{name}.log"),
                    "run",
                    "--config",
                    str(config),
                ],
                env={**os.environ, "NO_COLOR": "1"},
            )

        first, second = await start("first"), await start("second")
        async with first, second:
            await anyio.sleep(7)
            killed_at = datetime.now(UTC)
            first.send_signal(signal.SIGKILL)
            await first.wait()
            await anyio.sleep(7)
            # Stop while a run is in flight: it must be let finish, not cut short.
            log = tmp_path / "second.log"
            with anyio.fail_after(10):
                while (text := log.read_text()).count("run started") == text.count(  # noqa: ASYNC110
                    "run finished"
                ):
                    await anyio.sleep(0.05)
            second.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                assert await second.wait() == 0

    async with open_state(postgres_url) as store:
        latest = {t: await store.latest_report(t) for t in TENANTS}
    for tenant, report in latest.items():
        assert report is not None, tenant
        assert report.started_at > killed_at, f"{tenant} still synced after the kill"
        assert report.outcome == "ok"

    with psycopg.connect(postgres_url) as connection:
        jobs = connection.execute(
            "SELECT args->>'tenant', (args->>'timestamp')::bigint, status "
            "FROM procrastinate_jobs WHERE task_name = 'passerelle.run'"
        ).fetchall()
        reports = connection.execute(
            "SELECT tenant, started_at, finished_at FROM runs ORDER BY started_at"
        ).fetchall()
    slots = Counter((tenant, timestamp) for tenant, timestamp, _ in jobs)
    assert slots, "jobs were deferred"
    assert max(slots.values()) == 1, "each slot deferred once across both workers"
    succeeded = Counter(tenant for tenant, _, status in jobs if status == "succeeded")
    assert succeeded == Counter(tenant for tenant, _, _ in reports), "each job ran once"
    for tenant in TENANTS:
        spans = [(start, end) for t, start, end in reports if t == tenant]
        assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans)), (
            "a tenant never runs twice at once"
        )
    # Which worker takes which job is the job engine's choice: on a loaded machine one
    # may take them all (seen in CI, on the old main too), so only the promises above,
    # each slot once and a tenant never twice at once, are asserted.
    for school in edusign.schools.values():
        api_ids = [c["API_ID"] for c in school.courses.values()]
        assert api_ids, "sheets were written"
        assert len(api_ids) == len(set(api_ids)), "no duplicate sheet"
