"""The worker's scheduling on a controllable clock: no test sleeps.

The clock only moves when the test says so; the worker's sleeps wait for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from core.config import Config, load_config
from core.plugins import Registry, load_registry
from core.scheduler import Job, Scheduler
from tests.sample_plugins import entry_point

pytestmark = pytest.mark.anyio

START = datetime(2025, 10, 20, 6, 0, tzinfo=UTC)  # 08:00 in Paris


class ManualClock:
    """A clock the test advances; ``sleep`` waits until the clock has passed its deadline."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._sleepers: list[tuple[datetime, anyio.Event]] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake = anyio.Event()
        self._sleepers.append((self.now + timedelta(seconds=seconds), wake))
        await wake.wait()

    async def advance(self, delta: timedelta, step: timedelta = timedelta(minutes=1)) -> None:
        """Move time forward step by step, letting every woken task run at each step."""
        end = self.now + delta
        while self.now < end:
            self.now = min(self.now + step, end)
            for deadline, wake in list(self._sleepers):
                if deadline <= self.now:
                    self._sleepers.remove((deadline, wake))
                    wake.set()
            await anyio.wait_all_tasks_blocked()


class Runs:
    """A fake ``run_job``: records jobs; a job may be held open until released."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.started: list[tuple[str, str, datetime, datetime]] = []
        self.finished: list[tuple[str, str]] = []
        self.hold: dict[str, anyio.Event] = {}
        self.crash: set[str] = set()
        self.concurrent = 0
        self.most_concurrent = 0

    async def __call__(self, job: Job, config: Config) -> None:
        self.started.append((job.tenant, job.pipeline, job.slot, self.clock.now))
        self.concurrent += 1
        self.most_concurrent = max(self.most_concurrent, self.concurrent)
        try:
            if job.tenant in self.crash:
                raise RuntimeError("boom")
            if job.tenant in self.hold:
                await self.hold[job.tenant].wait()
            self.finished.append((job.tenant, job.pipeline))
        finally:
            self.concurrent -= 1

    def of(self, tenant: str) -> list[datetime]:
        return [slot for t, _, slot, _ in self.started if t == tenant]


def configure(
    tmp_path: Path, tenants: Mapping[str, str | None], *, max_concurrent: int = 8, extra: str = ""
) -> tuple[Config, Registry]:
    registry = load_registry([entry_point("sample", "tests.sample_plugins")])
    text = f"[worker]\nmax_concurrent_tenants = {max_concurrent}\n{extra}\n"
    for name, schedule in tenants.items():
        line = "" if schedule is None else f"schedule = {schedule}"
        text += (
            f"[tenants.{name}]\n{line}\n[tenants.{name}.memsource]\n"
            f"[tenants.{name}.memsink]\napi_key = 'k-{name}'\n"
        )
    path = tmp_path / "plugins.toml"
    path.write_text(text)
    config = load_config(path, registry)
    assert config.problems == []
    return config, registry


@asynccontextmanager
async def running(worker: Scheduler) -> AsyncIterator[None]:
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        await anyio.wait_all_tasks_blocked()
        yield
        worker.stop()


async def test_each_slot_runs_once_at_its_time(tmp_path: Path) -> None:
    clock = ManualClock(START)
    config, registry = configure(tmp_path, {"acme": '["0 9 * * *", "30 18 * * *"]'})
    runs = Runs(clock)
    worker = Scheduler(config, registry, runs, clock=clock, sleep=clock.sleep)
    async with running(worker):
        await clock.advance(timedelta(days=2))
    paris = [
        s.astimezone(config.tenants["acme"].timezone).strftime("%d %H:%M") for s in runs.of("acme")
    ]
    assert paris == ["20 09:00", "20 18:30", "21 09:00", "21 18:30"]
    assert all(started >= slot for _, _, slot, started in runs.started)


async def test_default_schedules_spread_tenants_in_the_promised_hours(tmp_path: Path) -> None:
    clock = ManualClock(START)
    tenants: dict[str, str | None] = {f"t{i}": None for i in range(20)}  # the default
    config, registry = configure(tmp_path, tenants)
    runs = Runs(clock)
    worker = Scheduler(config, registry, runs, clock=clock, sleep=clock.sleep)
    async with running(worker):
        await clock.advance(timedelta(days=1))
    local = [s.astimezone(config.tenants["t0"].timezone) for _, _, s, _ in runs.started]
    assert len(local) == 40, "twice a day for each tenant"
    assert all(11 <= t.hour <= 12 or 18 <= t.hour <= 20 for t in local)
    assert len({t.strftime("%H:%M") for t in local}) > 10, "not all at the same minute"


async def test_a_run_never_overlaps_itself(tmp_path: Path) -> None:
    clock = ManualClock(START)
    config, registry = configure(tmp_path, {"acme": '["*/10 * * * *"]'})
    runs = Runs(clock)
    runs.hold["acme"] = anyio.Event()
    worker = Scheduler(config, registry, runs, clock=clock, sleep=clock.sleep)
    async with running(worker):
        await clock.advance(timedelta(minutes=35))
        assert len(runs.of("acme")) == 1, "slots during a long run are skipped"
        runs.hold["acme"].set()
        await clock.advance(timedelta(minutes=10))
        assert len(runs.of("acme")) == 2
    assert runs.most_concurrent == 1


async def test_at_most_max_concurrent_tenants_run_at_once(tmp_path: Path) -> None:
    clock = ManualClock(START)
    tenants = {f"t{i}": '["0 9 * * *"]' for i in range(5)}
    config, registry = configure(tmp_path, tenants, max_concurrent=2)
    runs = Runs(clock)
    for name in tenants:
        runs.hold[name] = anyio.Event()
    worker = Scheduler(config, registry, runs, clock=clock, sleep=clock.sleep)
    async with running(worker):
        await clock.advance(timedelta(hours=2))
        assert runs.concurrent == 2
        for name in tenants:
            runs.hold[name].set()
        await clock.advance(timedelta(minutes=1))
        assert len(runs.finished) == 5
    assert runs.most_concurrent == 2


async def test_a_crash_stays_inside_its_tenant(tmp_path: Path) -> None:
    clock = ManualClock(START)
    config, registry = configure(tmp_path, {"bad": '["0 9 * * *"]', "good": '["0 9 * * *"]'})
    runs = Runs(clock)
    runs.crash.add("bad")
    worker = Scheduler(config, registry, runs, clock=clock, sleep=clock.sleep)
    async with running(worker):
        await clock.advance(timedelta(days=1, hours=1))
    assert len(runs.of("bad")) == 2, "the crashed tenant still runs on its next slot"
    assert runs.finished.count(("good", "timetable")) == 2


@pytest.mark.parametrize(
    ("down_for", "expected"), [(timedelta(minutes=30), 1), (timedelta(hours=3), 0)]
)
async def test_a_missed_slot_runs_once_within_the_grace(
    tmp_path: Path, down_for: timedelta, expected: int
) -> None:
    """The worker was down at 09:00; it starts at 09:00 + ``down_for``."""
    slot = datetime(2025, 10, 20, 7, 0, tzinfo=UTC)  # 09:00 Paris
    clock = ManualClock(slot + down_for)
    config, registry = configure(tmp_path, {"acme": '["0 9 * * *", "5 9 * * *"]'})
    runs = Runs(clock)
    worker = Scheduler(
        config, registry, runs, clock=clock, sleep=clock.sleep, grace=timedelta(hours=1)
    )
    async with running(worker):
        await clock.advance(timedelta(minutes=1))
    assert len(runs.started) == expected, "one catch-up run at most, never a burst"


async def test_stop_waits_for_running_runs_then_cancels_them(tmp_path: Path) -> None:
    clock = ManualClock(START)
    config, registry = configure(tmp_path, {"quick": '["0 9 * * *"]', "slow": '["0 9 * * *"]'})
    runs = Runs(clock)
    runs.hold["quick"] = anyio.Event()
    runs.hold["slow"] = anyio.Event()
    worker = Scheduler(config, registry, runs, clock=clock, sleep=clock.sleep, shutdown_timeout=60)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        await clock.advance(timedelta(hours=1, minutes=1))
        assert len(runs.started) == 2
        worker.stop()
        await anyio.wait_all_tasks_blocked()
        runs.hold["quick"].set()
        await clock.advance(timedelta(seconds=30), step=timedelta(seconds=10))
        assert runs.finished == [("quick", "timetable")], "a running run may finish"
        await clock.advance(timedelta(seconds=40), step=timedelta(seconds=10))
    assert runs.finished == [("quick", "timetable")], "the slow one was cancelled"
    assert runs.concurrent == 0
    assert len(runs.started) == 2, "no new run after stop"


async def test_reload_adds_removes_and_changes_tenants(tmp_path: Path) -> None:
    clock = ManualClock(START)
    config, registry = configure(tmp_path, {"acme": '["0 9 * * *"]', "gone": '["0 9 * * *"]'})
    runs = Runs(clock)
    worker = Scheduler(config, registry, runs, clock=clock, sleep=clock.sleep)
    async with running(worker):
        new, _ = configure(tmp_path, {"acme": '["0 10 * * *"]', "added": '["0 9 * * *"]'})
        worker.reload(new)
        await clock.advance(timedelta(hours=3))
    local = {
        t: [s.astimezone(new.tenants["acme"].timezone).hour for s in runs.of(t)]
        for t in ("acme", "gone", "added")
    }
    assert local == {"acme": [10], "gone": [], "added": [9]}


async def test_enabled_optional_pipelines_run_on_the_tenants_schedule(tmp_path: Path) -> None:
    clock = ManualClock(START)
    with_echo = '["0 9 * * *"]\nplugins = ["echo-back"]'
    config, registry = configure(tmp_path, {"acme": with_echo, "plain": '["0 9 * * *"]'})
    runs = Runs(clock)
    worker = Scheduler(config, registry, runs, clock=clock, sleep=clock.sleep)
    async with running(worker):
        await clock.advance(timedelta(hours=2))
    assert sorted((t, p) for t, p, _, _ in runs.started) == [
        ("acme", "echo-back"),
        ("acme", "timetable"),
        ("plain", "timetable"),
    ]
