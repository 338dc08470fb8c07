"""What the CLI shows people: tables on a terminal, plain aligned text when piped."""

from __future__ import annotations

from collections import Counter
from typing import get_args

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from core.plugins import PluginInfo
from core.report import Action, Event, RunReport

ACTIONS: tuple[Action, ...] = get_args(Action)
MAX_EVENTS_SHOWN = 50
_OUTCOME_STYLE = {"ok": "green", "partial": "yellow", "failed": "red"}


PIPED_WIDTH = 200


def make_console(*, stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        # Piped output is read by scripts and log viewers: do not wrap it at 80 columns.
        console.width = PIPED_WIDTH
    return console


def _table(console: Console, *columns: str, title: str | None = None) -> Table:
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD if console.is_terminal else None,
        title_justify="left",
        pad_edge=False,
    )
    for column in columns:
        table.add_column(column)
    return table


def counts_table(console: Console, report: RunReport) -> Table:
    prefix = "would be " if report.dry_run else ""
    table = _table(
        console,
        "kind",
        *(f"{prefix}{a}" if a not in ("unchanged", "skipped", "failed") else a for a in ACTIONS),
    )
    for kind in sorted(report.counts):
        counts = report.counts[kind]
        table.add_row(kind, *(str(getattr(counts, action)) for action in ACTIONS))
    return table


def report_view(console: Console, report: RunReport) -> RenderableType:
    outcome = report.outcome.value if report.outcome is not None else "running"
    finished = report.finished_at.isoformat(timespec="seconds") if report.finished_at else "-"
    header = Text.assemble(
        (f"{report.tenant} ", "bold"),
        f"{report.pipeline} run {report.run_id}: ",
        (outcome, _OUTCOME_STYLE.get(outcome, "")),
        " (dry run: nothing was written)" if report.dry_run else "",
        f"\nstarted {report.started_at.isoformat(timespec='seconds')}, finished {finished}",
    )
    parts: list[RenderableType] = [header]
    if report.error:
        parts.append(Text(f"error: {report.error}", style="red"))
    parts.append(counts_table(console, report))
    if report.calls:
        calls = ", ".join(f"{service} {n}" for service, n in sorted(report.calls.items()))
        parts.append(Text(f"API calls: {calls}"))
    if report.events:
        parts.append(reasons_table(console, report.events))
        parts.append(events_table(console, report.events))
    return Group(*parts)


def reasons_table(console: Console, events: list[Event]) -> Table:
    table = _table(console, "status", "reason", "objects", title="Why objects were left out")
    for (status, reason), n in sorted(Counter((e.status, e.reason) for e in events).items()):
        table.add_row(status, reason, str(n))
    return table


def events_table(console: Console, events: list[Event]) -> Table:
    shown = sorted(events, key=lambda e: (e.status != "failed", e.reason, e.key or ""))
    title = (
        "Events"
        if len(events) <= MAX_EVENTS_SHOWN
        else (f"Events (first {MAX_EVENTS_SHOWN} of {len(events)}; --json shows all)")
    )
    table = _table(console, "status", "reason", "kind", "key", "detail", title=title)
    for event in shown[:MAX_EVENTS_SHOWN]:
        table.add_row(event.status, event.reason, event.kind, event.key or "-", event.detail)
    return table


def plugins_table(console: Console, plugins: list[PluginInfo]) -> Table:
    table = _table(console, "name", "version", "from", "provides", "hooks", "status")
    for info in plugins:
        status = Text(f"broken: {info.error}", style="red") if info.error else Text("ok")
        hooks = ", ".join(h.removeprefix("passerelle_") for h in info.hooks)
        table.add_row(
            info.name, info.version or "-", info.origin, ", ".join(info.provides), hooks, status
        )
    return table


def schedule_table(console: Console) -> Table:
    return _table(console, "tenant", "pipeline", "time zone", "schedule", "next runs")
