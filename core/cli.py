"""The ``passerelle`` command line.

Exit codes are part of the interface: 0 success, 1 the run ended ``partial``, 2 bad
usage or configuration, 3 the run failed as a whole.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import anyio
import typer
from loguru import logger
from rich.live import Live

from core.config import Config, ConfigErrors, PluginUnavailable, load_config
from core.console import (
    counts_table,
    make_console,
    plugins_table,
    report_view,
    schedule_table,
)
from core.demo import run_demo
from core.errors import AlreadyRunning, AnotherWorker, ConfigError, RunFailed
from core.logs import configure_logging, mask_secrets
from core.plugins import Registry, default_registry
from core.protocols import Setup
from core.report import Outcome, ReportBuilder, RunReport
from core.runner import run_tenant, utc_now
from core.schedule import Schedule
from core.service import serve_worker
from core.state import open_state
from core.worker import pipelines_of

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3
_EXIT_FOR_OUTCOME = {
    Outcome.OK: EXIT_OK,
    Outcome.PARTIAL: EXIT_PARTIAL,
    Outcome.FAILED: EXIT_FAILED,
}

app = typer.Typer(
    help="passerelle: ERP timetables into attendance sheets, and attendance back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="plugins.toml to read (else $PASSERELLE_CONFIG, else ./plugins.toml).",
        dir_okay=False,
    ),
]
TenantArgument = Annotated[str, typer.Argument(help="The tenant's name, as in [tenants.NAME].")]
NowOption = Annotated[
    datetime | None,
    typer.Option(
        "--now",
        help="The clock (ISO-8601); without an offset, in the tenant's zone (UTC for schedule).",
        formats=[
            "%Y-%m-%dT%H:%M:%S%z",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M%z",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d",
        ],
    ),
]


@app.callback()
def _global_options(
    log_json: Annotated[
        bool,
        typer.Option(
            "--log-json", envvar="PASSERELLE_LOG_JSON", help="Log JSON lines (for log shippers)."
        ),
    ] = False,
    log_level: Annotated[
        str,
        typer.Option(
            "--log-level", envvar="PASSERELLE_LOG_LEVEL", help="DEBUG, INFO, WARNING or ERROR."
        ),
    ] = "INFO",
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file", envvar="PASSERELLE_LOG_FILE", help="Also append logs to this file."
        ),
    ] = None,
) -> None:
    configure_logging(json=log_json, level=log_level.upper(), file=log_file)


def _exit(code: int) -> NoReturn:
    raise typer.Exit(code)


@contextmanager
def _config_errors_exit() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        make_console(stderr=True).print(f"[red]configuration error[/red]\n{exc}", markup=True)
        _exit(EXIT_USAGE)
    except AlreadyRunning as exc:  # nothing was started: another run holds the tenant
        make_console(stderr=True).print(f"refused: {exc}", markup=False, highlight=False)
        _exit(EXIT_FAILED)
    except AnotherWorker as exc:  # a second worker on one SQLite store: a usage mistake
        make_console(stderr=True).print(f"refused: {exc}", markup=False, highlight=False)
        _exit(EXIT_USAGE)


def _load(config: Path | None) -> tuple[Config, Registry]:
    registry = default_registry()
    loaded = load_config(config, registry)
    mask_secrets(loaded.secrets)
    return loaded, registry


@app.command()
def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the discovered plugins: name, version, where from, what they provide, hooks."""
    infos = default_registry().plugins
    if as_json:
        typer.echo(json.dumps([asdict(info) for info in infos], indent=2))
        return
    console = make_console()
    console.print(plugins_table(console, infos))


@app.command()
def check(
    tenant: Annotated[str | None, typer.Argument(help="Only this tenant.")] = None,
    config: ConfigOption = None,
) -> None:
    """Validate the configuration, then check each tenant's credentials on its servers."""
    console = make_console()
    with _config_errors_exit():
        loaded, registry = _load(config)
        problems = [p for p in loaded.problems if tenant in (None, p.tenant) or p.tenant is None]
        names = [tenant] if tenant is not None else sorted(loaded.tenants)
        if tenant is not None and not problems:
            loaded.tenant(tenant)
    for problem in problems:
        console.print(f"[red]✗[/red] {problem}", markup=True)
    failures = anyio.run(
        _check_servers, loaded, registry, [n for n in names if n in loaded.tenants]
    )
    if problems:
        _exit(EXIT_USAGE)
    if failures:
        _exit(EXIT_FAILED)


async def _check_servers(config: Config, registry: Registry, names: list[str]) -> int:
    console = make_console()
    failures = 0
    for name in names:
        tenant = config.tenants[name]
        console.print(f"[bold]{name}[/bold]: configuration valid", markup=True)
        for kind, spec in (
            ("source", registry.sources[tenant.source]),
            ("sink", registry.sinks[tenant.sink]),
        ):
            setup = Setup(name, tenant.timezone, tenant.sections[spec.name])
            try:
                async with spec.open(setup) as opened:
                    lines = await opened.check()
            except RunFailed as exc:
                failures += 1
                console.print(f"  [red]✗[/red] {kind} {spec.name}: {exc.detail}", markup=True)
                continue
            console.print(f"  [green]✓[/green] {kind} {spec.name}", markup=True)
            for line in lines:
                console.print(f"    {line}", markup=False)
    return failures


@app.command()
def sync(
    tenant: TenantArgument,
    pipeline: Annotated[
        str, typer.Option("--pipeline", help="timetable or return-attendance.")
    ] = "timetable",
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Read everything, write nothing, print what would be done."),
    ] = False,
    now: NowOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as one JSON document.")
    ] = False,
    allow_mass_deletion: Annotated[
        bool,
        typer.Option(
            "--allow-mass-deletion",
            help="Confirm, for this run, deletions the tenant's deletion guard would stop.",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Run one tenant's pipeline now, in the foreground, with progress."""
    console = make_console()
    with _config_errors_exit():
        loaded, registry = _load(config)
        tenant_config = loaded.tenant(tenant)
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=tenant_config.timezone)
        report = anyio.run(
            _sync,
            loaded,
            registry,
            tenant,
            pipeline,
            now,
            dry_run,
            not as_json,
            allow_mass_deletion,
        )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        console.print(report_view(console, report))
    _exit(_EXIT_FOR_OUTCOME[report.outcome or Outcome.FAILED])


async def _sync(
    config: Config,
    registry: Registry,
    tenant: str,
    pipeline: str,
    now: datetime | None,
    dry_run: bool,
    progress: bool,
    allow_mass_deletion: bool = False,
) -> RunReport:
    console = make_console()
    async with open_state(config.worker.state_url, read_only=dry_run) as store:
        run = functools.partial(
            run_tenant,
            config,
            registry,
            store,
            tenant,
            pipeline,
            now=now,
            dry_run=dry_run,
            allow_mass_deletion=allow_mass_deletion,
        )
        if not (progress and console.is_terminal):
            return await run()
        with Live(console=console, transient=True, auto_refresh=False) as live:
            builders: list[ReportBuilder] = []
            async with anyio.create_task_group() as tg:

                async def refresh() -> None:
                    while True:
                        if builders:
                            live.update(counts_table(console, builders[0].report), refresh=True)
                        await anyio.sleep(0.25)

                tg.start_soon(refresh)
                report = await run(on_start=builders.append)
                tg.cancel_scope.cancel()
        return report


@app.command()
def report(
    tenant: TenantArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", help="Only runs of this pipeline.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Show the latest run's report for a tenant."""
    with _config_errors_exit():
        loaded, _ = _load(config)
        if tenant not in loaded.tenants and not any(p.tenant == tenant for p in loaded.problems):
            loaded.tenant(tenant)
    latest = anyio.run(_latest_report, loaded.worker.state_url, tenant, pipeline)
    if as_json:
        typer.echo(latest.model_dump_json(indent=2) if latest else "null")
        return
    console = make_console()
    if latest is None:
        console.print(f"No run recorded yet for tenant {tenant!r}.")
        return
    console.print(report_view(console, latest))


async def _latest_report(url: str, tenant: str, pipeline: str | None) -> RunReport | None:
    async with open_state(url, read_only=True) as store:
        return await store.latest_report(tenant, pipeline)


@app.command()
def run(config: ConfigOption = None) -> None:
    """The long-lived worker: every tenant on its schedule, until SIGTERM/SIGINT.

    SIGTERM or SIGINT stops gracefully (a second one stops at once); SIGHUP reloads the
    configuration, keeping the old one if the new one is invalid.
    """
    with _config_errors_exit():
        loaded, registry = _load(config)
        fatal = [p for p in loaded.problems if not isinstance(p, PluginUnavailable)]
        if fatal:
            raise ConfigErrors(fatal)
    for problem in loaded.problems:
        logger.error("tenant disabled: {}", problem)
    with _config_errors_exit():
        anyio.run(serve_worker, loaded, registry, config)


@app.command()
def schedule(
    now: NowOption = None,
    count: Annotated[int, typer.Option("--count", min=1, max=50, help="Runs to show.")] = 3,
    config: ConfigOption = None,
) -> None:
    """Each tenant's next run times, in its time zone."""
    with _config_errors_exit():
        loaded, registry = _load(config)
        if loaded.problems:
            raise ConfigErrors(loaded.problems)
    console = make_console()
    moment = now or utc_now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    table = schedule_table(console)
    for name, tenant in sorted(loaded.tenants.items()):
        runs = Schedule(tenant.settings.schedule, tenant.timezone, name).upcoming(moment, count)
        for pipeline in pipelines_of(tenant, registry):
            table.add_row(
                name,
                pipeline,
                tenant.settings.timezone,
                ", ".join(tenant.settings.schedule),
                "  ".join(r.strftime("%Y-%m-%d %H:%M %Z") for r in runs),
            )
    console.print(table)


@app.command()
def demo(
    keep_running: Annotated[
        bool,
        typer.Option(
            "--keep-running", help="Leave the sandboxes up and print a plugins.toml for them."
        ),
    ] = False,
) -> None:
    """Run both pipelines against bundled sandboxes on loopback; needs no configuration."""
    console = make_console()
    try:
        anyio.run(run_demo, default_registry(), console, keep_running)
    except KeyboardInterrupt:
        console.print("Stopped.")


def main() -> None:
    app()
