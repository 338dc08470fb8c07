"""Several workers on one PostgreSQL database, coordinated by procrastinate.

Each worker keeps its own scheduler (schedules are per tenant time zone and ``H``-spread,
which procrastinate's own periodic tasks do not do), but hands every due slot to
procrastinate instead of running it:

- a slot is deferred with procrastinate's periodic deduplication (one row per
  ``tenant/pipeline`` and slot timestamp), so however many workers see it, it runs once;
- the job's ``lock`` is ``tenant/pipeline``: a tenant pipeline never runs twice at once;
- each worker runs a procrastinate worker (``max_concurrent_tenants`` jobs at a time) and
  a sweeper that gives back the jobs of a worker that stopped sending heartbeats (killed
  mid-run): they run again, elsewhere. A run is idempotent, so a repeated run duplicates
  nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime

import anyio
import psycopg
from loguru import logger
from procrastinate import App, PsycopgConnector
from procrastinate.schema import SchemaManager
from procrastinate.worker import Worker as JobWorker

from core.config import Config
from core.scheduler import Job, RunJob
from core.state.database import bounded_conninfo

RUN_TASK = "passerelle.run"
_SCHEMA_LOCK = int.from_bytes(b"procrast", "big") >> 1
"""An advisory lock (a bigint) held while procrastinate's schema is created."""


class InFlight:
    """Counts the runs going on in this process, to wait for them at shutdown."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = anyio.Event()
        self._idle.set()

    @contextmanager
    def one(self) -> Iterator[None]:
        if self._count == 0:
            self._idle = anyio.Event()
        self._count += 1
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    async def idle(self) -> None:
        await self._idle.wait()


class Coordinator:
    def __init__(
        self,
        app: App,
        runs: InFlight,
        *,
        concurrency: int,
        stalled_after: float,
        shutdown_timeout: float,
    ) -> None:
        self._app = app
        self._runs = runs
        self._stalled_after = stalled_after
        self._shutdown_timeout = shutdown_timeout
        self._jobs = JobWorker(
            app,
            concurrency=concurrency,
            install_signal_handlers=False,  # passerelle's own handlers decide
            update_heartbeat_interval=max(stalled_after / 4, 0.5),
            stalled_worker_timeout=stalled_after,
            shutdown_graceful_timeout=shutdown_timeout,
        )

    async def submit(self, job: Job, config: Config, /) -> None:
        """Defer ``job`` unless some worker already did, for this slot."""
        timestamp = int(job.slot.timestamp())
        deferrer = self._app.tasks[RUN_TASK].configure(
            lock=f"{job.tenant}/{job.pipeline}",
            task_kwargs={"tenant": job.tenant, "pipeline": job.pipeline, "timestamp": timestamp},
        )
        job_id = await self._app.job_manager.defer_periodic_job(
            deferrer.job, periodic_id=f"{job.tenant}/{job.pipeline}", defer_timestamp=timestamp
        )
        log = logger.bind(tenant=job.tenant)
        if job_id is None:
            log.debug("{} slot {} already deferred by another worker", job.pipeline, job.slot)
        else:
            log.info("{} slot {} deferred as job {}", job.pipeline, job.slot, job_id)

    async def work(self) -> None:
        """Run deferred jobs, and sweep stalled ones back, until ``stop``: then the running
        jobs have ``shutdown_timeout`` to finish before they are cancelled."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._sweep, self._jobs.update_heartbeat_interval)
            await self._jobs.run()  # type: ignore[no-untyped-call]  # untyped in procrastinate
            tg.cancel_scope.cancel()
        # procrastinate's worker may return before its jobs do: wait for ours ourselves.
        with anyio.move_on_after(self._shutdown_timeout):
            await self._runs.idle()

    def stop(self) -> None:
        """Start no new job (idempotent)."""
        self._jobs.stop()  # type: ignore[no-untyped-call]  # untyped in procrastinate

    async def _sweep(self, every: float) -> None:
        manager = self._app.job_manager
        while True:
            for job in await manager.get_stalled_jobs(
                task_name=RUN_TASK, seconds_since_heartbeat=self._stalled_after
            ):
                logger.warning("job {} stalled (its worker stopped): running it again", job.id)
                await manager.retry_job(job)
            await anyio.sleep(every)


@asynccontextmanager
async def coordinator(
    url: str,
    run_job: RunJob,
    current_config: Callable[[], Config],
    *,
    concurrency: int,
    stalled_after: float,
    shutdown_timeout: float,
) -> AsyncIterator[Coordinator]:
    """A coordinator on the PostgreSQL database at ``url`` (a state URL)."""
    # Bounded connections, as the store's: a database that stops answering must not hold
    # a worker's start or shutdown for ever.
    conninfo = bounded_conninfo(url.replace("postgresql+psycopg://", "postgresql://", 1))
    await _ensure_schema(conninfo)
    app = App(connector=PsycopgConnector(conninfo=conninfo))
    runs = InFlight()

    @app.task(name=RUN_TASK, pass_context=False)
    async def run(tenant: str, pipeline: str, timestamp: int) -> None:
        slot = datetime.fromtimestamp(timestamp, UTC)
        with runs.one():
            await run_job(Job(tenant, pipeline, slot), current_config())

    async with app.open_async():
        yield Coordinator(
            app,
            runs,
            concurrency=concurrency,
            stalled_after=stalled_after,
            shutdown_timeout=shutdown_timeout,
        )


async def _ensure_schema(conninfo: str) -> None:
    """Create procrastinate's tables once, whichever worker starts first."""
    async with (
        await psycopg.AsyncConnection.connect(conninfo) as connection,
        connection.transaction(),
    ):
        await connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        found = await (
            await connection.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
        ).fetchone()
        if found is None or not found[0]:
            logger.info("creating procrastinate's schema")
            await connection.execute(SchemaManager.get_schema())
