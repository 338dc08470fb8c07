"""``passerelle check``: every tenant and every server checked whatever fails, the state
store opened, and the mistakes it can see said (issue 15, point 9), without markup from
the configuration reaching rich (point 7)."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import anyio
import pytest
from starlette.applications import Starlette

from adapters.celcat.caws_sandbox import CawsSandbox
from adapters.celcat.sandbox import CelcatSandbox, generate_institution
from core.asgi import serve_app
from sinks.edusign.sandbox import EdusignSandbox

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # the passerelle command

PASSERELLE = str(Path(sys.executable).parent / "passerelle")
EDUSIGN_KEY = "edusign-check-key"
CHECK_DEADLINE = 60  # a safety net against a hang, not a measure: checks end far sooner


def env() -> dict[str, str]:
    """The command runs this checkout's code, whatever is installed."""
    here = str(Path(__file__).parents[1])
    path = os.pathsep.join(filter(None, (here, os.environ.get("PYTHONPATH"))))
    return {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "200"}


async def passerelle(*args: str) -> tuple[int, str]:
    with anyio.fail_after(CHECK_DEADLINE):
        result = await anyio.run_process([PASSERELLE, *args], check=False, env=env())
    return result.returncode, (result.stdout + result.stderr).decode()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]  # bound, never listening


@dataclass
class World:
    celcat: str
    edusign: str
    caws: str
    categories: list[str]
    tmp: Path

    def config(self, tenants: str, *, state_url: str | None = None) -> Path:
        path = self.tmp / "plugins.toml"
        state = state_url or f"sqlite:///{self.tmp / 'state.db'}"
        path.write_text(f'[worker]\nstate_url = "{state}"\n{tenants}', encoding="utf-8")
        return path

    def tenant(
        self,
        name: str,
        *,
        edusign: str | None = None,
        celcat_extra: str = "",
        caws_password: str = "pw",
        marks: str = "",
    ) -> str:
        return f"""
[tenants.{name}]
plugins = ["return-attendance"]

[tenants.{name}.celcat]
url = "{self.celcat}"
api_code = "check-code"
retries = 0
{celcat_extra}

[tenants.{name}.edusign]
url = "{edusign or self.edusign}"
api_key = "{EDUSIGN_KEY}"
retries = 0

[tenants.{name}.return_attendance]
caws_url = "{self.caws}"
username = "passerelle"
password = "{caws_password}"
timetable_alias = "TT2025"
role = "Admin"
retries = 0
{marks}
"""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    inst = generate_institution(
        seed=5,
        start=date(2025, 10, 21),
        days=3,
        students=10,
        staff=3,
        groups=2,
        timetables=2,
        bad_records=False,
    )
    celcat = CelcatSandbox(inst, api_code="check-code")
    edusign = EdusignSandbox()
    edusign.add_school(EDUSIGN_KEY, name="Acme Formation")
    caws = CawsSandbox()
    async with (
        serve_app(celcat.app) as celcat_url,
        serve_app(edusign.app) as edusign_url,
        serve_app(caws.app) as caws_url,
    ):
        names = sorted(c.name for c in inst.categories.values())
        yield World(celcat_url, edusign_url, caws_url, names, tmp_path)


def lines_of(output: str, tenant: str) -> str:
    """The lines ``check`` printed for one tenant (up to the next tenant's header)."""
    lines = output.splitlines()
    first = lines.index(f"{tenant}: configuration valid")
    rest = lines[first + 1 :]
    last = next((i for i, line in enumerate(rest) if line.endswith("configuration valid")), None)
    return "\n".join(lines[first : None if last is None else first + 1 + last])


async def test_unreachable_edusign_is_a_failed_check_and_later_tenants_are_checked(
    world: World, closed_port: int
) -> None:
    dead = f"http://127.0.0.1:{closed_port}"
    config = world.config(world.tenant("alpha", edusign=dead) + world.tenant("beta"))
    code, output = await passerelle("check", "--config", str(config))
    assert "Traceback" not in output, output
    assert code == 3, output
    assert "✗ sink edusign" in lines_of(output, "alpha"), output
    assert "✓ source celcat" in lines_of(output, "alpha"), output
    beta = lines_of(output, "beta")  # checked after alpha failed
    assert "✓ sink edusign" in beta, output
    assert "school: Acme Formation" in beta, output


async def test_edusign_answering_404_is_a_failed_check_with_its_reason(world: World) -> None:
    async with serve_app(Starlette()) as nowhere:  # no route: 404 to every request
        config = world.config(world.tenant("alpha", edusign=nowhere) + world.tenant("beta"))
        code, output = await passerelle("check", "--config", str(config))
    assert "Traceback" not in output, output
    assert code == 3, output
    failed = [line for line in lines_of(output, "alpha").splitlines() if "✗ sink edusign" in line]
    assert failed, output
    assert "404" in failed[0] or "not found" in failed[0].lower(), output
    assert "✓ sink edusign" in lines_of(output, "beta"), output


async def test_check_opens_the_state_store(world: World) -> None:
    config = world.config(world.tenant("alpha"))
    code, output = await passerelle("check", "--config", str(config))
    assert code == 0, output
    assert "✓ state store sqlite:///" in output, output
    assert not (world.tmp / "state.db").exists()  # checked, not created

    (world.tmp / "state.db").write_bytes(os.urandom(4096))
    code, output = await passerelle("check", "--config", str(config))
    assert "Traceback" not in output, output
    assert code == 2, output
    assert "✗ state store sqlite:///" in output, output
    assert "not a SQLite database" in output, output
    assert "✓ sink edusign" in output  # the servers are checked all the same


async def test_check_says_what_the_servers_contradict(world: World) -> None:
    tenant = world.tenant(
        "alpha",
        celcat_extra=(
            "timetable_ids = [1, 999]\n"
            f'event_category_names_included = ["{world.categories[0]}", "No Such Category"]\n'
            'event_category_names_excluded = ["Neither This"]'
        ),
        marks='marks = { present = "P", excused = "ZZ" }',
    )
    code, output = await passerelle("check", "--config", str(world.config(tenant)))
    assert "Traceback" not in output, output
    assert code == 0, output  # warnings, not failures: every server answered
    warnings = [line for line in output.splitlines() if "warning" in line]
    said = "\n".join(warnings)
    assert "timetable 999" in said, output
    assert "'No Such Category'" in said, output
    assert "'Neither This'" in said, output
    assert world.categories[0] not in said, output
    assert "'ZZ'" in said, output
    assert "excused" in said, output
    assert "'P'" not in said, output
    assert "✓ return-attendance sink" in output, output


async def test_caws_login_refused_is_a_failed_check(world: World) -> None:
    config = world.config(world.tenant("alpha", caws_password="wrong") + world.tenant("beta"))
    code, output = await passerelle("check", "--config", str(config))
    assert "Traceback" not in output, output
    assert code == 3, output
    assert "✗ return-attendance sink" in lines_of(output, "alpha"), output
    assert "wrong" not in output.replace("wrong-", "")  # the password is never shown
    assert "✓ return-attendance sink" in lines_of(output, "beta"), output


@pytest.mark.parametrize("command", ["check", "sync", "run"])
async def test_markup_in_a_config_key_or_tenant_name_is_shown_as_written(
    world: World, command: str
) -> None:
    alpha = world.tenant("alpha", celcat_extra='"[/b]" = 1')
    config = world.config(alpha + '\n[tenants."[/i]".celcat]\nurl = "http://127.0.0.1:9"\n')
    args = {"check": ["check"], "sync": ["sync", "alpha"], "run": ["run"]}[command]
    code, output = await passerelle(*args, "--config", str(config))
    assert "Traceback" not in output, output
    assert "MarkupError" not in output, output
    assert code == 2, output
    assert "[/b]" in output, output
    if command != "sync":  # sync names only its own tenant's problems
        assert "[/i]" in output, output
