"""``passerelle sync`` killed with SIGKILL at many points of a run, between a write and
its record included, then run again: Edusign ends as after a clean run, nothing twice, no
update lost, and the state store intact (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
from datetime import date
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.celcat.sandbox import CelcatSandbox, Institution, generate_institution
from core.asgi import serve_app
from core.state import open_state
from sinks.edusign.sandbox import EdusignSandbox, School
from tests.test_faults import duplicates, snapshot

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # killed processes

PASSERELLE = str(Path(sys.executable).parent / "passerelle")
KEY = "crash-key"
NOW = ("--now", "2025-10-20T10:00")
KILL_AT_WRITE = (1, 9, 40, 120)
"""The n-th write Edusign completes, the process dies right after it: before it could
record it."""


class KillAfterWrite:
    """Lets a write reach Edusign, then kills the connector before the answer matters."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.writes = 0
        self.kill_at: int | None = None
        self.process: Process | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http" and scope["method"] in ("POST", "PATCH", "PUT", "DELETE"):
            self.writes += 1
            if self.process is not None and self.writes == self.kill_at:
                self.process.send_signal(signal.SIGKILL)


def institution() -> Institution:
    return generate_institution(
        seed=31, start=date(2025, 10, 21), days=14, students=120, staff=15, groups=5, timetables=2
    )


async def sync(
    config: Path, killer: KillAfterWrite | None = None, kill_at: int | None = None
) -> int:
    process = await anyio.open_process(
        [PASSERELLE, "sync", "acme", *NOW, "--config", str(config)],
        env={**os.environ, "NO_COLOR": "1"},
    )
    async with process:
        if killer is not None:
            killer.process, killer.kill_at, killer.writes = process, kill_at, 0
        with anyio.fail_after(120):
            return await process.wait()


def configure(path: Path, state_url: str, celcat_url: str, edusign_url: str) -> Path:
    path.write_text(f"""
[worker]
state_url = "{state_url}"
[tenants.acme.celcat]
url = "{celcat_url}"
api_code = "c"
[tenants.acme.edusign]
url = "{edusign_url}"
api_key = "{KEY}"
requests_per_minute = 60000
""")
    return path


async def clean_run(tmp_path: Path) -> dict[str, object]:
    celcat, edusign = CelcatSandbox(institution(), api_code="c"), EdusignSandbox()
    school = edusign.add_school(KEY)
    async with serve_app(celcat.app) as c, serve_app(edusign.app) as e:
        config = configure(tmp_path / "clean.toml", f"sqlite:///{tmp_path / 'clean.db'}", c, e)
        assert await sync(config) == 0
    return snapshot(school)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


async def test_killed_at_any_write_a_rerun_ends_as_a_clean_run(
    tmp_path: Path, state_url: str
) -> None:
    expected = await clean_run(tmp_path)
    celcat, edusign = CelcatSandbox(institution(), api_code="c"), EdusignSandbox()
    school: School = edusign.add_school(KEY)
    killer = KillAfterWrite(edusign.app)
    async with serve_app(celcat.app) as c, serve_app(killer) as e:
        config = configure(tmp_path / "plugins.toml", state_url, c, e)
        for kill_at in KILL_AT_WRITE:
            code = await sync(config, killer, kill_at)
            assert code == -signal.SIGKILL, f"killed after write {kill_at}"
            assert duplicates(school) == []
        assert await sync(config) == 0, "a run after the kills completes"
    assert duplicates(school) == []
    assert snapshot(school) == expected, "no update lost, nothing extra"
    async with open_state(state_url) as store:  # the store opens and reads: not corrupt
        assert await store.load("acme", "session")
        report = await store.latest_report("acme")
        assert report is not None
        assert report.outcome == "ok"
    if state_url.startswith("sqlite"):
        path = state_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
