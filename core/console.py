"""What the CLI shows people: tables on a terminal, plain aligned text when piped.

Names, keys, details and errors come from servers and configuration files: they reach
rich as ``Text`` (never parsed as markup), secrets masked, control characters escaped, so
that a student named ``Martin [/i]`` shows as such, a ``[link=...]`` is no link, and an
ANSI or OSC sequence in a server's answer never reaches the terminal raw.
"""

from __future__ import annotations

from collections import Counter
from typing import get_args

from rich import box
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.style import Style
from rich.table import Table
from rich.text import Text

from core.logs import printable, redact
from core.plugins import PluginInfo
from core.report import Acted, Action, Event, RunReport

ACTIONS: tuple[Action, ...] = get_args(Action)
MAX_EVENTS_SHOWN = 50
_OUTCOME_STYLE = {"ok": "green", "partial": "yellow", "failed": "red"}


PIPED_WIDTH = 200


def shown(text: str) -> str:
    """``text`` as a terminal may show it: secrets masked, control characters escaped
    as ``repr`` does (no newline, ANSI or OSC sequence from a server gets through)."""
    return printable(redact(text))


def escape_text(text: str) -> str:
    """``text`` made safe to embed in a markup string printed with ``markup=True``: its
    markup escaped besides what ``shown`` does."""
    return escape(shown(text))


def plain_text(text: object) -> Text:
    """``text`` shown as is, whatever brackets it holds (``shown``): never read as markup."""
    return Text(shown(str(text)))


def make_console(*, stderr: bool = False) -> Console:
    # Markup only where a caller asks for it (``markup=True`` with ``escape_text``): a
    # string printed plainly shows as it is, brackets and all.
    console = Console(stderr=stderr, highlight=False, soft_wrap=False, markup=False)
    if not console.is_terminal:
        # Piped output is read by scripts and log viewers: do not wrap it at 80 columns.
        console.width = PIPED_WIDTH
    return console


class _PlainTable(Table):
    """A table whose string cells are shown as they are: a cell holds a name from a
    server, and Rich would otherwise read its brackets as markup."""

    def add_row(
        self,
        *renderables: RenderableType | None,
        style: str | Style | None = None,
        end_section: bool = False,
    ) -> None:
        cells = [plain_text(cell) if isinstance(cell, str) else cell for cell in renderables]
        super().add_row(*cells, style=style, end_section=end_section)


def _table(console: Console, *columns: str, title: str | None = None) -> Table:
    table = _PlainTable(
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
        (f"{shown(report.tenant)} ", "bold"),
        shown(f"{report.pipeline} run {report.run_id}: "),
        (outcome, _OUTCOME_STYLE.get(outcome, "")),
        " (dry run: nothing was written)" if report.dry_run else "",
        f"\nstarted {report.started_at.isoformat(timespec='seconds')}, finished {finished}",
    )
    parts: list[RenderableType] = [header]
    if report.error:
        parts.append(Text(shown(f"error: {report.error}"), style="red"))
    parts.append(counts_table(console, report))
    if report.calls:
        calls = ", ".join(f"{service} {n}" for service, n in sorted(report.calls.items()))
        parts.append(plain_text(f"API calls: {calls}"))
    # A dry run is read to see what would happen: every object is shown, not a sample.
    limit = None if report.dry_run else MAX_EVENTS_SHOWN
    if report.actions:
        parts.append(actions_table(console, report, limit))
    if report.events:
        parts.append(reasons_table(console, report.events))
        parts.append(events_table(console, report.events, limit))
    return Group(*parts)


def actions_table(console: Console, report: RunReport, limit: int | None) -> Table:
    """What the run created, updated and deleted (a dry run: would have), object by object."""
    title = "What would be written" if report.dry_run else "What was written"
    actions = report.actions
    if limit is not None and len(actions) > limit:
        title += f" (first {limit} of {len(actions)}; --json shows all)"
    table = _table(console, "action", "kind", "key", "name", "when", "changes", title=title)
    for acted in actions[:limit]:
        table.add_row(
            acted.action,
            acted.kind,
            acted.key or "-",
            acted.name,
            _when(acted),
            "; ".join(acted.changes),
        )
    return table


def _when(acted: Acted) -> str:
    """``2025-10-21 09:00-10:30``, in the zone the times were given in (the tenant's)."""
    if acted.start is None:
        return ""
    end = f"-{acted.end:%H:%M}" if acted.end is not None else ""
    return f"{acted.start:%Y-%m-%d %H:%M}{end}"


def reasons_table(console: Console, events: list[Event]) -> Table:
    table = _table(console, "status", "reason", "objects", title="Why objects were left out")
    for (status, reason), n in sorted(Counter((e.status, e.reason) for e in events).items()):
        table.add_row(status, reason, str(n))
    return table


def events_table(
    console: Console, events: list[Event], limit: int | None = MAX_EVENTS_SHOWN
) -> Table:
    shown = sorted(events, key=lambda e: (e.status != "failed", e.reason, e.key or ""))
    title = (
        "Events"
        if limit is None or len(events) <= limit
        else (f"Events (first {limit} of {len(events)}; --json shows all)")
    )
    table = _table(console, "status", "reason", "kind", "key", "detail", title=title)
    for event in shown[:limit]:
        table.add_row(event.status, event.reason, event.kind, event.key or "-", event.detail)
    return table


def plugins_table(console: Console, plugins: list[PluginInfo]) -> Table:
    table = _table(console, "name", "version", "from", "provides", "hooks", "status")
    for info in plugins:
        status = Text(shown(f"broken: {info.error}"), style="red") if info.error else Text("ok")
        hooks = ", ".join(h.removeprefix("passerelle_") for h in info.hooks)
        table.add_row(
            info.name, info.version or "-", info.origin, ", ".join(info.provides), hooks, status
        )
    return table


def schedule_table(console: Console) -> Table:
    return _table(console, "tenant", "pipeline", "time zone", "schedule", "next runs")
