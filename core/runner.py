"""One run of one tenant's pipeline, start to stored report.

Shared by ``passerelle sync`` and the worker: build the tenant's plan from its config and
the plugins, open the pipeline, stream it, and store the report whatever happened.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, nullcontext
from datetime import UTC, datetime

import anyio
from loguru import logger

from core.config import Config, TenantConfig, url_passwords
from core.context import DeletionGuard, RunContext, Window
from core.errors import ConfigError, RunFailed
from core.logs import Redactor
from core.plugins import Registry
from core.protocols import PipelineSpec, TenantPlan
from core.report import ReportBuilder, RunReport
from core.state import StateStore, StateUnusable
from core.stream import run_pipeline

Clock = Callable[[], datetime]

INTERRUPTED = "interrupted before the end (Ctrl-C)"
"""What a run cancelled from outside says by default: in ``passerelle sync`` that is the
user's Ctrl-C (asyncio turns SIGINT into a cancellation of the main task)."""
WORKER_STOPPING = "cancelled before the end (the worker was stopping)"
"""What a run cancelled by the worker's shutdown says: the worker passes it as
``interrupted``."""
SAVE_SECONDS = 5.0
"""The bound on storing a run's report once the run has ended. A healthy store takes
milliseconds; one that hangs (a PostgreSQL server gone silent) must not hold up the
worker's shutdown or the deadline: the report is then lost, and that is logged."""
RELEASE_SECONDS = 5.0
"""The bound on giving back the run lock, for the same reason."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def plan_for(tenant: TenantConfig, pipeline: str, registry: Registry) -> TenantPlan:
    """Resolve a tenant's configured sections into the specs its pipeline needs."""
    spec = registry.pipelines.get(pipeline)
    if spec is None:
        known = ", ".join(sorted(registry.pipelines))
        raise ConfigError(f"unknown pipeline {pipeline!r} (known: {known})", tenant=tenant.name)
    if spec.optional and pipeline not in tenant.settings.plugins:
        raise ConfigError(
            f"pipeline {pipeline!r} is not enabled: add it to 'plugins'",
            tenant=tenant.name,
            key="plugins",
        )
    # An enabled optional plugin always has its section: the configuration validated one.
    transformers = [
        (registry.transformers[name], tenant.sections[name.replace("-", "_")])
        for name in tenant.settings.plugins
        if name in registry.transformers
    ]
    return TenantPlan(
        tenant=tenant.name,
        timezone=tenant.timezone,
        source=(registry.sources[tenant.source], tenant.sections[tenant.source]),
        sink=(registry.sinks[tenant.sink], tenant.sections[tenant.sink]),
        transformers=transformers,
        options=tenant.sections[spec.section] if spec.optional else spec.options(),
        concurrency=tenant.settings.concurrency,
        shared=tenant.shared,
    )


async def run_tenant(
    config: Config,
    registry: Registry,
    store: StateStore,
    tenant_name: str,
    pipeline: str = "timetable",
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    clock: Clock = utc_now,
    on_start: Callable[[ReportBuilder], None] | None = None,
    allow_mass_deletion: bool = False,
    interrupted: str = INTERRUPTED,
) -> RunReport:
    """Run once and return the report, stored unless ``dry_run``. ``allow_mass_deletion``
    lifts the tenant's deletion guard for this run.

    The run has a deadline (``deadline_of``): past it, the run is cancelled and its
    report says ``failed``, with the deadline as its error. A run cancelled from outside
    stores its report with ``interrupted`` as its error, then the cancellation goes on.

    A run that writes holds its tenant pipeline's run lock (``StateStore.run_lock``) from
    start to stored report: at most one such run at a time, across processes. A dry run,
    which writes nothing, takes no lock and is never held up.

    Raises ``ConfigError`` before anything is contacted, and ``AlreadyRunning`` if another
    run holds the tenant pipeline after ``worker.lock_wait_seconds`` (nothing was started
    then, nor reported); every other failure ends up in the report's outcome.
    """
    tenant = config.tenant(tenant_name)
    plan = plan_for(tenant, pipeline, registry)
    run_id = uuid.uuid4().hex[:16]
    lock: AbstractAsyncContextManager[None] = (
        nullcontext()
        if dry_run
        else store.run_lock(
            tenant.name, pipeline, run_id=run_id, wait=config.worker.lock_wait_seconds
        )
    )
    async with _bounded_exit(lock, RELEASE_SECONDS):
        return await _run(
            registry,
            store,
            tenant,
            plan,
            pipeline,
            run_id,
            now=now,
            dry_run=dry_run,
            clock=clock,
            on_start=on_start,
            allow_mass_deletion=allow_mass_deletion,
            deadline=deadline_of(config, tenant),
            interrupted=interrupted,
            redactor=run_redactor(config, tenant),
        )


def run_redactor(config: Config, tenant: TenantConfig) -> Redactor:
    """What a run's report masks: the tenant's own secrets and the state store's password,
    from the configuration, not from what the process's logs were told (``mask_secrets``):
    a report is right whichever command, or which other tenant, came first."""
    own = [secret for options in tenant.sections.values() for secret in options.secrets()]
    return Redactor([*own, *url_passwords(config.worker.state_url)])


def deadline_of(config: Config, tenant: TenantConfig) -> float:
    """The tenant's run deadline in seconds: its own, or the worker's."""
    own = tenant.settings.run_deadline_seconds
    return config.worker.run_deadline_seconds if own is None else own


@asynccontextmanager
async def _bounded_exit(
    context: AbstractAsyncContextManager[None], seconds: float
) -> AsyncIterator[None]:
    """``context``, whose exit (giving a lock back) takes at most ``seconds``, even when the
    run was cancelled: a store that hangs must not hold the run, or the worker, for ever.
    An exit cut short is logged; the lock's owner (a connection, a file) frees it when the
    process ends."""
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(context)
        try:
            yield
        finally:
            with anyio.move_on_after(seconds, shield=True) as bounded:
                await stack.aclose()
            if bounded.cancelled_caught:
                logger.error("the run lock could not be given back within {} s", seconds)


async def _run(
    registry: Registry,
    store: StateStore,
    tenant: TenantConfig,
    plan: TenantPlan,
    pipeline: str,
    run_id: str,
    *,
    now: datetime | None,
    dry_run: bool,
    clock: Clock,
    on_start: Callable[[ReportBuilder], None] | None,
    allow_mass_deletion: bool,
    deadline: float,
    interrupted: str,
    redactor: Redactor,
) -> RunReport:
    spec = registry.pipelines[pipeline]
    started = clock()
    run_now = now or started
    report = RunReport(
        run_id=run_id, tenant=tenant.name, pipeline=pipeline, started_at=started, dry_run=dry_run
    )
    builder = ReportBuilder(
        report,
        redactor=redactor,
        on_event=lambda event: registry.notify_event(tenant.name, pipeline, run_id, event),
    )
    ctx = RunContext(
        tenant=tenant.name,
        pipeline=pipeline,
        run_id=run_id,
        now=run_now,
        timezone=tenant.timezone,
        window=spec.window(run_now, tenant.timezone, plan.options)
        if spec.window
        else Window.starting_after(run_now, tenant.timezone, tenant.settings.horizon_days),
        dry_run=dry_run,
        report=builder,
        state=store.for_tenant(tenant.name, dry_run=dry_run),
        deletion_guard=DeletionGuard(
            max_share=tenant.settings.max_deletion_share,
            floor=tenant.settings.deletion_guard_floor,
            allowed=allow_mass_deletion or tenant.settings.allow_mass_deletion,
        ),
    )
    log = ctx.log
    registry.notify_run_started(tenant.name, pipeline, run_id)
    if on_start is not None:
        on_start(builder)
    log.info(
        "{} run started{}, window {}..{}",
        pipeline,
        " (dry run)" if dry_run else "",
        ctx.window.first,
        ctx.window.last,
    )
    error: str | None = None
    try:
        with anyio.move_on_after(deadline) as bounded:
            error = await _stream(spec, plan, builder, ctx)
        if bounded.cancel_called:  # whatever the pipeline raised while it was cancelled
            error = f"the run passed its deadline of {deadline:g} s"
            log.error("run failed: {}", error)
    except StateUnusable as exc:  # the command's to report (exit 2), not the run's alone
        error = f"the state store failed: {exc}"
        raise
    except anyio.get_cancelled_exc_class():
        error = interrupted
        raise
    except KeyboardInterrupt:  # trio delivers Ctrl-C as such, not as a cancellation
        error = INTERRUPTED
        raise
    finally:
        await _store(registry, store, builder, clock, error=error, save=not dry_run)
    log.info("{} run finished: {}", pipeline, report.outcome)
    return report


async def _stream(
    spec: PipelineSpec, plan: TenantPlan, builder: ReportBuilder, ctx: RunContext
) -> str | None:
    """Open the pipeline and stream it; the run's error, if it failed as a whole."""
    try:
        async with spec.open(plan, builder.call) as built:
            await run_pipeline(built, ctx)
    except RunFailed as exc:
        ctx.log.error("run failed: {}", exc)
        return str(exc)
    except StateUnusable:
        raise
    except Exception as exc:
        ctx.log.opt(exception=exc).error("run failed")
        return f"unexpected error: {type(exc).__name__}: {exc}"
    return None


async def _store(
    registry: Registry,
    store: StateStore,
    builder: ReportBuilder,
    clock: Clock,
    *,
    error: str | None,
    save: bool,
) -> None:
    """Finish the report and store it, even for a cancelled run (it records what the run
    wrote), within ``SAVE_SECONDS``."""
    report = builder.finish(clock(), error=error)
    with anyio.move_on_after(SAVE_SECONDS, shield=True) as bounded:
        if save:
            await store.save_report(report)
    if bounded.cancelled_caught:
        logger.bind(tenant=report.tenant, run_id=report.run_id).error(
            "the report of this run could not be stored within {} s", SAVE_SECONDS
        )
    # Once stored, and outside the shield: an observer is never part of a cancelled run's
    # bounded clean-up.
    registry.notify_run_finished(report)
