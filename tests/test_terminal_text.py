"""Text from servers reaches the terminal as text: never as markup, never as control codes.

A student named ``Martin [/i]`` is shown as such (Rich read it as a closing tag and the
report could not be printed at all); ``[link=...]`` is no hyperlink; an ANSI or OSC
sequence in a server's answer shows escaped; a newline in it forges no log line.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import anyio
import pytest
from rich.console import Console
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typer.testing import CliRunner, Result

from core import cli
from core.asgi import serve_app
from core.console import make_console, report_view
from core.context import RunContext
from core.errors import RunFailed
from core.logs import mask_secrets
from core.models import Record, Session
from core.plugins import Registry, load_registry
from core.report import Acted, Counts, Event, Outcome, RunReport
from tests import sample_plugins
from tests.doubles import MemorySink, MemorySource, instructor, session, student
from tests.sample_plugins import entry_point
from tests.test_cli import write_config

MARKUP_NAMES = ("Martin [/i]", "[link=https://evil.example/]Click[/link]", "[bold red]Ada[/]")
FORGED = "2026-01-01 00:00:00.000 INFO    acme - all is well"
SERVER_BODY = (
    "bad \x1b[5;35mrequest\x1b[0m \x1b]0;owned\x07"
    f"\x1b]8;;https://evil.example/\x07Click\x1b]8;;\x07\n{FORGED}\r\x9b2J"
)
"""A 400 body as a hostile or broken server sends it: SGR, OSC title and hyperlink, C1."""
NOW = ["--now", "2025-10-20T10:00:00"]


def assert_shown_as_text(output: str) -> None:
    for name in MARKUP_NAMES:
        assert name in output, f"{name!r} is shown as it is"
    assert_no_raw_codes(output)


def assert_no_raw_codes(output: str) -> None:
    assert "\x1b]" not in output, "no OSC sequence (hyperlink, window title) reaches the terminal"
    assert "\x1b[5;35m" not in output, "no server SGR"
    assert "\x9b" not in output, "no C1 control (a CSI on its own)"
    assert not [line for line in output.splitlines() if line.startswith(FORGED)], (
        "a server's newline forges no line"
    )


def hostile_report() -> RunReport:
    return RunReport(
        run_id="r-1",
        tenant="acme",
        pipeline="timetable",
        started_at=datetime(2025, 10, 20, 10, tzinfo=UTC),
        finished_at=datetime(2025, 10, 20, 10, 1, tzinfo=UTC),
        outcome=Outcome.PARTIAL,
        error=f"celcat: GET /api/events: HTTP 400: {SERVER_BODY}",
        counts={"student [/b]": Counts(created=2)},
        calls={"celcat [/i]": 3},
        actions=[
            Acted(action="created", kind="student", key="celcat:student:1", name=MARKUP_NAMES[0]),
            Acted(
                action="updated",
                kind="session",
                key=MARKUP_NAMES[2],
                name=MARKUP_NAMES[1],
                changes=[f"NAME: {MARKUP_NAMES[0]!r} -> {SERVER_BODY!r}"],
            ),
        ],
        events=[
            Event(
                status="failed",
                reason="write_refused",
                kind="session",
                key="[/b]",
                detail=f"Edusign said: {SERVER_BODY}",
            ),
            Event(status="skipped", reason="invalid_student [/i]", kind="student", detail="x"),
        ],
    )


def rendered(console: Console, report: RunReport) -> str:
    console.print(report_view(console, report))
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def test_report_view_shows_markup_and_control_codes_as_text_when_piped() -> None:
    console = make_console()
    console.file = io.StringIO()
    output = rendered(console, hostile_report())
    assert_shown_as_text(output)
    assert "\x1b" not in output
    assert "\\x1b]0;owned\\x07" in output, "the server's bytes are shown, escaped"


def test_report_view_shows_markup_and_control_codes_as_text_on_a_terminal() -> None:
    console = Console(
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        width=250,
        highlight=False,
    )
    output = rendered(console, hostile_report())
    assert_shown_as_text(output)


def test_escape_text_keeps_outside_text_literal_inside_markup() -> None:
    from core.console import escape_text  # the helper the command line's markup uses

    console = Console(
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        width=250,
        highlight=False,
    )
    for name in (*MARKUP_NAMES, SERVER_BODY, "ends with a backslash \\"):
        console.print(f"[bold]{escape_text(name)}[/bold]: configuration valid", markup=True)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert_shown_as_text(output)
    assert "ends with a backslash \\" in output


def test_a_secret_a_server_echoes_is_masked_on_the_terminal() -> None:
    secret = 'Sé\\cret"-k%41{}'
    mask_secrets([secret])
    report = hostile_report().model_copy(
        update={
            "error": f"celcat: HTTP 401: unknown key {secret!r} ({quote(secret)})",
            "counts": {},
            "calls": {},
            "actions": [],
            "events": [
                Event(status="failed", reason="refused", kind="session", detail=json.dumps(secret))
            ],
        }
    )
    console = make_console()
    console.file = io.StringIO()
    output = rendered(console, report)
    assert "unknown key" in output
    assert "-k%41" not in output
    assert "k%2541" not in output


# The command line, in process, over the sample plugins (as tests/test_cli.py).


@pytest.fixture(autouse=True)
def sample_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    registry = load_registry([entry_point("sample", "tests.sample_plugins")])
    monkeypatch.setattr(cli, "default_registry", lambda: registry)
    yield registry
    sample_plugins.DATASETS.clear()
    sample_plugins.SINKS.clear()


@pytest.fixture
def acting_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memory sink, saying what it wrote by name, as the Edusign sink does."""
    write = MemorySink.write

    async def write_and_say(self: MemorySink, record: Record, ctx: RunContext) -> None:
        await write(self, record, ctx)
        assert isinstance(record, Session)
        ctx.report.acted("session", "created", key=record.external_id, name=record.name)
        for person in (*record.instructors, *record.students):
            ctx.report.acted(
                person.kind, "created", key=person.external_id, name=person.source_name
            )

    monkeypatch.setattr(MemorySink, "write", write_and_say)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli.app, list(args))


@pytest.mark.usefixtures("acting_sink")
def test_sync_and_report_show_names_from_the_source_as_they_are(tmp_path: Path) -> None:
    teacher = instructor(1, first=MARKUP_NAMES[2])
    learners = [student(10, first="Martin [/i]"), student(11, last=MARKUP_NAMES[1])]
    course = replace(
        session(1, instructors=[teacher], students=learners), name=f"Maths {MARKUP_NAMES[1]}"
    )
    sample_plugins.DATASETS["acme"] = [teacher, *learners, course]
    config = write_config(tmp_path)

    synced = invoke("sync", "acme", "--config", str(config), *NOW)
    assert synced.exit_code == 0, (synced.output, synced.exception)
    shown = invoke("report", "acme", "--config", str(config))
    assert shown.exit_code == 0, (shown.output, shown.exception)
    for output in (synced.output, shown.output):
        assert "Maths [link=https://evil.example/]Click[/link]" in output
        assert "Martin [/i]" in output
        assert_shown_as_text(output)


def test_a_server_body_with_escape_codes_reaches_no_output_raw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(self: MemorySource, ctx: RunContext) -> AsyncIterator[Record]:
        raise RunFailed("celcat", f"GET /api/events: HTTP 400: {SERVER_BODY}")
        yield  # pragma: no cover: an async generator that fails at once

    monkeypatch.setattr(MemorySource, "read", refuse)
    config = write_config(tmp_path)
    for args in (("sync", "acme", *NOW), ("report", "acme")):
        result = invoke(*args, "--config", str(config))
        assert result.exit_code == (3 if args[0] == "sync" else 0), (
            result.output,
            result.exception,
        )
        assert "HTTP 400: bad" in result.output
        assert "\x1b" not in result.output, "neither the report nor the log lines carry it"
        assert_no_raw_codes(result.output)


# The real command and the real CELCAT client, against a server answering 400.


async def hostile_celcat(request: Request) -> Response:
    return Response(SERVER_BODY, status_code=400, media_type="text/plain")


@pytest.mark.anyio
@pytest.mark.slow  # starts a process
async def test_a_celcat_400_with_escape_codes_reaches_no_terminal_raw(tmp_path: Path) -> None:
    app = Starlette(routes=[Route("/{path:path}", hostile_celcat)])
    async with serve_app(app) as url:
        config = tmp_path / "plugins.toml"
        config.write_text(f"""
[worker]
state_url = "sqlite:///{tmp_path / "state.db"}"

[tenants.acme]
plugins = []

[tenants.acme.celcat]
url = "{url}"
api_code = "celcat-code"
retries = 0

[tenants.acme.edusign]
url = "{url}"
api_key = "edusign-key"
""")
        here = str(Path(__file__).parents[1])
        result = await anyio.run_process(
            [str(Path(sys.executable).parent / "passerelle"), "sync", "acme", *NOW],
            check=False,
            env={
                **os.environ,
                "NO_COLOR": "1",
                "PYTHONPATH": here,
                "PASSERELLE_CONFIG": str(config),
            },
        )
    output = (result.stdout + result.stderr).decode("utf-8", "replace")
    assert result.returncode == 3, output
    assert "bad" in output, output
    assert "\x1b" not in output, "neither the report nor the log lines carry the server's codes"
    assert_no_raw_codes(output)
