"""The scheduler: every tenant's pipelines, each started at its tenant's slots.

(The process around it is ``core.worker``; across processes, ``core.jobs``.)

One task group owns everything. The scheduler loop wakes at the next due slot, hands each
due (tenant, pipeline) to a ``Dispatcher``, and goes back to sleep; runs happen beside it.
The rules it keeps:

- never two runs of the same tenant pipeline at once: a slot that comes while the
  previous run still goes, or still waits for a place, is skipped (and logged as such),
  not queued behind it;
- at most ``max_concurrent_tenants`` runs at once: a due run waits for a free place, and
  waiting runs start in the order they became due (anyio's limiter is first come, first
  served); the run deadline (``core.runner``) frees the place of a run that hangs;
- a slot missed while the worker was down runs once at start-up if it is less than
  ``grace`` old and no run of that tenant pipeline started since (``last_started``, the
  stored runs: a restart right after a slot does not run it again); older ones are not
  caught up (no burst of catch-up runs);
- with a ``heartbeat`` (the service gives ``HEARTBEAT_SECONDS``), the loop wakes at least
  that often, even with no slot due for hours, so that its ticks (``on_tick``, the health
  check) prove it is alive; without one it sleeps until the next slot (tests that step a
  clock through days want no wake-ups in between);
- a run's failure, even a crash, stays inside that run;
- ``stop()``: no new run starts; running ones get ``shutdown_timeout`` to finish, then are
  cancelled (their report is still stored: the runner's clean-up is shielded, and
  bounded).

Time comes from an injected clock and sleep, so tests drive a day in milliseconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import anyio
from anyio.abc import TaskGroup
from loguru import logger

from core.config import Config, TenantConfig
from core.plugins import Registry
from core.schedule import Schedule

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
LastStarted = Callable[[str, str], Awaitable[datetime | None]]
"""When the latest stored run of a (tenant, pipeline) started, None if it never ran."""

HEARTBEAT_SECONDS = 30.0
"""The longest the loop sleeps: well under the health check's ``stale_after``."""
LOOKUP_SECONDS = 10.0
"""The bound on reading the stored runs at start-up, all tenants together; a store that
does not answer in time counts as "no run since", so a missed slot still runs (a run is
idempotent) and the loop starts ticking."""


@dataclass(frozen=True, slots=True)
class Job:
    """One scheduled run: a tenant's pipeline, for one slot of its schedule."""

    tenant: str
    pipeline: str
    slot: datetime

    @property
    def key(self) -> tuple[str, str]:
        return self.tenant, self.pipeline


class RunJob(Protocol):
    async def __call__(self, job: Job, config: Config, /) -> None: ...


def pipelines_of(tenant: TenantConfig, registry: Registry) -> list[str]:
    """The timetable pipeline, then the optional pipelines the tenant enabled."""
    optional = [
        p
        for p in tenant.settings.plugins
        if p in registry.pipelines and registry.pipelines[p].optional
    ]
    return ["timetable", *optional]


class Scheduler:
    def __init__(
        self,
        config: Config,
        registry: Registry,
        run_job: RunJob,
        *,
        clock: Clock,
        sleep: Sleep = anyio.sleep,
        grace: timedelta = timedelta(hours=1),
        shutdown_timeout: float = 60.0,
        on_tick: Callable[[], None] = lambda: None,
        heartbeat: float | None = None,
        last_started: LastStarted | None = None,
    ) -> None:
        self.config = config
        self._registry = registry
        self._run_job = run_job
        self._clock = clock
        self._sleep = sleep
        self._grace = grace
        self._shutdown_timeout = shutdown_timeout
        self._on_tick = on_tick
        self._heartbeat = heartbeat
        self._last_started = last_started
        self._limiter = anyio.CapacityLimiter(config.worker.max_concurrent_tenants)
        self._due: dict[tuple[str, str], datetime] = {}
        self._running: set[tuple[str, str]] = set()
        """Started and not finished: running, or waiting for a place (``_waiting``)."""
        self._waiting: set[tuple[str, str]] = set()
        self._stopping = False
        self._wakeup = anyio.Event()
        self._idle = anyio.Event()
        self._idle.set()

    # Control, from signal handlers or tests

    def stop(self) -> None:
        """Start no new run; let the running ones finish (see ``shutdown_timeout``)."""
        self._stopping = True
        self._wakeup.set()

    def reload(self, config: Config) -> None:
        """Take a new, already validated configuration; running work goes on untouched."""
        self.config = config
        self._limiter.total_tokens = config.worker.max_concurrent_tenants
        self._plan(self._clock(), starting=False)
        self._wakeup.set()

    @property
    def running(self) -> set[tuple[str, str]]:
        return set(self._running)

    @property
    def stopping(self) -> bool:
        return self._stopping

    # The loop

    async def run(self) -> None:
        async with anyio.create_task_group() as runs:
            self._plan(self._clock(), starting=True)
            await self._drop_slots_already_run()
            while not self._stopping:
                self._on_tick()
                now = self._clock()
                for key, due in sorted(self._due.items(), key=lambda item: item[1]):
                    if due <= now:
                        self._start(runs, Job(*key, due))
                        following = self._schedule(key[0]).next_after(max(due, now))
                        self._due[key] = following.astimezone(UTC)
                await self._nap(self._next_wait())
            await self._drain(runs)

    def _plan(self, now: datetime, *, starting: bool) -> None:
        """Next due slot of every tenant pipeline; at start-up, a recent missed slot.

        On a reload nothing is pending (due slots are started before the loop sleeps), so
        every next slot is taken from the new schedules."""
        planned: dict[tuple[str, str], datetime] = {}
        for tenant in self.config.tenants.values():
            schedule = self._schedule(tenant.name)
            for pipeline in pipelines_of(tenant, self._registry):
                # Instants in UTC: slots in the tenant's zone compare by wall clock.
                key = (tenant.name, pipeline)
                planned[key] = schedule.next_after(now).astimezone(UTC)
                missed = schedule.last_at_or_before(now) if starting else None
                if missed is not None and now - missed <= self._grace:
                    planned[key] = missed.astimezone(UTC)
        self._due = planned

    def _next_wait(self) -> float:
        """Seconds until the next due slot, or the heartbeat if that comes first."""
        if not self._due:
            return self._heartbeat or 3600.0
        until = max((min(self._due.values()) - self._clock()).total_seconds(), 0.0)
        return until if self._heartbeat is None else min(until, self._heartbeat)

    async def _drop_slots_already_run(self) -> None:
        """A missed slot planned at start-up is not missed if a run of its tenant pipeline
        started at or after it (the worker ran it just before a restart, or a ``sync`` by
        hand did): its next slot is planned instead."""
        if self._last_started is None:
            return
        now = self._clock()
        missed = [(key, due) for key, due in self._due.items() if due <= now]
        with anyio.move_on_after(LOOKUP_SECONDS) as bounded:
            for key, due in missed:
                started = await self._started(self._last_started, key)
                if started is not None and started >= due:
                    logger.bind(tenant=key[0]).info(
                        "{} slot {} already ran (at {}): not run again", key[1], due, started
                    )
                    self._due[key] = self._schedule(key[0]).next_after(now).astimezone(UTC)
        if bounded.cancelled_caught:
            logger.warning(
                "the stored runs could not be read within {} s: missed slots run anyway",
                LOOKUP_SECONDS,
            )

    @staticmethod
    async def _started(last_started: LastStarted, key: tuple[str, str]) -> datetime | None:
        try:
            return await last_started(*key)
        except Exception:
            logger.bind(tenant=key[0]).opt(exception=True).warning(
                "{} runs could not be read: a missed slot runs anyway", key[1]
            )
            return None

    def _schedule(self, tenant: str) -> Schedule:
        settings = self.config.tenants[tenant]
        return Schedule(settings.settings.schedule, settings.timezone, tenant)

    def _start(self, runs: TaskGroup, job: Job) -> None:
        log = logger.bind(tenant=job.tenant)
        if job.key in self._waiting:
            log.warning(
                "{} slot {} skipped: the previous slot's run has not started yet, it is "
                "still waiting for a free place ({})",
                job.pipeline,
                job.slot,
                self._places(),
            )
            return
        if job.key in self._running:
            log.warning(
                "{} slot {} skipped: the previous run is still going", job.pipeline, job.slot
            )
            return
        # Places go first come, first served: with every place taken or promised to an
        # earlier run, this one waits.
        if len(self._running) >= self._limiter.total_tokens:
            self._waiting.add(job.key)
        self._running.add(job.key)
        self._idle = anyio.Event()
        if job.key in self._waiting:
            log.info(
                "{} slot {} waiting for a free place ({})", job.pipeline, job.slot, self._places()
            )
        runs.start_soon(self._guarded, job)

    def _places(self) -> str:
        busy = len(self._running) - len(self._waiting)
        return (
            f"{busy} of {int(self._limiter.total_tokens)} places busy, "
            f"{len(self._waiting)} run(s) waiting"
        )

    async def _guarded(self, job: Job) -> None:
        try:
            async with self._limiter:
                self._waiting.discard(job.key)
                await self._run_job(job, self.config)
        except Exception:
            # A crash of one run never stops the worker or another tenant.
            logger.bind(tenant=job.tenant).opt(exception=True).error(
                "{} run for slot {} crashed", job.pipeline, job.slot
            )
        finally:
            self._waiting.discard(job.key)
            self._running.discard(job.key)
            if not self._running:
                self._idle.set()

    async def _nap(self, seconds: float) -> None:
        """Sleep until ``seconds`` pass or someone calls ``stop``/``reload``."""
        async with anyio.create_task_group() as tg:

            async def alarm() -> None:
                await self._sleep(seconds)
                tg.cancel_scope.cancel()

            tg.start_soon(alarm)
            await self._wakeup.wait()
            tg.cancel_scope.cancel()
        if self._wakeup.is_set():
            self._wakeup = anyio.Event()

    async def _drain(self, runs: TaskGroup) -> None:
        if self._running:
            logger.info(
                "stopping: waiting up to {} s for {} run(s)",
                self._shutdown_timeout,
                len(self._running),
            )
            async with anyio.create_task_group() as tg:

                async def deadline() -> None:
                    await self._sleep(self._shutdown_timeout)
                    tg.cancel_scope.cancel()

                tg.start_soon(deadline)
                await self._idle.wait()
                tg.cancel_scope.cancel()
        if self._running:
            logger.warning("stopping: cancelling {} run(s) still going", len(self._running))
        runs.cancel_scope.cancel()
