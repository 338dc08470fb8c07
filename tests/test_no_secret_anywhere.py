"""No secret shows anywhere, in any escaped form, whatever fails.

Secrets here hold what escaping changes (``\\``, ``"``, ``'``, ``%``, ``{}``, letters
outside ASCII), the state store's PostgreSQL password among them. Every failure path a
user can cause or meet is made to happen: a dead CELCAT, a refused key, a wrong Edusign
URL, a CELCAT answering JSON nested too deep, an unreachable state store, a secret HTTP
cannot carry, the worker stopped by SIGTERM; at INFO and DEBUG, as text and as JSON
lines. Then every output, log, report and the state store itself are searched for each
secret: raw, ``repr``-escaped, JSON-escaped, URL-encoded, and for the unique token each
secret holds, so that a secret half masked still counts as shown.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import anyio
import psycopg
import pytest
from sqlalchemy import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.celcat.caws_sandbox import CawsSandbox
from adapters.celcat.sandbox import CelcatSandbox, generate_institution
from core.asgi import serve_app
from sinks.edusign.sandbox import EdusignSandbox
from tests.processes import PASSERELLE, logged, running, terminated, wait_for
from tests.test_isolation_and_secrets import closed_port
from tests.test_log_redaction import forms

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # processes, PostgreSQL

NOW = ("--now", "2025-10-20T10:00")
NESTING = 200_000
"""Deeper than any JSON parser's recursion: ``json.loads`` raises ``RecursionError``."""


def ascii_secret(token: str) -> str:
    """A secret an HTTP header can carry: printable ASCII, with what escaping changes."""
    return f"Ke\\y\"q'u%41{{}}{{0}}-{token}-end"


def any_secret(token: str) -> str:
    """A secret that travels in a body or a URL, letters outside ASCII included."""
    return f"Pä\\ss\"wö'rd%41{{}}é-{token}-fin"


TOKENS = {
    "celcat": "tokC7x1q",
    "edusign": "tokE4m9z",
    "caws": "tokW2k8v",
    "postgres": "tokP5j3n",
    "accent": "tokA6h2r",
}
SECRETS = {
    "celcat": ascii_secret(TOKENS["celcat"]),
    "edusign": ascii_secret(TOKENS["edusign"]),
    "caws": any_secret(TOKENS["caws"]),
    "postgres": any_secret(TOKENS["postgres"]),
    "accent": any_secret(TOKENS["accent"]),
}


def toml(value: str) -> str:
    """A TOML basic string: JSON's string syntax is a subset of it."""
    return json.dumps(value)


def deep_json(request: Request) -> Response:
    return Response(
        "[" * NESTING + "]" * NESTING,
        media_type="application/json",
        headers={"Pagination": '{"TotalPages": 1}'},
    )


DEEP = Starlette(routes=[Route("/{path:path}", deep_json)])


@dataclass
class Site:
    tmp: Path
    config: Path
    bad_store: Path
    bad_secret: Path
    state_url: str
    outputs: list[str] = field(default_factory=list)

    async def run(self, *args: str, config: Path | None = None) -> tuple[int, str]:
        result = await anyio.run_process(
            [
                PASSERELLE,
                "--log-file",
                str(self.tmp / "passerelle.log"),
                *args,
                "--config",
                str(config or self.config),
            ],
            check=False,
            env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(Path(__file__).parents[1])},
        )
        output = (result.stdout + result.stderr).decode("utf-8", "replace")
        self.outputs.append(output)
        return result.returncode, output


def tenant_table(name: str, celcat: str, edusign: str, *, caws: str | None = None) -> str:
    text = f"""
[tenants.{name}]
plugins = {'["return-attendance"]' if caws else "[]"}
[tenants.{name}.celcat]
url = "{celcat}"
api_code = {toml(SECRETS["celcat"])}
retries = 0
[tenants.{name}.edusign]
url = "{edusign}"
api_key = {toml(SECRETS["edusign"])}
requests_per_minute = 60000
retries = 0
"""
    if caws:
        text += f"""[tenants.{name}.return_attendance]
caws_url = "{caws}"
username = "passerelle"
password = {toml(SECRETS["caws"])}
timetable_alias = "TT2025"
role = "Admin"
"""
    return text


@pytest.fixture
async def site(tmp_path: Path, postgres_url: str) -> AsyncIterator[Site]:
    state_url = make_url(postgres_url).set(password=SECRETS["postgres"])
    rendered = state_url.render_as_string(hide_password=False)
    unreachable = state_url.set(port=closed_port()).render_as_string(hide_password=False)
    institution = generate_institution(
        seed=7,
        start=date(2025, 10, 21),
        days=14,
        students=40,
        staff=8,
        groups=3,
        timetables=1,
        bad_records=False,
    )
    celcat = CelcatSandbox(institution, api_code=SECRETS["celcat"])
    edusign = EdusignSandbox()
    edusign.add_school(SECRETS["edusign"], name="north")
    refusing = EdusignSandbox()  # it knows no key: every call is refused
    caws = CawsSandbox(password=SECRETS["caws"])
    async with (
        serve_app(celcat.app) as celcat_url,
        serve_app(edusign.app) as edusign_url,
        serve_app(refusing.app) as refusing_url,
        serve_app(caws.app) as caws_url,
        serve_app(DEEP) as deep_url,
    ):
        tenants = {
            "north": (celcat_url, edusign_url),
            "deadcelcat": (f"http://127.0.0.1:{closed_port()}", edusign_url),
            "refusedkey": (celcat_url, refusing_url),
            "wrongurl": (celcat_url, celcat_url),  # a server, but not Edusign
            "deepjson": (deep_url, edusign_url),
        }
        body = "".join(
            tenant_table(name, c, e, caws=caws_url if name == "north" else None)
            for name, (c, e) in tenants.items()
        )
        config = tmp_path / "plugins.toml"
        config.write_text(f"[worker]\nstate_url = {toml(rendered)}\n{body}")
        bad_store = tmp_path / "unreachable.toml"
        bad_store.write_text(f"[worker]\nstate_url = {toml(unreachable)}\n{body}")
        bad_secret = tmp_path / "accent.toml"
        bad_secret.write_text(
            f"[worker]\nstate_url = {toml(rendered)}\n"
            + tenant_table("accent", celcat_url, edusign_url).replace(
                toml(SECRETS["edusign"]), toml(SECRETS["accent"])
            )
        )
        yield Site(tmp_path, config, bad_store, bad_secret, rendered)


def database_text(url: str) -> str:
    """Every row of every table of the store's schema, as text."""
    target = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    rows: list[str] = []
    with psycopg.connect(target) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
        for (table,) in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                rows.append(repr(row))
    return "\n".join(rows)


async def stop_a_worker(site: Site, *args: str) -> str:
    log = site.tmp / "worker.log"
    streams = site.tmp / "worker.out"
    with streams.open("wb") as out:
        worker = await anyio.open_process(
            [PASSERELLE, "--log-file", str(log), *args, "run", "--config", str(site.config)],
            env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(Path(__file__).parents[1])},
            stdout=out,
            stderr=out,
        )
        async with running(worker):
            await wait_for(lambda: logged(log, "worker started"), "the worker's start-up logs")
            await terminated(worker)
    return streams.read_text() + log.read_text()


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(("--log-level", "INFO"), id="text-INFO"),
        pytest.param(("--log-json", "--log-level", "INFO"), id="json-INFO"),
        pytest.param(("--log-level", "DEBUG"), id="text-DEBUG"),
        pytest.param(("--log-json", "--log-level", "DEBUG"), id="json-DEBUG"),
    ],
)
async def test_no_secret_shows_in_any_form_whatever_fails(
    site: Site, options: tuple[str, ...]
) -> None:
    # One log setting per test, each on a store of its own: the four run side by side.
    codes: dict[str, int] = {}
    codes["north"], _ = await site.run(*options, "sync", "north", *NOW)
    for tenant in ("deadcelcat", "refusedkey", "wrongurl", "deepjson"):
        codes[tenant], output = await site.run(*options, "sync", tenant, *NOW)
        if "DEBUG" not in options:
            assert "Traceback" not in output, (tenant, output)
    codes["check"], _ = await site.run(*options, "check")
    codes["store"], output = await site.run(*options, "sync", "north", *NOW, config=site.bad_store)
    codes["report-store"], _ = await site.run(*options, "report", "north", config=site.bad_store)
    codes["accent"], _ = await site.run(*options, "check", config=site.bad_secret)
    await site.run(*options, "report", "north", "--json")
    await site.run(*options, "report", "wrongurl")
    await site.run(*options, "sync", "north", "--dry-run", *NOW)
    await site.run(
        *options,
        "sync",
        "north",
        "--pipeline",
        "return-attendance",
        "--now",
        "2025-10-24T20:00",
    )
    assert codes == {
        "north": 0,
        "deadcelcat": 3,
        "refusedkey": 3,
        "wrongurl": 3,
        "deepjson": 3,
        "check": 3,
        "store": 2,
        "report-store": 2,
        "accent": 2,
    }
    site.outputs.append(await stop_a_worker(site, *options))
    site.outputs.append((site.tmp / "passerelle.log").read_text())
    site.outputs.append(database_text(site.state_url))
    everything = "\n".join(site.outputs)
    if "DEBUG" in options:
        assert "Traceback" in everything, "a traceback was logged: the search means something"
    for name, secret in SECRETS.items():
        assert TOKENS[name] not in everything, f"the {name} secret shows"
        for form in forms(secret):
            assert form not in everything, (name, form)
