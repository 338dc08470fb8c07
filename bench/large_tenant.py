"""Scenarios 1 to 3: a large tenant's first sync, its re-syncs, and the naive sync.

    python -m bench.large_tenant --urls JSON --size full --rate-scale 10 --folder DIR

In order: passerelle's first sync; its re-sync with nothing changed; the naive sync's
first run and re-run (against a school of its own, same CELCAT); then about 2% of the
occurrences changed in CELCAT and passerelle's third sync. Each phase counts the
requests the sandboxes received (reads and writes apart) and the wall time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from adapters.celcat.plugin import CelcatOptions, open_source
from bench.control import Control
from bench.measure import stopwatch
from bench.naive import naive_sink
from bench.product import Budget, Urls, configure, run_context, run_scenario, written
from bench.world import SIZES, TIMEZONE, TenantSpec
from core.protocols import Pipeline, Setup
from core.report import RunReport
from core.runner import run_tenant, utc_now
from core.state import open_state
from core.stream import run_pipeline
from core.timetable import session_rules

CHANGED = 0.02
NAIVE_KEY_SUFFIX = "-naive"


@dataclass(frozen=True, slots=True)
class Phase:
    """What one sync cost: seconds, and requests each sandbox received."""

    wall: float
    celcat_calls: int
    edusign_reads: int
    edusign_writes: int
    edusign_slowed: int
    objects_written: int | None = None
    """As the run's report counts them (created, updated, deleted); None for the naive."""

    @property
    def edusign_calls(self) -> int:
        return self.edusign_reads + self.edusign_writes


async def measured(control: Control, sync: Callable[[], Awaitable[int | None]]) -> Phase:
    await control.reset()
    with stopwatch() as elapsed:
        objects = await sync()
    calls = await control.calls()
    return Phase(
        wall=elapsed.wall,
        celcat_calls=calls.celcat.total(),
        edusign_reads=calls.edusign_reads,
        edusign_writes=calls.edusign_writes,
        edusign_slowed=calls.edusign_slowed,
        objects_written=objects,
    )


async def naive_sync(options: CelcatOptions, spec: TenantSpec, edusign: str) -> None:
    """The naive sync's run: passerelle's CELCAT reading, the naive writing, one at a time."""
    async with open_state("sqlite://") as scratch:  # a run context needs one; never used
        ctx = run_context(scratch, spec.name, "naive", utc_now())
        async with (
            open_source(Setup(spec.name, TIMEZONE, options, ctx.report.call)) as source,
            naive_sink(edusign, spec.edusign_key + NAIVE_KEY_SUFFIX) as sink,
        ):
            await run_pipeline(Pipeline(source, sink, session_rules(options), concurrency=1), ctx)
        report = ctx.report.finish(utc_now())
        if report.error:
            raise RuntimeError(f"the naive sync failed: {report.error}")


async def measure(urls: Urls, size: str, scale: float, folder: Path) -> dict[str, Any]:
    spec = SIZES[size].large
    budget = Budget(scale)
    config, registry = configure(folder, [spec], urls, budget)
    control = Control(urls.control)
    await control.rate(budget.per_minute)
    async with open_state(config.worker.state_url) as store:

        async def sync() -> int:
            return written(await _checked(run_tenant(config, registry, store, spec.name)))

        first = await measured(control, sync)
        objects = await control.objects(spec.edusign_key)
        celcat_minimum = await control.celcat_minimum(spec.name)
        again = await measured(control, sync)
        celcat = config.tenant(spec.name).sections["celcat"]
        assert isinstance(celcat, CelcatOptions)

        async def naive() -> None:
            await naive_sync(celcat, spec, urls.edusign)

        naive_first = await measured(control, naive)
        naive_again = await measured(control, naive)
        changed = await control.change(spec.name, CHANGED)
        after_change = await measured(control, sync)
    await control.aclose()
    return {
        "budget_per_minute": budget.per_minute,
        "client_per_minute": budget.client_per_minute,
        "objects": objects,
        "minimum_writes": sum(objects.values()),
        # With an empty store the connector cannot know Edusign holds none of its
        # objects (a lost state file), so it must list each kind once.
        "minimum_reads": len(objects),
        "celcat_minimum": celcat_minimum,
        "changed_sheets": changed,
        "first": _phase(first),
        "resync": _phase(again),
        "naive_first": _phase(naive_first),
        "naive_resync": _phase(naive_again),
        "changed": _phase(after_change),
    }


async def _checked(run: Awaitable[RunReport]) -> RunReport:
    report = await run
    failed = sum(c.failed for c in report.counts.values())
    if report.error or failed:
        raise RuntimeError(f"passerelle's run failed: {report.error or f'{failed} objects'}")
    return report


def _phase(phase: Phase) -> dict[str, Any]:
    return {**asdict(phase), "edusign_calls": phase.edusign_calls}


if __name__ == "__main__":
    run_scenario(measure, __doc__, rate_scale=10.0)
