"""Bounds on runs and on the worker (issue 15): a run deadline, hung tenants that do not
starve the others, a health check that follows the loop, no second run of a slot after a
restart, a stop that ends whatever the database does, an honest Ctrl-C.

Schedules run on a controllable clock; the run deadline is real time, so it is small
(a fraction of a second) and nothing is asserted about how long anything took.

This module is also a plugin (``hangsource``: a source that never answers), loaded
through ``entry_point`` like the sample plugins.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx
import pytest
from anyio.abc import Process
from loguru import logger
from typer.testing import CliRunner

import core.cli
import core.runner
from core import Record, RunContext, SourceSpec, hookimpl
from core.config import Config, load_config
from core.health import health_app
from core.metrics import Metrics
from core.options import PluginOptions
from core.plugins import Registry, load_registry
from core.protocols import Setup
from core.report import Outcome, ReportBuilder, RunReport
from core.runner import run_tenant
from core.scheduler import Job, Scheduler
from core.state import open_state
from core.worker import run_slot
from tests.processes import ended, wait_for
from tests.sample_plugins import entry_point
from tests.test_scheduler import START, ManualClock, Runs, running

pytestmark = pytest.mark.anyio

PASSERELLE = str(Path(sys.executable).parent / "passerelle")
ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 0.3
BEFORE_NINE = datetime(2025, 10, 20, 6, 59, tzinfo=UTC)  # 08:59 in Paris


# The plugin: a source whose server never answers.


class HangOptions(PluginOptions):
    pass


class HangingSource:
    async def read(self, ctx: RunContext) -> AsyncIterator[Record]:
        for record in await self._ask(ctx):
            yield record

    async def _ask(self, ctx: RunContext) -> list[Record]:
        ctx.log.info("asking a server that never answers")
        await anyio.sleep_forever()
        return []

    async def check(self) -> list[str]:
        return []


@asynccontextmanager
async def open_hanging(setup: Setup[HangOptions]) -> AsyncIterator[HangingSource]:
    yield HangingSource()


@hookimpl
def passerelle_register_sources(register: Callable[[SourceSpec], None]) -> None:
    register(SourceSpec(name="hangsource", options=HangOptions, open=open_hanging))


def registry() -> Registry:
    return load_registry(
        [
            entry_point("sample", "tests.sample_plugins"),
            entry_point("bounds", "tests.test_worker_bounds"),
        ]
    )


def configure(
    tmp_path: Path,
    tenants: dict[str, str],
    *,
    worker: str = "",
    schedule: str = '["0 9 * * *"]',
    hanging: tuple[str, ...] = (),
) -> tuple[Config, Registry, Path]:
    """Tenants with their own extra keys (``schedule`` unless they set theirs); those in
    ``hanging`` read from ``hangsource``."""
    text = f'[worker]\nstate_url = "sqlite:///{tmp_path / "state.db"}"\n{worker}\n'
    for name, extra in tenants.items():
        source = "hangsource" if name in hanging else "memsource"
        own = extra if "schedule" in extra else f"schedule = {schedule}\n{extra}"
        text += (
            f"[tenants.{name}]\n{own}\n[tenants.{name}.{source}]\n"
            f"[tenants.{name}.memsink]\napi_key = 'k-{name}'\n"
        )
    path = tmp_path / "plugins.toml"
    path.write_text(text)
    loaded = registry()
    config = load_config(path, loaded)
    assert config.problems == []
    return config, loaded, path


@pytest.fixture
def messages() -> Iterator[list[str]]:
    """Every log line as ``tenant message``."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m).rstrip("\n")), format="{extra} {message}")
    yield lines
    logger.remove(sink)


# 2. A run deadline, for the worker and for sync.


@pytest.mark.parametrize(
    ("worker", "tenant"),
    [(f"run_deadline_seconds = {DEADLINE}", ""), ("", f"run_deadline_seconds = {DEADLINE}")],
    ids=["worker", "tenant"],
)
async def test_a_run_past_its_deadline_is_failed_and_its_report_stored(
    tmp_path: Path, worker: str, tenant: str
) -> None:
    config, loaded, _ = configure(tmp_path, {"acme": tenant}, worker=worker, hanging=("acme",))
    async with open_state(config.worker.state_url) as store:
        with anyio.fail_after(30):  # a guard against a hang, not a measure
            report = await run_tenant(config, loaded, store, "acme")
        stored = await store.latest_report("acme")
    assert report.outcome == Outcome.FAILED
    assert report.error == f"the run passed its deadline of {DEADLINE:g} s"
    assert stored is not None
    assert (stored.run_id, stored.outcome, stored.error) == (
        report.run_id,
        Outcome.FAILED,
        report.error,
    )


def test_sync_past_its_deadline_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, path = configure(
        tmp_path, {"acme": ""}, worker=f"run_deadline_seconds = {DEADLINE}", hanging=("acme",)
    )
    monkeypatch.setattr(core.cli, "default_registry", registry)
    result = CliRunner().invoke(core.cli.app, ["sync", "acme", "--config", str(path), "--json"])
    assert result.exit_code == 3, result.output
    assert "the run passed its deadline of 0.3 s" in result.output


async def test_a_report_is_given_up_when_the_store_hangs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, messages: list[str]
) -> None:
    """The clean-up is shielded from the cancellation, but bounded: a store that never
    answers does not hold the run (nor the worker's stop) for ever."""
    config, loaded, _ = configure(
        tmp_path, {"acme": ""}, worker=f"run_deadline_seconds = {DEADLINE}", hanging=("acme",)
    )
    monkeypatch.setattr(core.runner, "SAVE_SECONDS", DEADLINE)

    async def never(report: RunReport) -> None:
        await anyio.sleep_forever()

    async with open_state(config.worker.state_url) as store:
        monkeypatch.setattr(store, "save_report", never)
        with anyio.fail_after(30):
            report = await run_tenant(config, loaded, store, "acme")
    assert report.outcome == Outcome.FAILED
    assert any("could not be stored within" in line for line in messages)


# 3. Hung tenants do not starve the worker; a waiting run is said to wait.


async def test_a_waiting_run_is_logged_as_waiting_not_as_still_going(
    tmp_path: Path, messages: list[str]
) -> None:
    clock = ManualClock(START)
    config, loaded, _ = configure(
        tmp_path,
        {"hung1": "", "hung2": "", "third": ""},
        worker="max_concurrent_tenants = 2",
        schedule='["*/10 * * * *"]',
    )
    runs = Runs(clock)
    runs.hold["hung1"] = anyio.Event()
    runs.hold["hung2"] = anyio.Event()
    worker = Scheduler(config, loaded, runs, clock=clock, sleep=clock.sleep)
    async with running(worker):
        await clock.advance(timedelta(minutes=25))
        assert runs.of("third") == [], "both places are taken"
        runs.hold["hung1"].set()
        runs.hold["hung2"].set()
    third = [line for line in messages if "'third'" in line]
    assert third, "the waiting run was logged"
    assert not any("still going" in line for line in third), third
    assert any("waiting for a free place (2 of 2 places busy" in line for line in third), third


async def test_waiting_runs_start_in_the_order_they_became_due(tmp_path: Path) -> None:
    clock = ManualClock(BEFORE_NINE)
    names = ["a", "b", "c", "d"]
    # Each its own minute, the last first in the file: 09:00 a, 09:01 b, ...
    tenants = {name: f'schedule = ["{minute} 9 * * *"]' for minute, name in enumerate(names)}
    config, loaded, _ = configure(
        tmp_path, dict(reversed(tenants.items())), worker="max_concurrent_tenants = 1"
    )
    runs = Runs(clock)
    for name in names:
        runs.hold[name] = anyio.Event()
    worker = Scheduler(config, loaded, runs, clock=clock, sleep=clock.sleep)
    async with running(worker):
        await clock.advance(timedelta(minutes=10))
        for name in names:
            runs.hold[name].set()
            await anyio.wait_all_tasks_blocked()
    assert [t for t, _, _, _ in runs.started] == names


async def test_hung_tenants_are_cut_at_their_deadline_and_the_third_one_runs(
    tmp_path: Path,
) -> None:
    clock = ManualClock(BEFORE_NINE)
    config, loaded, _ = configure(
        tmp_path,
        {"hung1": "", "hung2": "", "third": ""},
        worker=f"max_concurrent_tenants = 2\nrun_deadline_seconds = {DEADLINE}",
        hanging=("hung1", "hung2"),
    )
    finished: dict[str, RunReport | None] = {}
    third_done = anyio.Event()
    async with open_state(config.worker.state_url) as store:

        async def run_job(job: Job, current: Config) -> None:
            await run_slot(current, loaded, store, job)
            finished[job.tenant] = await store.latest_report(job.tenant)
            if job.tenant == "third":
                third_done.set()

        worker = Scheduler(config, loaded, run_job, clock=clock, sleep=clock.sleep)
        async with running(worker):
            await clock.advance(timedelta(minutes=2))
            with anyio.fail_after(30):
                await third_done.wait()
    outcomes = {name: report.outcome if report else None for name, report in finished.items()}
    assert outcomes == {"hung1": Outcome.FAILED, "hung2": Outcome.FAILED, "third": Outcome.OK}


# 4. /healthz between two slots.


async def test_healthz_stays_ok_between_slots_hours_apart(tmp_path: Path) -> None:
    clock = ManualClock(START)  # 08:00 in Paris; the next slot is at 12:00
    config, loaded, _ = configure(tmp_path, {"acme": ""}, schedule='["0 12 * * *", "0 0 * * *"]')
    metrics = Metrics()

    def seconds() -> float:  # the loop's clock, as seconds
        return clock.now.timestamp()

    worker = Scheduler(
        config,
        loaded,
        Runs(clock),
        clock=clock,
        sleep=clock.sleep,
        on_tick=lambda: metrics.tick(seconds()),
        heartbeat=30.0,  # the service's HEARTBEAT_SECONDS
    )
    app = health_app(metrics, clock=seconds, stale_after=300.0)
    transport = httpx.ASGITransport(app=app)
    async with running(worker), httpx.AsyncClient(transport=transport, base_url="http://w") as http:
        for _ in range(3):
            await clock.advance(timedelta(seconds=320), step=timedelta(seconds=5))
            answer = await http.get("/healthz")
            assert answer.status_code == 200, answer.json()


# 5. A restart does not run again a slot that already ran.


@pytest.mark.parametrize("ran", [True, False], ids=["ran-before-restart", "never-ran"])
async def test_a_restart_does_not_run_a_slot_again(tmp_path: Path, ran: bool) -> None:
    slot = datetime(2025, 10, 20, 9, 12, tzinfo=UTC)  # 11:12 in Paris
    config, loaded, _ = configure(tmp_path, {"acme": ""}, schedule='["12 11 * * *"]')
    async with open_state(config.worker.state_url) as store:
        if ran:  # the worker ran it at 11:12:04 and was restarted at 11:12:18
            builder = ReportBuilder(
                RunReport(
                    run_id="r1",
                    tenant="acme",
                    pipeline="timetable",
                    started_at=slot + timedelta(seconds=4),
                )
            )
            await store.save_report(builder.finish(slot + timedelta(seconds=9)))
        clock = ManualClock(slot + timedelta(seconds=18))
        runs = Runs(clock)

        async def last_started(tenant: str, pipeline: str) -> datetime | None:
            report = await store.latest_report(tenant, pipeline)
            return None if report is None else report.started_at

        worker = Scheduler(
            config, loaded, runs, clock=clock, sleep=clock.sleep, last_started=last_started
        )
        async with running(worker):
            await clock.advance(timedelta(minutes=5))
    assert len(runs.started) == (0 if ran else 1)


# 10. Ctrl-C on sync is stored as such.


async def start(tmp_path: Path, *args: str) -> Process:
    """``passerelle ARGS`` with this module's plugins registered; its output goes to files
    (a pipe nobody reads could fill up and block it)."""
    code = (
        "import core.cli, tests.test_worker_bounds as t; "
        "core.cli.default_registry = t.registry; core.cli.main()"
    )
    with (tmp_path / "stdout").open("wb") as out, (tmp_path / "stderr").open("wb") as err:
        return await anyio.open_process(
            [sys.executable, "-c", code, *args],
            cwd=ROOT,
            env={**os.environ, "NO_COLOR": "1"},
            stdout=out,
            stderr=err,
        )


@pytest.mark.slow  # starts a process
async def test_ctrl_c_on_sync_is_stored_as_an_interruption(tmp_path: Path) -> None:
    config, _, path = configure(tmp_path, {"acme": ""}, hanging=("acme",))
    log = tmp_path / "sync.log"
    process = await start(tmp_path, "--log-file", str(log), "sync", "acme", "--config", str(path))
    async with process:
        await wait_for(
            lambda: log.exists() and "never answers" in log.read_text(), "the run started"
        )
        process.send_signal(signal.SIGINT)
        await ended(process)
    assert process.returncode == 130, "128 + SIGINT, as a shell reports Ctrl-C"
    assert "Traceback" not in (tmp_path / "stderr").read_text()
    async with open_state(config.worker.state_url, read_only=True) as store:
        report = await store.latest_report("acme")
    assert report is not None
    assert report.outcome == Outcome.FAILED
    assert report.error == "interrupted before the end (Ctrl-C)"


# 6. SIGTERM is honoured when PostgreSQL goes silent.


class BlackHole:
    """A TCP proxy on loopback to PostgreSQL that, once ``cut``, forwards nothing more and
    answers nothing, keeping every connection open: a server gone silent."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.cut = anyio.Event()

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int]) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        async with listener:
            task_status.started(listener.extra(anyio.abc.SocketAttribute.local_port))
            await listener.serve(self._handle)

    async def _handle(self, client: anyio.abc.SocketStream) -> None:
        if self.cut.is_set():
            await anyio.sleep_forever()  # accepted, never answered
        async with (
            client,
            await anyio.connect_tcp(*self.target) as server,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(self._pipe, client, server)
            tg.start_soon(self._pipe, server, client)

    async def _pipe(self, source: anyio.abc.SocketStream, sink: anyio.abc.SocketStream) -> None:
        try:
            async for chunk in source:
                if self.cut.is_set():
                    await anyio.sleep_forever()  # swallowed: the other side waits for ever
                await sink.send(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            return


@pytest.mark.postgres
@pytest.mark.parametrize("signals", [2, 1], ids=["second-signal", "shutdown-timeout"])
async def test_sigterm_ends_the_worker_when_postgres_goes_silent(
    postgres_url: str, tmp_path: Path, signals: int
) -> None:
    """A run in flight, PostgreSQL goes silent, SIGTERM: the process ends, at once after
    a second signal, or once the shutdown timeout and the report's bounds have passed."""
    from sqlalchemy import make_url

    url = make_url(postgres_url)
    hole = BlackHole((url.host or "127.0.0.1", url.port or 5432))
    async with anyio.create_task_group() as tg:
        port = await tg.start(hole.serve)
        proxied = url.set(port=port).render_as_string(hide_password=False)
        _, _, path = configure(
            tmp_path,
            {"acme": ""},
            worker="shutdown_timeout_seconds = 2",
            schedule='["* * * * * */2"]',
            hanging=("acme",),
        )
        text = path.read_text().replace(
            f'state_url = "sqlite:///{tmp_path / "state.db"}"', f'state_url = "{proxied}"'
        )
        path.write_text(text)
        log = tmp_path / "worker.log"
        process = await start(tmp_path, "--log-file", str(log), "run", "--config", str(path))
        async with process:

            def read() -> str:
                return log.read_text() if log.exists() else ""

            await wait_for(lambda: "never answers" in read(), "a run in flight")
            hole.cut.set()
            process.send_signal(signal.SIGTERM)
            await wait_for(lambda: "stopping gracefully" in read(), "the first signal")
            if signals == 2:
                process.send_signal(signal.SIGTERM)
                await wait_for(lambda: "stopping at once" in read(), "the second signal")
            await ended(process)  # the bug: 130 s and more, or for ever
        tg.cancel_scope.cancel()
