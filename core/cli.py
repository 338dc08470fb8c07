"""The ``passerelle`` command line.

Exit codes are part of the interface: 0 success, 1 the run ended ``partial``, 2 bad
usage, configuration or an unusable state store, 3 the run failed as a whole; and 130
for a ``sync`` stopped by Ctrl-C (its report is stored, ``failed``, "interrupted").

Each command imports what it needs when it runs: ``passerelle --help`` (and a typo)
loads the command definitions only, not the configuration, the state store, the worker
or the plugins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Protocol, runtime_checkable

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from core.config import Config, TenantConfig
    from core.plugins import Registry
    from core.report import Outcome, RunReport

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

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
            "--log-level",
            envvar="PASSERELLE_LOG_LEVEL",
            help="DEBUG, INFO, WARNING or ERROR.",
        ),
    ] = "INFO",
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file", envvar="PASSERELLE_LOG_FILE", help="Also append logs to this file."
        ),
    ] = None,
) -> None:
    from core.logs import configure_logging

    level = log_level.upper()
    if level not in LOG_LEVELS:
        raise typer.BadParameter(
            f"{log_level!r} is not one of {', '.join(LOG_LEVELS)}", param_hint="'--log-level'"
        )
    try:
        configure_logging(json=log_json, level=level, file=log_file)
    except OSError as exc:  # a usage error (exit 2), not a traceback
        raise typer.BadParameter(
            f"cannot append to {log_file}: {exc.strerror or exc}", param_hint="'--log-file'"
        ) from None


def _exit(code: int) -> NoReturn:
    raise typer.Exit(code)


def _exit_code(outcome: Outcome | None) -> int:
    from core.report import Outcome

    return {Outcome.OK: EXIT_OK, Outcome.PARTIAL: EXIT_PARTIAL}.get(
        outcome or Outcome.FAILED, EXIT_FAILED
    )


def default_registry() -> Registry:
    """The installed plugins (``core.plugins.default_registry``); tests replace this name."""
    from core.plugins import default_registry as installed

    return installed()


@contextmanager
def _config_errors_exit() -> Iterator[None]:
    """Failures a user causes and fixes, as one message and an exit code: no traceback
    on the terminal (it goes to the log, at DEBUG). Whatever the messages quote (tenant
    names, keys, paths) comes from outside: escaped, it shows as written."""
    from loguru import logger

    from core.errors import AlreadyRunning, AnotherWorker, ConfigError
    from core.state import StateUnusable

    try:
        yield
    except StateUnusable as exc:  # before ConfigError, which it is
        logger.opt(exception=exc).debug("the state store is unusable")
        _say(f"[red]error[/red]: {_escaped(str(exc))}")
        _exit(EXIT_USAGE)
    except ConfigError as exc:
        _say(f"[red]configuration error[/red]\n{_escaped(str(exc))}")
        _exit(EXIT_USAGE)
    except AlreadyRunning as exc:  # nothing was started: another run holds the tenant
        _say(f"refused: {_escaped(str(exc))}")
        _exit(EXIT_FAILED)
    except AnotherWorker as exc:  # a second worker on one SQLite store: a usage mistake
        _say(f"refused: {_escaped(str(exc))}")
        _exit(EXIT_USAGE)


def _say(markup: str) -> None:
    from core.console import make_console

    make_console(stderr=True).print(markup, markup=True, highlight=False)


def _escaped(text: str) -> str:
    """``text`` made safe for markup line by line: a message may hold several lines (one
    per problem), which must stay lines."""
    from core.console import escape_text

    return "\n".join(escape_text(line) for line in text.splitlines())


def _load(config: Path | None) -> tuple[Config, Registry]:
    from core.config import load_config
    from core.logs import mask_secrets

    registry = default_registry()
    loaded = load_config(config, registry)
    mask_secrets(loaded.secrets)
    return loaded, registry


@app.command()
def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the discovered plugins: name, version, where from, what they provide, hooks."""
    import json
    from dataclasses import asdict

    from core.console import make_console, plugins_table

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
    """Validate the configuration, open the state store, then check each tenant's
    credentials and settings on its servers. Exit 2 if the configuration or the state
    store is unusable, else 3 if a server check failed."""
    import anyio

    from core.console import make_console

    console = make_console()
    with _config_errors_exit():
        loaded, registry = _load(config)
        problems = [p for p in loaded.problems if tenant in (None, p.tenant) or p.tenant is None]
        names = [tenant] if tenant is not None else sorted(loaded.tenants)
        if tenant is not None and not problems:
            loaded.tenant(tenant)
    for problem in problems:
        console.print(f"[red]✗[/red] {_escaped(str(problem))}", markup=True)
    store_ok = anyio.run(_check_state, console, loaded.worker.state_url)
    failures = anyio.run(
        _check_servers, console, loaded, registry, [n for n in names if n in loaded.tenants]
    )
    if problems or not store_ok:
        _exit(EXIT_USAGE)
    if failures:
        _exit(EXIT_FAILED)


async def _check_state(console: Console, url: str) -> bool:
    """Open the state store as a reading command does (creating nothing): ✓ or ✗."""
    from loguru import logger

    from core.console import escape_text
    from core.state import StateUnusable, open_state
    from core.state.urls import masked

    where = escape_text(masked(url))
    try:
        async with open_state(url, read_only=True):
            pass
    except StateUnusable as exc:
        logger.opt(exception=exc).debug("the state store is unusable")
        console.print(f"[red]✗[/red] state store {where}: {escape_text(exc.problem)}", markup=True)
        return False
    console.print(f"[green]✓[/green] state store {where}", markup=True)
    return True


CheckLines = Callable[[], Awaitable[list[str]]]


@runtime_checkable
class ChecksOptions(Protocol):
    """A source or sink whose check can also say what in the tenant's options its
    server contradicts (a category filter naming no category, say)."""

    async def check_options(self, options: object) -> list[str]: ...


async def _check_servers(
    console: Console, config: Config, registry: Registry, names: list[str]
) -> int:
    """Check every server of every tenant, whatever fails: each failure is one ✗ line
    with its reason, and the next server, then the next tenant, is checked all the same."""
    from loguru import logger

    from core.console import escape_text

    failures = 0
    for name in names:
        console.print(f"[bold]{escape_text(name)}[/bold]: configuration valid", markup=True)
        for label, lines_of in _server_checks(config.tenants[name], registry):
            try:
                lines = await lines_of()
            except Exception as exc:  # any failure is this server's ✗, and the next is checked
                failures += 1
                logger.bind(tenant=name).opt(exception=exc).debug("check of {} failed", label)
                console.print(
                    f"  [red]✗[/red] {escape_text(label)}: {escape_text(_reason(exc))}",
                    markup=True,
                )
                continue
            console.print(f"  [green]✓[/green] {escape_text(label)}", markup=True)
            for line in lines:
                _check_line(console, line)
    return failures


def _server_checks(tenant: TenantConfig, registry: Registry) -> list[tuple[str, CheckLines]]:
    """What ``check`` asks of a tenant's plugins: its source and sink, then the sink of
    each optional pipeline it enabled."""
    from core.protocols import Setup
    from core.runner import plan_for
    from core.scheduler import pipelines_of

    checks: list[tuple[str, CheckLines]] = []
    for kind, spec in (
        ("source", registry.sources[tenant.source]),
        ("sink", registry.sinks[tenant.sink]),
    ):
        options = tenant.sections[spec.name]
        setup = Setup(tenant.name, tenant.timezone, options, shared=tenant.shared)

        async def lines_of(spec: Any = spec, setup: Setup[Any] = setup) -> list[str]:
            async with spec.open(setup) as opened:
                lines: list[str] = await opened.check()
                if isinstance(opened, ChecksOptions):
                    lines += await opened.check_options(setup.options)
                return lines

        checks.append((f"{kind} {spec.name}", lines_of))
    for pipeline in pipelines_of(tenant, registry)[1:]:

        async def pipeline_lines(pipeline: str = pipeline) -> list[str]:
            plan = plan_for(tenant, pipeline, registry)
            async with registry.pipelines[pipeline].open(plan, _no_meter) as built:
                lines: list[str] = await built.sink.check()
                return lines

        checks.append((f"{pipeline} sink", pipeline_lines))
    return checks


def _no_meter(*_args: object, **_kwargs: object) -> None:
    """``check`` counts no calls."""


def _reason(exc: Exception) -> str:
    """Why a check failed, for a person: a passerelle error says it itself; anything
    else (a bug, an answer nobody foresaw) by its type, its traceback in the log."""
    from core.errors import PasserelleError, RunFailed

    if isinstance(exc, RunFailed):
        return exc.detail
    text = " ".join(str(exc).split())[:300]
    if isinstance(exc, PasserelleError):
        return text or type(exc).__name__
    return f"unexpected error: {type(exc).__name__}{f': {text}' if text else ''}"


def _check_line(console: Console, line: str) -> None:
    """One line a check said; ``warning: ...`` lines are a mistake it could see."""
    from core.console import escape_text, plain_text

    if line.startswith("warning: "):
        warning = escape_text(line.removeprefix("warning: "))
        console.print(f"    [yellow]⚠ warning[/yellow]: {warning}", markup=True)
    else:
        console.print(plain_text(f"    {line}"))


@app.command()
def sync(
    tenant: TenantArgument,
    pipeline: Annotated[
        str,
        typer.Option(
            "--pipeline", help="timetable, or one of the optional pipelines the tenant enabled."
        ),
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
    import anyio

    from core.console import make_console, report_view

    console = make_console()
    with _config_errors_exit():
        loaded, registry = _load(config)
        tenant_config = loaded.tenant(tenant)
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=tenant_config.timezone)
        try:
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
        except KeyboardInterrupt:  # the run stored its report, "interrupted", on the way out
            make_console(stderr=True).print("interrupted: the run was stopped before the end")
            _exit(EXIT_INTERRUPTED)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        console.print(report_view(console, report))
    _exit(_exit_code(report.outcome))


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
    import functools

    import anyio
    from rich.live import Live

    from core.console import counts_table, make_console
    from core.report import ReportBuilder
    from core.runner import run_tenant
    from core.state import open_state

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
    import anyio

    from core.console import make_console, report_view

    with _config_errors_exit():
        loaded, registry = _load(config)
        if tenant not in loaded.tenants and not any(p.tenant == tenant for p in loaded.problems):
            loaded.tenant(tenant)
        if pipeline is not None and pipeline not in registry.pipelines:
            # Else "no run recorded yet", exit 0: a typo would pass for a quiet tenant.
            known = ", ".join(sorted(registry.pipelines))
            raise typer.BadParameter(
                f"unknown pipeline {pipeline!r} (known: {known})", param_hint="'--pipeline'"
            )
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
    from core.state import open_state

    async with open_state(url, read_only=True) as store:
        return await store.latest_report(tenant, pipeline)


@app.command()
def run(config: ConfigOption = None) -> None:
    """The long-lived worker: every tenant on its schedule, until SIGTERM/SIGINT.

    SIGTERM or SIGINT stops gracefully (a second one stops at once); SIGHUP reloads the
    configuration, keeping the old one if the new one is invalid.
    """
    import anyio
    from loguru import logger

    from core.config import ConfigErrors, PluginUnavailable
    from core.worker import serve_worker

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
    from datetime import UTC

    from core.config import ConfigErrors
    from core.console import make_console, schedule_table
    from core.runner import utc_now
    from core.schedule import Schedule
    from core.scheduler import pipelines_of

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
    """A demo tenant's pipelines against the plugins' sandboxes on loopback; needs no
    configuration."""
    import anyio

    from core.console import make_console
    from core.demo import run_demo

    console = make_console()
    try:
        anyio.run(run_demo, default_registry(), console, keep_running)
    except KeyboardInterrupt:
        console.print("Stopped.")


def main() -> None:
    app()
