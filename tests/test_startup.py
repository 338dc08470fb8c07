"""What a process loads at start: no sandbox or demo unless the demo or a test asks for
one, and ``passerelle --help`` only the command definitions. Each check runs in a fresh
interpreter, since this one has imported everything already."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.sandbox import Fault, FaultInjector, serve_app

ROOT = Path(__file__).resolve().parent.parent


def modules_after(code: str) -> list[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_the_command_line_and_the_plugins_load_no_sandbox_and_no_demo() -> None:
    """The worker and every command but ``demo`` load the registry: a sandbox is a test's
    fake, and the demo's, never production's."""
    loaded = modules_after(
        "import core.cli, core.plugins, core.worker\n"
        "registry = core.plugins.default_registry()\n"
        "assert registry.sources and registry.sinks and registry.pipelines"
    )
    fakes = [
        name
        for name in loaded
        if any(part in name for part in (".sandbox", "sandbox.", ".demo", "caws_sandbox"))
    ]
    assert fakes == []
    assert {"adapters.celcat.plugin", "sinks.edusign.plugin"} <= set(loaded), "plugins loaded"


def test_the_plugins_still_offer_their_demo() -> None:
    """The demo factories are registered all the same; opening one loads its sandbox."""
    loaded = modules_after(
        "import core.plugins\n"
        "from core.protocols import DemoSettings\n"
        "from datetime import date\n"
        "registry = core.plugins.default_registry()\n"
        "demos = [s.demo for s in (*registry.sources.values(), *registry.sinks.values(),"
        " *registry.pipelines.values()) if s.demo is not None]\n"
        "assert len(demos) >= 3, demos\n"
        "for demo in demos: demo(DemoSettings(seed=1, first_day=date(2025, 10, 21)))"
    )
    assert {"adapters.celcat.demo", "sinks.edusign.demo", "adapters.celcat.sandbox"} <= set(loaded)


HEAVY = (
    "sqlalchemy",
    "alembic",
    "procrastinate",
    "uvicorn",
    "pydantic_settings",
    "croniter",
    "adapters",
    "sinks",
)
"""What ``passerelle --help`` has no use for: the state store, the job engine, the
server, the configuration loader, the schedule parser, the plugins."""


def test_help_loads_only_the_command_definitions(tmp_path: Path) -> None:
    """``passerelle --help``, through the installed entry point: none of ``HEAVY``."""
    shown = tmp_path / "help.txt"
    loaded = modules_after(
        "import contextlib, sys\n"
        "from importlib.metadata import entry_points\n"
        "(script,) = entry_points(group='console_scripts', name='passerelle')\n"
        "sys.argv = ['passerelle', '--help']\n"
        f"with open({str(shown)!r}, 'w') as out, contextlib.redirect_stdout(out):\n"
        "    try:\n"
        "        script.load()()\n"
        "    except SystemExit as end:\n"
        "        assert end.code in (0, None), end.code\n"
    )
    assert "Usage: passerelle" in shown.read_text()
    assert [name for name in loaded if name.split(".")[0] in HEAVY] == []


@pytest.mark.parametrize("module", ["core/cli.py", "core/demo.py"])
def test_the_command_line_and_the_demo_name_no_plugin(module: str) -> None:
    """The core tells its story from what the registry holds: a plugin's name in its
    code or help texts would be wrong the day that plugin is not installed."""
    text = (ROOT / module).read_text(encoding="utf-8")
    named = re.findall(r"celcat|edusign|caws|return.attendance", text, re.IGNORECASE)
    assert named == []


async def _ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def _broken(request: Request) -> JSONResponse:
    raise RuntimeError("a bug in the app")


@pytest.mark.anyio
async def test_a_connection_dropped_on_purpose_is_not_logged_as_a_server_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A sandbox's ``reset`` fault is no server error; a bug in an app still is."""
    app = Starlette(routes=[Route("/ok", _ok), Route("/broken", _broken)])
    faulty = FaultInjector(app, lambda: [Fault(path="^/ok$", body="reset")])
    caplog.set_level(logging.ERROR, logger="uvicorn.error")
    async with serve_app(faulty) as url, httpx.AsyncClient(base_url=url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/ok")
        assert (await client.get("/broken")).status_code == 500
    errors = [r for r in caplog.records if r.name == "uvicorn.error" and r.exc_info]
    assert [type(r.exc_info[1]).__name__ for r in errors if r.exc_info] == ["RuntimeError"]
