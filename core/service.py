"""``passerelle run``: the worker as a process, with its store, signals and health endpoint.

Signals: SIGTERM or SIGINT stops gracefully, a second one at once; SIGHUP reloads the
configuration file, and a configuration with problems is refused (logged) while the old
one stays in force.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import anyio
from anyio import CancelScope
from anyio.abc import TaskStatus
from loguru import logger

from core.config import Config, load_config
from core.coordination import Coordinator, coordinator
from core.errors import AlreadyRunning
from core.health import health_app
from core.logs import mask_secrets
from core.metrics import Metrics, metrics_plugin
from core.plugins import Registry
from core.runner import run_tenant, utc_now
from core.serve import serve_app
from core.state import StateStore, open_state
from core.worker import Job, RunJob, Worker

STALE_AFTER_SECONDS = 300.0
"""/healthz fails when the scheduler loop has not ticked for this long."""


async def serve_worker(config: Config, registry: Registry, path: Path | None) -> None:
    metrics = Metrics()
    registry.manager.register(metrics_plugin(metrics), name="metrics")
    settings = config.worker
    async with (
        open_state(settings.state_url) as store,
        store.worker_lock(),  # on a SQLite file, one worker: a second one stops here
        AsyncExitStack() as stack,
    ):

        async def run_job(job: Job, current: Config) -> None:
            await run_slot(current, registry, store, job)

        dispatch: RunJob = run_job
        coordinated: Coordinator | None = None
        if settings.coordinated:
            coordinated = await stack.enter_async_context(
                coordinator(
                    settings.state_url,
                    run_job,
                    lambda: worker.config,
                    concurrency=settings.max_concurrent_tenants,
                    stalled_after=settings.stalled_after_seconds,
                    shutdown_timeout=settings.shutdown_timeout_seconds,
                )
            )
            dispatch = coordinated.submit
        worker = Worker(
            config,
            registry,
            dispatch,
            clock=utc_now,
            grace=timedelta(minutes=settings.grace_minutes),
            shutdown_timeout=settings.shutdown_timeout_seconds,
            on_tick=lambda: metrics.tick(time.monotonic()),
        )
        async with anyio.create_task_group() as tg:

            def stop() -> None:
                worker.stop()
                if coordinated is not None:
                    coordinated.stop()  # its running jobs get shutdown_timeout to finish

            # Started, not merely scheduled: once 'worker started' is logged, SIGTERM is ours.
            await tg.start(_handle_signals, worker, stop, tg.cancel_scope, registry, path)
            if settings.health_address:
                tg.start_soon(_serve_health, metrics, settings.health_address)
            jobs_done = anyio.Event()
            if coordinated is None:
                jobs_done.set()
            else:
                tg.start_soon(_work, coordinated, jobs_done)
            logger.info(
                "worker started: {} tenant(s){}",
                len(config.tenants),
                ", coordinated through PostgreSQL" if coordinated else "",
            )
            await worker.run()
            stop()
            await jobs_done.wait()
            tg.cancel_scope.cancel()
    logger.info("worker stopped")


async def run_slot(config: Config, registry: Registry, store: StateStore, job: Job) -> None:
    """Run one slot. If another run holds the tenant pipeline (a ``sync`` by hand, another
    process), the slot is skipped and logged, like a slot whose previous run still goes."""
    try:
        await run_tenant(config, registry, store, job.tenant, job.pipeline)
    except AlreadyRunning as refused:
        logger.bind(tenant=job.tenant).warning(
            "{} slot {} skipped: {}", job.pipeline, job.slot, refused
        )


async def _work(coordinated: Coordinator, done: anyio.Event) -> None:
    try:
        await coordinated.work()
    finally:
        done.set()


async def _handle_signals(
    worker: Worker,
    stop: Callable[[], None],
    scope: CancelScope,
    registry: Registry,
    path: Path | None,
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        task_status.started()
        async for received in signals:
            if received == signal.SIGHUP:
                _reload(worker, registry, path)
            elif worker.stopping:
                logger.warning("second stop signal: stopping at once")
                scope.cancel()
            else:
                logger.info("{} received: stopping gracefully", signal.Signals(received).name)
                stop()


def _reload(worker: Worker, registry: Registry, path: Path | None) -> None:
    try:
        config = load_config(path, registry)
    except Exception as exc:
        logger.error("reload refused, the old configuration stays: {}", exc)
        return
    mask_secrets(config.secrets)
    if config.problems:
        for problem in config.problems:
            logger.error("reload refused, the old configuration stays: {}", problem)
        return
    worker.reload(config)
    logger.info("configuration reloaded: {} tenant(s)", len(config.tenants))


async def _serve_health(metrics: Metrics, address: str) -> None:
    host, _, port = address.rpartition(":")
    app = health_app(metrics, clock=time.monotonic, stale_after=STALE_AFTER_SECONDS)
    async with serve_app(app, host=host, port=int(port)) as url:
        logger.info("health endpoint on {}/healthz and {}/metrics", url, url)
        await anyio.sleep_forever()
