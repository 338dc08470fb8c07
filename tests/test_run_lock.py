"""One run of a tenant pipeline at a time, across processes (issue 14, point 4).

The lock primitives on every backend (in-memory SQLite, a SQLite file, PostgreSQL), then
two real runs of one tenant at once against the sandboxes on loopback: exactly one writes,
the other is refused, and Edusign ends with no sheet twice.
"""

from __future__ import annotations

import os
import socket
import sys
import textwrap
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from loguru import logger
from starlette.types import Receive, Scope, Send

from adapters.celcat.sandbox import CelcatSandbox, generate_institution
from core.asgi import serve_app
from core.config import Config, load_config
from core.errors import AlreadyRunning
from core.plugins import Registry, default_registry
from core.runner import run_tenant
from core.scheduler import Job
from core.state import StateStore, locks, open_state
from core.worker import run_slot
from sinks.edusign.sandbox import EdusignSandbox
from tests.processes import PASSERELLE, logged, running, terminated, wait_for

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)
KEY = "edusign-lock-key"
ME = f"pid {os.getpid()} on {socket.gethostname()}"


@asynccontextmanager
async def two_stores(url: str) -> AsyncIterator[tuple[StateStore, StateStore]]:
    """Two stores on ``url``, as two processes would open it; in memory, one store (an
    in-memory database is one process's own)."""
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(open_state(url))
        second = first if url == "sqlite://" else await stack.enter_async_context(open_state(url))
        yield first, second


async def test_a_second_run_is_refused_naming_the_first(state_url: str) -> None:
    async with two_stores(state_url) as (first, second):
        async with first.run_lock("acme", "timetable", run_id="r1"):
            with pytest.raises(AlreadyRunning) as refused:
                async with second.run_lock("acme", "timetable", run_id="r2"):
                    pytest.fail("two runs of acme timetable at once")
            message = str(refused.value)
            assert message.startswith("another run of acme timetable holds it (")
            assert f"({ME} since " in message
            assert message.endswith(", run r1)")
            # Other tenants and other pipelines are not held.
            async with second.run_lock("acme", "return-attendance", run_id="r3"):
                pass
            async with second.run_lock("other", "timetable", run_id="r4"):
                pass
        async with second.run_lock("acme", "timetable", run_id="r5"):
            pass  # released at the end of the first run


async def test_a_run_that_may_wait_starts_once_the_holder_ends(
    state_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused_once = anyio.Event()

    async def nap(seconds: float) -> None:
        refused_once.set()  # the waiter tried, found the lock held, and waits
        await anyio.sleep(seconds)

    monkeypatch.setattr(locks, "_nap", nap)
    order: list[str] = []
    async with two_stores(state_url) as (first, second), anyio.create_task_group() as tg:

        async def waiter() -> None:
            async with second.run_lock("acme", "timetable", run_id="w", wait=60):
                order.append("waiter runs")

        async with first.run_lock("acme", "timetable", run_id="h"):
            tg.start_soon(waiter)
            with anyio.fail_after(30):  # a bound on a wait that must end, not a timing
                await refused_once.wait()
            order.append("holder ends")
    assert order == ["holder ends", "waiter runs"]


_HOLD = textwrap.dedent("""
    import sys, anyio
    from core.state import open_state

    async def main(url):
        async with open_state(url) as store:
            async with store.run_lock("acme", "timetable", run_id="killed"):
                print("held", flush=True)
                await anyio.sleep_forever()

    anyio.run(main, sys.argv[1])
""")


@pytest.mark.slow  # starts a process
async def test_a_killed_holder_frees_the_lock(durable_state_url: str) -> None:
    """The OS (file) or the server (PostgreSQL) frees a dead process's lock."""
    holder = await anyio.open_process([sys.executable, "-c", _HOLD, durable_state_url], env=env())
    async with holder:
        assert holder.stdout is not None
        said = b""
        while not said.endswith(b"\n"):  # "held", once the lock is taken
            said += await holder.stdout.receive()
        assert said == b"held\n"
        async with open_state(durable_state_url) as store:
            with pytest.raises(AlreadyRunning, match=rf"\(pid {holder.pid} on .* run killed\)"):
                async with store.run_lock("acme", "timetable", run_id="mine"):
                    pytest.fail("the lock of a live holder was taken")
            holder.kill()
            await holder.wait()
            # The server notices the closed connection on its own time: wait for it.
            async with store.run_lock("acme", "timetable", run_id="mine", wait=30):
                pass


# Two real runs of one tenant at once


class Gate:
    """Edusign, except that the first sheet created waits for ``opened``: the first run
    is held in flight, lock taken and Edusign listed, as it is about to write."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.arrived = anyio.Event()
        self.opened = anyio.Event()
        self._first = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and (scope["method"], scope["path"]) == ("POST", "/v1/course")
            and self._first
        ):
            self._first = False
            self.arrived.set()
            await self.opened.wait()
        await self.app(scope, receive, send)


@asynccontextmanager
async def acme(
    state_url: str, tmp_path: Path, *, start: date = date(2025, 10, 21), worker: str = ""
) -> AsyncIterator[tuple[Config, Gate, EdusignSandbox]]:
    """Acme's CELCAT and Edusign served on loopback, and its configuration, written to
    ``tmp_path / "plugins.toml"`` (``worker``: more ``[worker]`` keys)."""
    inst = generate_institution(
        seed=11, start=start, days=14, students=60, staff=10, groups=3, timetables=1
    )
    celcat = CelcatSandbox(inst, api_code="c")
    edusign = EdusignSandbox()
    edusign.add_school(KEY, name="Acme")
    gate = Gate(edusign.app)
    async with serve_app(celcat.app) as celcat_url, serve_app(gate) as edusign_url:
        path = tmp_path / "plugins.toml"
        path.write_text(f"""
[worker]
state_url = "{state_url}"
{worker}
[tenants.acme]
schedule = ["* * * * * */2"]   # every 2 seconds, for the worker's tests

[tenants.acme.celcat]
url = "{celcat_url}"
api_code = "c"

[tenants.acme.edusign]
url = "{edusign_url}"
api_key = "{KEY}"
requests_per_minute = 60000
""")
        yield load_config(path, default_registry()), gate, edusign


def duplicated(edusign: EdusignSandbox) -> dict[str, int]:
    """API_IDs held by more than one sheet."""
    held = Counter(
        c.get("API_ID") for school in edusign.schools.values() for c in school.courses.values()
    )
    return {api_id: n for api_id, n in held.items() if api_id and n > 1}


@pytest.mark.slow  # two whole syncs at once
async def test_two_runs_of_one_tenant_at_once_one_writes_the_other_is_refused(
    state_url: str, tmp_path: Path
) -> None:
    registry: Registry = default_registry()
    reports = []
    async with (
        acme(state_url, tmp_path) as (config, gate, edusign),
        two_stores(state_url) as (first, second),
    ):
        async with anyio.create_task_group() as tg:

            async def run_first() -> None:
                reports.append(await run_tenant(config, registry, first, "acme", now=NOW))

            tg.start_soon(run_first)
            await gate.arrived.wait()  # the first run is in flight, about to write
            refused: AlreadyRunning | None = None
            try:
                reports.append(await run_tenant(config, registry, second, "acme", now=NOW))
            except AlreadyRunning as exc:
                refused = exc
            finally:
                gate.opened.set()
            # A dry run writes nothing: it takes no lock and is not held up.
            dry = await run_tenant(config, registry, second, "acme", now=NOW, dry_run=True)
            assert dry.outcome == "ok"
        latest = await second.latest_report("acme")
    assert duplicated(edusign) == {}
    assert refused is not None, "the second run was let in"
    assert str(refused).startswith("another run of acme timetable holds it (")
    (report,) = reports
    assert report.outcome == "ok"
    assert sum(c.created for c in report.counts.values()) > 0
    assert latest is not None
    assert latest.run_id == report.run_id, "the refused run stored no report"


async def test_a_worker_slot_whose_tenant_is_held_is_skipped_and_logged(
    state_url: str, tmp_path: Path
) -> None:
    logged: list[str] = []
    sink = logger.add(logged.append, level="WARNING", format="{message}")
    try:
        async with (
            acme(state_url, tmp_path) as (config, _, edusign),
            two_stores(state_url) as (first, second),
        ):
            slot = datetime(2025, 10, 20, 11, 7, tzinfo=UTC)
            async with first.run_lock("acme", "timetable", run_id="by-hand"):
                await run_slot(config, default_registry(), second, Job("acme", "timetable", slot))
            assert await second.latest_report("acme") is None, "nothing ran, nothing reported"
    finally:
        logger.remove(sink)
    assert edusign.schools[KEY].courses == {}
    (line,) = [m for m in logged if "skipped" in m]
    assert line.startswith(f"timetable slot {slot} skipped: another run of acme timetable")
    assert f"({ME} since " in line


# Real processes: `sync` against a running worker, two workers on one SQLite file


def env() -> dict[str, str]:
    """The command runs the code under test: this checkout's, whatever is installed."""
    here = str(Path(__file__).parents[1])
    path = os.pathsep.join(filter(None, (here, os.environ.get("PYTHONPATH"))))
    return {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "200"}


async def start_worker(config: Path, log: Path) -> Process:
    return await anyio.open_process(
        [PASSERELLE, "--log-file", str(log), "run", "--config", str(config)], env=env()
    )


@pytest.mark.slow  # starts a process
async def test_sync_by_hand_while_the_worker_runs_the_tenant_is_refused(
    durable_state_url: str, tmp_path: Path
) -> None:
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)  # a real process, a real clock
    settings = "shutdown_timeout_seconds = 10\nstalled_after_seconds = 2\n"
    log = tmp_path / "worker.log"
    async with acme(durable_state_url, tmp_path, start=tomorrow, worker=settings) as (
        _,
        gate,
        edusign,
    ):
        config = tmp_path / "plugins.toml"
        worker = await start_worker(config, log)
        async with running(worker):
            try:
                with anyio.fail_after(60):  # a bound for a wait that must end
                    await gate.arrived.wait()  # the worker's run is about to write
                sync = await anyio.run_process(
                    [PASSERELLE, "sync", "acme", "--config", str(config)], check=False, env=env()
                )
            finally:
                gate.opened.set()
            await wait_for(lambda: logged(log, "run finished"), "the worker's run to finish")
            assert await terminated(worker) == 0
    said = (sync.stdout + sync.stderr).decode()
    assert duplicated(edusign) == {}
    assert sync.returncode == 3, said
    holder = f"pid {worker.pid} on {socket.gethostname()} since "
    assert f"refused: another run of acme timetable holds it ({holder}" in said, said


@pytest.mark.slow  # starts a process
async def test_a_second_worker_on_one_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    config = tmp_path / "plugins.toml"
    config.write_text(f"""
[worker]
state_url = "sqlite:///{tmp_path / "state.db"}"
grace_minutes = 0

[tenants.acme]
schedule = ["0 3 1 1 *"]   # once a year: this test runs nothing

[tenants.acme.celcat]
url = "http://127.0.0.1:9"

[tenants.acme.edusign]
url = "http://127.0.0.1:9"
api_key = "k"
""")
    log = tmp_path / "first.log"
    first = await start_worker(config, log)
    async with running(first):
        await wait_for(lambda: logged(log, "worker started"), "the first worker")
        with anyio.fail_after(60):  # a second worker let in would never stop by itself
            second = await anyio.run_process(
                [PASSERELLE, "run", "--config", str(config)], check=False, env=env()
            )
        assert await terminated(first) == 0
    said = (second.stdout + second.stderr).decode()
    assert second.returncode == 2, said
    assert "refused: another worker runs on the state store" in said, said
    assert f"(pid {first.pid} on {socket.gethostname()} since " in said, said
