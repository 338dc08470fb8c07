"""passerelle as it is deployed: a configuration file, the installed plugins, the runner.

The scenarios configure tenants against the sandbox host, as an integrator would, and
run them through ``core.runner.run_tenant`` (what ``passerelle sync`` and the worker
call), so that what is measured is the product, not a test harness.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio

from bench.measure import emit, quiet_logs
from bench.world import API_CODE, HORIZON_DAYS, SIZES, TIMEZONE, TenantSpec
from core.config import Config, load_config
from core.context import RunContext, Window
from core.plugins import Registry, default_registry
from core.report import ReportBuilder, RunReport
from core.state import StateStore

EDUSIGN_PER_MINUTE = 480
"""Edusign's budget per API key; the benchmarks scale it (see ``Budget``)."""
CLIENT_SHARE = 450 / 480
"""passerelle's default pace is 450 a minute, this share of the budget: the margin kept."""


@dataclass(frozen=True, slots=True)
class Budget:
    """Edusign's rate budget, ``scale`` times the real one; passerelle paces itself at
    its usual share of it."""

    scale: float

    @property
    def per_minute(self) -> int:
        return round(EDUSIGN_PER_MINUTE * self.scale)

    @property
    def client_per_minute(self) -> float:
        return self.per_minute * CLIENT_SHARE


@dataclass(frozen=True, slots=True)
class Urls:
    """Where the sandbox host listens (the JSON line it prints)."""

    celcat: str
    edusign: str
    control: str

    @classmethod
    def parse(cls, line: str) -> Urls:
        return cls(**json.loads(line))


def configure(
    folder: Path,
    tenants: Iterable[TenantSpec],
    urls: Urls,
    budget: Budget,
    *,
    worker: dict[str, Any] | None = None,
    schedule: str | None = None,
) -> tuple[Config, Registry]:
    """Write ``plugins.toml`` for ``tenants`` in ``folder`` and load it as ``passerelle``
    would; groups are synced, so that every kind of object is written."""
    settings = {"state_url": f"sqlite:///{folder / 'state.db'}", **(worker or {})}
    lines = ["[worker]", *(f"{k} = {json.dumps(v)}" for k, v in settings.items()), ""]
    for spec in tenants:
        lines += [f"[tenants.{spec.name}]", f'timezone = "{TIMEZONE.key}"']
        if schedule is not None:
            lines.append(f"schedule = [{json.dumps(schedule)}]")
        lines += [
            f"[tenants.{spec.name}.celcat]",
            f'url = "{urls.celcat}/{spec.name}"',
            f'api_code = "{API_CODE}"',
            f"[tenants.{spec.name}.edusign]",
            f'url = "{urls.edusign}"',
            f'api_key = "{spec.edusign_key}"',
            f"requests_per_minute = {budget.client_per_minute}",
            "sync_groups = true",
            "",
        ]
    path = folder / "plugins.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    registry = default_registry()
    config = load_config(path, registry)
    if config.problems:
        raise RuntimeError(f"the benchmark's configuration is invalid: {config.problems}")
    return config, registry


def written(report: RunReport) -> int:
    """Objects the run created, updated or deleted, every kind together."""
    return sum(c.created + c.updated + c.deleted for c in report.counts.values())


def run_context(
    store: StateStore, tenant: str, pipeline: str, now: datetime, *, dry_run: bool = False
) -> RunContext:
    """The context of a run the benchmark drives itself, around the runner: a window of
    the usual 14 days from ``now``; ``ctx.report.finish`` gives the report."""
    report = RunReport(run_id=pipeline, tenant=tenant, pipeline=pipeline, started_at=now)
    return RunContext(
        tenant=tenant,
        pipeline=pipeline,
        run_id=pipeline,
        now=now,
        timezone=TIMEZONE,
        window=Window.starting_after(now, TIMEZONE, HORIZON_DAYS),
        dry_run=dry_run,
        report=ReportBuilder(report),
        state=store.for_tenant(tenant, dry_run=dry_run),
    )


Scenario = Callable[[Urls, str, float, Path], Awaitable[dict[str, Any]]]


def run_scenario(measure: Scenario, doc: str, rate_scale: float) -> None:
    """The command line of a scenario that runs against the sandbox host: parse its
    arguments, run it, print its result as the last line."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--urls", type=Urls.parse, required=True)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--rate-scale", type=float, default=rate_scale)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    quiet_logs()
    emit(anyio.run(measure, args.urls, args.size, args.rate_scale, args.folder))
