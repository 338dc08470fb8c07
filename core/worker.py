"""``passerelle run``: the worker as a process, with its store, signals and health endpoint.

Signals: SIGTERM or SIGINT stops gracefully, a second one at once; SIGHUP reloads the
configuration file, and a configuration with problems is refused (logged) while the old
one stays in force.

Every step of a stop is bounded, whatever the state store does (a PostgreSQL server gone
silent answers nothing, and closing a connection to it can wait for ever): runs get
``shutdown_timeout_seconds``, their reports and locks a few seconds (``core.runner``);
"at once" cancels everything, store and job engine included, and a process still there
``EXIT_GRACE_SECONDS`` later (a thread stuck in a driver, say) exits all the same. The
same last resort backs a graceful stop that overruns its own bounds.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from pathlib import Path

import anyio
from anyio import CancelScope
from anyio.abc import TaskStatus
from loguru import logger

from core.asgi import serve_app
from core.config import Config, load_config
from core.errors import AlreadyRunning
from core.health import health_app
from core.jobs import Coordinator, coordinator
from core.logs import mask_secrets
from core.metrics import Metrics, metrics_plugin
from core.plugins import Registry
from core.runner import RELEASE_SECONDS, SAVE_SECONDS, WORKER_STOPPING, run_tenant, utc_now
from core.scheduler import HEARTBEAT_SECONDS, Job, RunJob, Scheduler
from core.state import StateStore, open_state

STALE_AFTER_SECONDS = 300.0
"""/healthz fails when the scheduler loop has not ticked for this long (it ticks at least
every ``core.scheduler.HEARTBEAT_SECONDS``)."""
EXIT_GRACE_SECONDS = 5.0
"""Once stopping "at once", how long clean-up may take before the process exits anyway."""
EXIT_FORCED = 1
"""The exit status of a process that had to exit before its clean-up finished."""


def _last_resort(seconds: float) -> None:
    """End the process in ``seconds`` if it is still there: a daemon thread's timer, so
    that it fires even if the event loop is stuck (or gone, and a thread left behind
    keeps the process), and dies quietly with a process that exits in time."""

    def exit_now() -> None:
        logger.error("the worker did not stop within {} s: exiting without clean-up", seconds)
        os._exit(EXIT_FORCED)

    timer = threading.Timer(seconds, exit_now)
    timer.daemon = True
    timer.start()


async def serve_worker(config: Config, registry: Registry, path: Path | None) -> None:
    with CancelScope() as at_once:  # cancelled by a second signal: store and all
        await _serve(config, registry, path, at_once)
    if at_once.cancel_called:
        logger.info("worker stopped at once")
    else:
        logger.info("worker stopped")


async def _serve(
    config: Config,
    registry: Registry,
    path: Path | None,
    at_once: CancelScope,
) -> None:
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

        async def last_started(tenant: str, pipeline: str) -> datetime | None:
            report = await store.latest_report(tenant, pipeline)
            return None if report is None else report.started_at

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
        worker = Scheduler(
            config,
            registry,
            dispatch,
            clock=utc_now,
            grace=timedelta(minutes=settings.grace_minutes),
            shutdown_timeout=settings.shutdown_timeout_seconds,
            on_tick=lambda: metrics.tick(time.monotonic()),
            last_started=last_started,
            heartbeat=HEARTBEAT_SECONDS,
        )
        async with anyio.create_task_group() as tg:

            def stop() -> None:
                if not worker.stopping:
                    # Runs get the shutdown timeout, then a few seconds to store their
                    # reports and give their locks back; past that, the process goes.
                    _last_resort(
                        settings.shutdown_timeout_seconds
                        + SAVE_SECONDS
                        + RELEASE_SECONDS
                        + EXIT_GRACE_SECONDS
                    )
                worker.stop()
                if coordinated is not None:
                    coordinated.stop()  # its running jobs get shutdown_timeout to finish

            def stop_at_once() -> None:
                _last_resort(EXIT_GRACE_SECONDS)
                at_once.cancel()

            # Started, not merely scheduled: once 'worker started' is logged, SIGTERM is ours.
            await tg.start(_handle_signals, worker, stop, stop_at_once, registry, path)
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


async def run_slot(config: Config, registry: Registry, store: StateStore, job: Job) -> None:
    """Run one slot. If another run holds the tenant pipeline (a ``sync`` by hand, another
    process), the slot is skipped and logged, like a slot whose previous run still goes."""
    try:
        await run_tenant(
            config, registry, store, job.tenant, job.pipeline, interrupted=WORKER_STOPPING
        )
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
    worker: Scheduler,
    stop: Callable[[], None],
    stop_at_once: Callable[[], None],
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
                stop_at_once()
            else:
                logger.info("{} received: stopping gracefully", signal.Signals(received).name)
                stop()


def _reload(worker: Scheduler, registry: Registry, path: Path | None) -> None:
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
