"""Tenants never share failures or credentials, and no secret ever shows: every command,
failures and dry runs included, against sandboxes on loopback."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import anyio
import pytest

from adapters.celcat.caws_sandbox import CawsSandbox
from adapters.celcat.sandbox import CelcatSandbox, generate_institution
from core.asgi import serve_app
from sinks.edusign.sandbox import EdusignSandbox
from tests.processes import PASSERELLE, logged, running, terminated, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # the passerelle command, a worker

HEALTHY = ("north", "south")
NOW = ("--now", "2025-10-20T10:00")


def secret(tenant: str, kind: str) -> str:
    return f"S3cr3t-{kind}-{tenant}-7f4a9c"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there once the socket is closed


@dataclass
class Site:
    tmp: Path
    config: Path
    celcat: dict[str, CelcatSandbox]
    edusign: dict[str, EdusignSandbox]

    async def run(self, *args: str) -> tuple[int, str]:
        result = await anyio.run_process(
            [
                PASSERELLE,
                "--log-file",
                str(self.tmp / "passerelle.log"),
                *args,
                "--config",
                str(self.config),
            ],
            check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )
        return result.returncode, (result.stdout + result.stderr).decode()


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    tenants = (*HEALTHY, "deadcelcat", "refusedkey", "malformed")
    celcat = {}
    for n, tenant in enumerate(tenants):
        inst = generate_institution(
            seed=20 + n,
            start=date(2025, 10, 21),
            days=14,
            students=50,
            staff=10,
            groups=3,
            timetables=1,
            bad_records=tenant == "malformed",
        )
        celcat[tenant] = CelcatSandbox(inst, api_code=secret(tenant, "celcat"))
    edusign = {tenant: EdusignSandbox() for tenant in tenants}
    for tenant in tenants:
        if tenant != "refusedkey":  # its key opens no school
            edusign[tenant].add_school(secret(tenant, "edusign"), name=tenant)
    caws = CawsSandbox(password=secret("north", "caws"))
    async with anyio.create_task_group() as tg, serve_app(caws.app) as caws_url:
        urls: dict[str, tuple[str, str]] = {}

        async def serve(tenant: str, ready: anyio.Event) -> None:
            async with serve_app(celcat[tenant].app) as c, serve_app(edusign[tenant].app) as e:
                urls[tenant] = (c, e)
                ready.set()
                await anyio.sleep_forever()

        for tenant in tenants:
            ready = anyio.Event()
            tg.start_soon(serve, tenant, ready)
            await ready.wait()
        text = f'[worker]\nstate_url = "sqlite:///{tmp_path / "state.db"}"\n'
        for tenant in tenants:
            celcat_url = (
                f"http://127.0.0.1:{closed_port()}" if tenant == "deadcelcat" else urls[tenant][0]
            )
            text += f"""
[tenants.{tenant}]
plugins = {'["return-attendance"]' if tenant == "north" else "[]"}
[tenants.{tenant}.celcat]
url = "{celcat_url}"
api_code = "{secret(tenant, "celcat")}"
retries = 1
[tenants.{tenant}.edusign]
url = "{urls[tenant][1]}"
api_key = "{secret(tenant, "edusign")}"
requests_per_minute = 60000
"""
            if tenant == "north":
                text += f"""[tenants.north.return_attendance]
caws_url = "{caws_url}"
username = "passerelle"
password = "{secret("north", "caws")}"
timetable_alias = "TT2025"
role = "Admin"
"""
        config = tmp_path / "plugins.toml"
        config.write_text(text)
        yield Site(tmp_path, config, celcat, edusign)
        tg.cancel_scope.cancel()


async def test_one_tenants_trouble_stays_its_own(site: Site) -> None:
    codes = {}
    for tenant in (*HEALTHY, "deadcelcat", "refusedkey", "malformed"):
        codes[tenant], output = await site.run("sync", tenant, *NOW)
        if tenant == "deadcelcat":
            assert "CELCAT" in output
        if tenant == "refusedkey":
            assert "Edusign refused the API key of tenant 'refusedkey' (HTTP 401)" in output
    assert codes == {"north": 0, "south": 0, "deadcelcat": 3, "refusedkey": 3, "malformed": 0}
    for tenant in HEALTHY:
        (school,) = site.edusign[tenant].schools.values()
        assert school.courses, f"{tenant} synced fully"
    for tenant, sandbox in (*site.celcat.items(), *site.edusign.items()):
        for request in sandbox.requests:
            credentials = request.headers.get("apicode") or request.headers.get("authorization", "")
            assert tenant in credentials, f"{tenant}'s server saw {credentials!r}"


async def test_no_secret_ever_shows(site: Site) -> None:
    commands = [
        ("check",),
        ("plugins",),
        ("schedule",),
        ("sync", "north", *NOW),
        ("sync", "north", "--dry-run", *NOW),
        ("sync", "refusedkey", *NOW),
        ("sync", "deadcelcat", *NOW),
        ("report", "north", "--json"),
        ("report", "refusedkey"),
        ("sync", "north", "--pipeline", "return-attendance", "--now", "2025-10-24T20:00"),
        ("--log-json", "sync", "south", *NOW),
    ]
    seen = []
    for command in commands:
        _, output = await site.run(*command)
        seen.append(output)
    streams = site.tmp / "worker.out"
    with streams.open("wb") as out:
        worker = await anyio.open_process(
            [
                PASSERELLE,
                "--log-file",
                str(site.tmp / "passerelle.log"),
                "run",
                "--config",
                str(site.config),
            ],
            env={**os.environ, "NO_COLOR": "1"},
            stdout=out,
            stderr=out,
        )
        log = site.tmp / "passerelle.log"
        async with running(worker):
            # Logged once its SIGTERM handler is installed: from then on SIGTERM is a stop.
            await wait_for(lambda: logged(log, "worker started"), "the worker's start-up logs")
            assert await terminated(worker) == 0
    seen.append(streams.read_text())
    seen.append((site.tmp / "passerelle.log").read_text())
    seen.append((site.tmp / "state.db").read_bytes().decode("utf-8", "replace"))
    everything = "\n".join(seen)
    assert "refused the API key" in everything, "the failures did happen"
    for tenant in (*HEALTHY, "deadcelcat", "refusedkey", "malformed"):
        for kind in ("celcat", "edusign"):
            assert secret(tenant, kind) not in everything, (tenant, kind)
    assert secret("north", "caws") not in everything
