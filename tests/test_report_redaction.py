"""A run's report masks the run's own secrets: redaction belongs to the run, not to
whichever command told the process's logs first (``mask_secrets``).

This module is also a plugin (``leaksource``: a source whose server quotes the tenant's
code back in its errors), loaded through ``entry_point`` like the sample plugins.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from pydantic import SecretStr

from core import Record, RunContext, RunFailed, SourceSpec, hookimpl
from core.config import Config, load_config
from core.logs import MASK, mask_secrets, redact
from core.options import PluginOptions
from core.plugins import Registry, load_registry
from core.protocols import Setup
from core.report import RunReport
from core.runner import run_redactor, run_tenant
from core.state import open_state
from tests.sample_plugins import entry_point

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)
CODES = {"acme": "acme-c0de-Zq81", "beta": "beta-c0de-Wx42"}
"""Each tenant's secret, told to no log redactor unless a test says so."""


class LeakOptions(PluginOptions):
    api_code: SecretStr


class LeakingSource:
    """Reports one failure quoting its code, as a careless server's error body does, then
    stops the run with a message quoting it again."""

    def __init__(self, code: str) -> None:
        self._code = code

    async def read(self, ctx: RunContext) -> AsyncIterator[Record]:
        ctx.report.fail(
            "session",
            "server_error",
            key="leak:1",
            detail=f"GET /events?code={quote(self._code)}: HTTP 500 {{'code': {self._code!r}}}",
        )
        raise RunFailed("leaksource", f"the server refused the code {self._code}")
        yield  # pragma: no cover

    async def check(self) -> list[str]:
        return []


@asynccontextmanager
async def open_leaking(setup: Setup[LeakOptions]) -> AsyncIterator[LeakingSource]:
    yield LeakingSource(setup.options.api_code.get_secret_value())


@hookimpl
def passerelle_register_sources(register: Callable[[SourceSpec], None]) -> None:
    register(SourceSpec(name="leaksource", options=LeakOptions, open=open_leaking))


def configure(tmp_path: Path, state_url: str | None = None) -> tuple[Config, Registry]:
    url = state_url or f"sqlite:///{tmp_path / 'state.db'}"
    text = f'[worker]\nstate_url = "{url}"\n'
    for tenant, code in CODES.items():
        text += (
            f'[tenants.{tenant}]\nschedule = ["0 9 * * *"]\n'
            f"[tenants.{tenant}.leaksource]\napi_code = '{code}'\n"
            f"[tenants.{tenant}.memsink]\napi_key = 'k-{tenant}-key'\n"
        )
    path = tmp_path / "plugins.toml"
    path.write_text(text)
    registry = load_registry(
        [
            entry_point("sample", "tests.sample_plugins"),
            entry_point("leaky", "tests.test_report_redaction"),
        ]
    )
    config = load_config(path, registry)
    assert config.problems == []
    return config, registry


async def stored_run(config: Config, registry: Registry, tenant: str) -> RunReport:
    async with open_state(config.worker.state_url) as store:
        await run_tenant(config, registry, store, tenant, now=NOW)
        report = await store.latest_report(tenant, "timetable")
    assert report is not None
    return report


def assert_masked(report: RunReport, secret: str) -> None:
    (event,) = report.events
    assert report.error is not None
    for text in (event.detail, report.error):
        assert secret not in text
        assert quote(secret) not in text
        assert MASK in text, text


async def test_a_report_masks_the_tenant_secret_the_logs_were_never_told_of(
    tmp_path: Path,
) -> None:
    config, registry = configure(tmp_path)
    assert redact(CODES["acme"]) == CODES["acme"], "no mask_secrets was told of it"
    assert_masked(await stored_run(config, registry, "acme"), CODES["acme"])


async def test_each_tenant_report_masks_its_own_secret_whoever_came_first(
    tmp_path: Path,
) -> None:
    config, registry = configure(tmp_path)
    mask_secrets([CODES["beta"]])  # as a command that read only beta's secrets would
    assert_masked(await stored_run(config, registry, "beta"), CODES["beta"])
    assert_masked(await stored_run(config, registry, "acme"), CODES["acme"])
    assert redact(CODES["acme"]) == CODES["acme"], "the run told the logs nothing"


def test_a_run_redactor_holds_its_tenant_secrets_and_the_store_password(tmp_path: Path) -> None:
    config, _ = configure(tmp_path, "postgresql://passerelle:st%40re-pw@db.example/passerelle")
    secrets = run_redactor(config, config.tenant("acme")).secrets
    assert secrets == {CODES["acme"], "k-acme-key", "st%40re-pw", "st@re-pw"}
