"""The real ``passerelle`` command against both sandboxes served on loopback ports."""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import anyio
import pytest

from adapters.celcat.caws_sandbox import CawsSandbox
from adapters.celcat.sandbox import CelcatSandbox, generate_institution
from core.asgi import serve_app
from core.config import load_config
from core.plugins import load_registry
from sinks.edusign.sandbox import EdusignSandbox

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # the passerelle command

PASSERELLE = str(Path(sys.executable).parent / "passerelle")
EDUSIGN_KEY = "edusign-e2e-key"
WRITES = ("POST", "PATCH", "PUT", "DELETE")


@dataclass
class Servers:
    celcat: CelcatSandbox
    edusign: EdusignSandbox
    caws: CawsSandbox
    config: Path

    async def run(self, *args: str, tty: bool = False) -> tuple[int, str]:
        command = [PASSERELLE, *args, "--config", str(self.config)]
        env = {**self.env, "NO_COLOR": "1", "COLUMNS": "120"}
        if tty:  # a pseudo-terminal, as a person at a terminal has
            command = ["script", "-qec", shlex.join(command), "/dev/null"]
        result = await anyio.run_process(command, check=False, env=env)
        return result.returncode, (result.stdout + result.stderr).decode()

    @property
    def env(self) -> dict[str, str]:
        """The command runs the code under test: this checkout's, whatever is installed."""
        here = str(Path(__file__).parents[1])
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, (here, os.environ.get("PYTHONPATH")))),
        }

    async def json(self, *args: str) -> Any:
        """The command's standard output as JSON (logs go to standard error)."""
        command = [PASSERELLE, *args, "--json", "--config", str(self.config)]
        result = await anyio.run_process(command, check=False, env=self.env)
        assert result.returncode == 0, result.stderr.decode()
        return json.loads(result.stdout)

    def edusign_writes(self) -> int:
        return sum(n for k, n in self.edusign.calls.items() if k.split()[0] in WRITES)


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[Servers]:
    inst = generate_institution(
        seed=3, start=date(2025, 10, 21), days=14, students=60, staff=12, groups=4, timetables=2
    )
    celcat = CelcatSandbox(inst, api_code="e2e-code")
    edusign = EdusignSandbox()
    edusign.add_school(EDUSIGN_KEY, name="Acme Formation")
    caws = CawsSandbox()
    students = sorted(inst.students)
    for event in inst.timetables[1].events.values():  # a register for each event and week
        for week in range(1, 20):
            caws.add_register(event.id, week, staff_id=1, student_ids=students)
    async with (
        serve_app(celcat.app) as celcat_url,
        serve_app(edusign.app) as edusign_url,
        serve_app(caws.app) as caws_url,
    ):
        config = tmp_path / "plugins.toml"
        config.write_text(f"""
[worker]
state_url = "sqlite:///{tmp_path / "state.db"}"

[tenants.acme]
plugins = ["return-attendance"]

[tenants.acme.celcat]
url = "{celcat_url}"
api_code = "e2e-code"

[tenants.acme.return_attendance]
caws_url = "{caws_url}"
username = "passerelle"
password = "pw"
timetable_alias = "TT2025"
role = "Admin"
timetable_id = 1

[tenants.acme.edusign]
url = "{edusign_url}"
api_key = "{EDUSIGN_KEY}"
requests_per_minute = 60000
""")
        yield Servers(celcat, edusign, caws, config)


NOW = ("--now", "2025-10-20T10:00")


async def test_sync_prints_the_summary_and_report_reads_it(servers: Servers) -> None:
    code, output = await servers.run("sync", "acme", *NOW)
    assert code == 0, output
    assert "acme timetable run" in output
    assert ": ok" in output
    assert "Why objects were left out" in output
    created = servers.edusign_writes()
    assert created > 0

    code, output = await servers.run("report", "acme", "--json")
    report = json.loads(output)
    assert report["outcome"] == "ok"
    assert report["counts"]["session"]["created"] > 0
    assert report["calls"]["edusign"] > 0
    assert report["calls"]["celcat"] > 0

    servers.edusign.reset_counts()
    code, output = await servers.run("sync", "acme", *NOW)
    assert code == 0
    assert servers.edusign_writes() == 0


async def test_dry_run_prints_the_plan_and_writes_nothing(servers: Servers, tmp_path: Path) -> None:
    code, output = await servers.run("sync", "acme", "--dry-run", *NOW)
    assert code == 0, output
    assert "dry run: nothing was written" in output
    assert "would be created" in output
    assert servers.edusign_writes() == 0
    assert not (tmp_path / "state.db").exists()


async def test_dry_run_lists_every_object_it_would_create(servers: Servers) -> None:
    """cli-and-config.md: `--dry-run` "prints what it would create, update, delete and skip
    (with reasons)": every planned object, not only counts."""
    planned = await servers.json("sync", "acme", "--dry-run", *NOW)
    assert planned["dry_run"] is True
    would_create = {a["key"] for a in planned["actions"] if a["action"] == "created"}
    sessions = [a for a in planned["actions"] if a["kind"] == "session"]
    assert all(a["name"] and a["start"] and a["end"] for a in sessions)
    assert {a["kind"] for a in planned["actions"]} >= {"session", "student", "instructor"}

    code, text = await servers.run("sync", "acme", "--dry-run", *NOW)
    assert code == 0, text
    assert all(key in text for key in would_create), "the text lists every planned object"
    assert len(sessions) > 50, "more than a sample: the whole plan is printed"

    code, output = await servers.run("sync", "acme", *NOW)
    assert code == 0, output
    school = servers.edusign.schools[EDUSIGN_KEY]
    written = {
        r["API_ID"]
        for records in (school.courses, school.students, school.professors)
        for r in records.values()
    }
    assert would_create == written, "the dry run planned exactly what the run then wrote"


async def test_dry_run_says_what_an_update_changes_and_what_it_deletes(servers: Servers) -> None:
    code, output = await servers.run("sync", "acme", *NOW)
    assert code == 0, output
    timetable = servers.celcat.institution.timetables[1]
    synced = sorted(
        {
            int(r["API_ID"].split(":")[2])
            for r in servers.edusign.schools[EDUSIGN_KEY].courses.values()
            if r["API_ID"].startswith("celcat:1:")
        }
    )
    renamed, cancelled = (timetable.events[event] for event in synced[:2])
    old_name = renamed.name
    renamed.name = "Algèbre linéaire (salle changée)"
    del timetable.events[cancelled.id]

    actions = (await servers.json("sync", "acme", "--dry-run", *NOW))["actions"]
    updated = [a for a in actions if a["action"] == "updated" and a["kind"] == "session"]
    assert updated, actions
    assert all(f":{renamed.id}:" in a["key"] for a in updated)
    # Only the name changed: nothing else is said to change (times in UTC vs local, order).
    assert all(a["changes"] == [f"NAME: {old_name!r} -> {renamed.name!r}"] for a in updated), (
        updated
    )
    deleted = [a for a in actions if a["action"] == "deleted"]
    assert deleted
    assert all(f":{cancelled.id}:" in a["key"] for a in deleted)
    assert all(a["name"] == cancelled.name and a["start"] for a in deleted), deleted
    assert servers.edusign_writes() > 0
    servers.edusign.reset_counts()
    code, output = await servers.run("sync", "acme", "--dry-run", *NOW)
    assert "would be updated" in output
    assert f"NAME: {old_name!r} -> {renamed.name!r}" in output
    assert servers.edusign_writes() == 0


async def test_sync_shows_progress_on_a_terminal(servers: Servers) -> None:
    code, output = await servers.run("sync", "acme", *NOW, tty=True)
    assert code == 0, output
    assert "\x1b[" in output, "a live display drawn with terminal codes"
    assert "session" in output


async def test_check_names_the_school(servers: Servers) -> None:
    code, output = await servers.run("check", "acme")
    assert code == 0, output
    assert "sink edusign" in output
    assert "school: Acme Formation" in output


def test_the_example_configuration_is_valid() -> None:
    example = Path(__file__).parents[1] / "plugins.toml"
    config = load_config(example, load_registry())
    assert config.problems == []
    assert (config.tenant("acme").source, config.tenant("acme").sink) == ("celcat", "edusign")


async def test_return_attendance_from_the_command_line(servers: Servers) -> None:
    code, output = await servers.run("sync", "acme", *NOW)
    assert code == 0, output
    later = ("--now", "2025-10-24T20:00")
    code, output = await servers.run(
        "sync", "acme", "--pipeline", "return-attendance", "--dry-run", *later
    )
    assert code == 0, output
    assert "return-attendance run" in output
    assert servers.caws.puts == []
    code, output = await servers.run("sync", "acme", "--pipeline", "return-attendance", *later)
    assert code == 0, output
    sent = len(servers.caws.puts)
    assert sent > 0
    code, output = await servers.run("sync", "acme", "--pipeline", "return-attendance", *later)
    assert code == 0, output
    assert len(servers.caws.puts) == sent, "a re-run sends nothing"


async def test_schedule_from_the_command_line(servers: Servers) -> None:
    code, output = await servers.run("schedule", "--now", "2025-10-20T06:00:00+00:00")
    assert code == 0, output
    assert "acme" in output
    assert "timetable" in output
    assert "return-attendance" in output, "the enabled optional pipeline is scheduled too"
    assert "H H(11-12) * * *" in output
