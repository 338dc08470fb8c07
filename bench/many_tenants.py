"""Scenario 4: many small tenants, all due at once, in one worker.

    python -m bench.many_tenants --urls JSON --size full --rate-scale 1 --folder DIR

First the biggest of them runs alone (a copy with a key and a store of its own): the
slowest single tenant. Then the worker (``core.scheduler.Scheduler``, as ``passerelle run``
drives it) starts with every tenant's slot due, and stops once each has run once.
``max_concurrent_tenants`` is set to the number of tenants: every run may start at once,
each paced on its own key.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio

from bench.measure import peak_rss_mib, stopwatch
from bench.product import Budget, Urls, configure, run_scenario, written
from bench.world import SIZES, TIMEZONE
from core.config import Config
from core.report import RunReport
from core.runner import run_tenant, utc_now
from core.scheduler import Job, Scheduler
from core.state import open_state


def due_now() -> str:
    """A daily cron expression whose slot is this minute: due at the worker's start."""
    now = utc_now().astimezone(TIMEZONE)
    return f"{now.minute} {now.hour} * * *"


async def alone(folder: Path, urls: Urls, size: str, budget: Budget) -> float:
    spec = SIZES[size].solo()
    await anyio.Path(folder).mkdir()
    config, registry = configure(folder, [spec], urls, budget)
    async with open_state(config.worker.state_url) as store:
        with stopwatch() as elapsed:
            report = await run_tenant(config, registry, store, spec.name)
    if report.error:
        raise RuntimeError(f"the solo run failed: {report.error}")
    return elapsed.wall


async def measure(urls: Urls, size: str, scale: float, folder: Path) -> dict[str, Any]:
    budget = Budget(scale)
    tenants = SIZES[size].small_tenant_list()
    slowest_alone = await alone(folder / "solo", urls, size, budget)
    rss_before = peak_rss_mib()
    config, registry = configure(
        folder,
        tenants,
        urls,
        budget,
        worker={"max_concurrent_tenants": len(tenants)},
        schedule=due_now(),
    )
    reports: list[RunReport] = []
    durations: list[float] = []
    async with open_state(config.worker.state_url) as store:

        async def run_job(job: Job, current: Config) -> None:
            with stopwatch() as elapsed:
                reports.append(await run_tenant(current, registry, store, job.tenant))
            durations.append(elapsed.wall)
            if len(reports) == len(tenants):
                worker.stop()

        worker = Scheduler(config, registry, run_job, clock=utc_now, grace=timedelta(hours=1))
        with stopwatch() as batch:
            await worker.run()
    failed = [r.tenant for r in reports if r.error]
    if failed or len(reports) != len(tenants):
        raise RuntimeError(f"{len(reports)} of {len(tenants)} runs, failed: {failed}")
    objects = sum(written(r) for r in reports)
    return {
        "tenants": len(tenants),
        "budget_per_minute": budget.per_minute,
        "wall": batch.wall,
        "slowest_alone": slowest_alone,
        "slowest_in_batch": max(durations),
        "cpu": batch.cpu,
        "objects_written": objects,
        "objects_failed": sum(c.failed for r in reports for c in r.counts.values()),
        "cpu_per_1000_objects": batch.cpu / objects * 1000,
        "peak_rss_mib": peak_rss_mib(),
        "peak_rss_before_mib": rss_before,
    }


if __name__ == "__main__":
    run_scenario(measure, __doc__, rate_scale=1.0)
