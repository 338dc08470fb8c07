"""One run of one tenant's pipeline, start to stored report.

Shared by ``passerelle sync`` and the worker: build the tenant's plan from its config and
the plugins, open the pipeline, stream it, and store the report whatever happened.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime

import anyio

from core.config import Config, TenantConfig
from core.context import DeletionGuard, RunContext, Window
from core.engine import run_pipeline
from core.errors import ConfigError, RunFailed
from core.plugins import Registry
from core.protocols import TenantPlan
from core.report import ReportBuilder, RunReport
from core.state import StateStore

Clock = Callable[[], datetime]


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
) -> RunReport:
    """Run once and return the report, stored unless ``dry_run``. ``allow_mass_deletion``
    lifts the tenant's deletion guard for this run.

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
    async with lock:
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
        )


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
) -> RunReport:
    spec = registry.pipelines[pipeline]
    started = clock()
    run_now = now or started
    report = RunReport(
        run_id=run_id, tenant=tenant.name, pipeline=pipeline, started_at=started, dry_run=dry_run
    )
    builder = ReportBuilder(
        report,
        on_event=lambda event: registry.notify_object_skipped(tenant.name, pipeline, run_id, event),
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
        async with spec.build(plan, builder.call) as built:
            await run_pipeline(built, ctx)
    except RunFailed as exc:
        error = str(exc)
        log.error("run failed: {}", error)
    except Exception as exc:
        error = f"unexpected error: {type(exc).__name__}: {exc}"
        log.opt(exception=exc).error("run failed")
    except anyio.get_cancelled_exc_class():
        error = "cancelled before the end (the worker was stopping)"
        raise
    finally:
        # Even a cancelled run (worker stopping) records what it wrote.
        with anyio.CancelScope(shield=True):
            builder.finish(clock(), error=error)
            if not dry_run:
                await store.save_report(report)
            registry.notify_run_finished(report)
    log.info("{} run finished: {}", pipeline, report.outcome)
    return report
