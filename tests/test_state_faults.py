"""A state store that cannot serve ends in one clear message naming it (password
masked), exit 2, no traceback; reading commands work on a store they may only read; the
state URL's password is a secret (issue 15, points 1 and 8)."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from sqlalchemy import text

from core.config import load_config
from core.plugins import default_registry
from core.report import Outcome, RunReport
from core.state import StateUnusable, open_state
from core.state.database import create_state_engine

pytestmark = pytest.mark.anyio

PASSERELLE = str(Path(sys.executable).parent / "passerelle")
POSTGRES = os.environ.get("PASSERELLE_TEST_POSTGRES_URL")
PASSWORD = "Sé\\cr%t'{x}"
ENCODED = "S%C3%A9%5Ccr%25t%27%7Bx%7D"  # PASSWORD as a URL carries it
DEADLINE = 60  # a safety net against a hang, not a measure


def env() -> dict[str, str]:
    """The command runs this checkout's code, whatever is installed."""
    here = str(Path(__file__).parents[1])
    path = os.pathsep.join(filter(None, (here, os.environ.get("PYTHONPATH"))))
    return {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "200"}


def without_root_powers() -> list[str]:
    """A prefix that makes the command obey file permissions even when run by root (who
    otherwise writes a read-only file): the same user, without the capabilities that
    override permissions."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be enforced")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


async def passerelle(*args: str, prefix: list[str] | None = None) -> tuple[int, str]:
    with anyio.fail_after(DEADLINE):
        result = await anyio.run_process(
            [*(prefix or []), PASSERELLE, *args], check=False, env=env()
        )
    return result.returncode, (result.stdout + result.stderr).decode()


def write_config(folder: Path, state_url: str) -> Path:
    """One tenant whose servers do not exist: the state store is met first."""
    config = folder / "plugins.toml"
    config.write_text(
        f"""
[worker]
state_url = "{state_url}"

[tenants.acme.celcat]
url = "http://127.0.0.1:9"
retries = 0

[tenants.acme.edusign]
url = "http://127.0.0.1:9"
api_key = "edusign-key"
retries = 0
""",
        encoding="utf-8",
    )
    return config


async def stored_report(url: str) -> None:
    async with open_state(url) as store:
        await store.save_report(
            RunReport(
                run_id="stored-run",
                tenant="acme",
                pipeline="timetable",
                started_at=datetime(2025, 10, 20, 10, tzinfo=UTC),
                finished_at=datetime(2025, 10, 20, 10, 1, tzinfo=UTC),
                outcome=Outcome.OK,
            )
        )


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]  # bound, never listening: connections are refused


@pytest.fixture
async def black_hole() -> AsyncIterator[int]:
    """A loopback port that accepts connections and never says a word."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    accepted = []

    async def hold(stream: anyio.abc.SocketStream) -> None:
        accepted.append(stream)
        await anyio.sleep_forever()

    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, hold)
        yield listener.extra(anyio.abc.SocketAttribute.local_port)
        tg.cancel_scope.cancel()


# Faults of a SQLite file, met by open_state


def random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def a_folder(path: Path) -> None:
    path.mkdir()


async def truncated(path: Path) -> None:
    await stored_report(f"sqlite:///{path}")
    cut(path, 5000)


def cut(path: Path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])


@pytest.mark.parametrize("read_only", [False, True])
@pytest.mark.parametrize("fault", ["random bytes", "a folder", "truncated"])
async def test_a_broken_sqlite_store_is_unusable_not_a_crash(
    tmp_path: Path, fault: str, read_only: bool
) -> None:
    path = tmp_path / "state.db"
    if fault == "random bytes":
        random_bytes(path)
    elif fault == "a folder":
        a_folder(path)
    else:
        await truncated(path)
    url = f"sqlite:///{path}"
    with pytest.raises(StateUnusable) as raised:
        async with open_state(url, read_only=read_only) as store:
            await store.latest_report("acme")  # a damage found by reading only
    assert str(raised.value).startswith(f"state store {url}: "), raised.value


async def test_a_newer_schema_is_named_as_such(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    async with open_state(url):
        pass
    engine = create_state_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    finally:
        await engine.dispose()
    for read_only in (False, True):
        with pytest.raises(StateUnusable, match=r"'0099'.*newer passerelle") as raised:
            async with open_state(url, read_only=read_only):
                pass
        assert "Can't locate" not in str(raised.value)


async def test_a_lock_held_by_another_process_is_unusable_after_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.state.database.BUSY_TIMEOUT_MS", 100)  # a small limit
    url = f"sqlite:///{tmp_path / 'state.db'}"
    await stored_report(url)
    other = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # as another process's long write would
        with pytest.raises(StateUnusable, match="database is locked") as raised:
            async with open_state(url):
                pass
        assert str(raised.value).startswith(f"state store {url}: ")
    finally:
        other.close()

    async with open_state(url) as store:  # a store that was usable when opened
        other = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            with pytest.raises(StateUnusable, match="database is locked"):
                await store.save_report(
                    RunReport(
                        run_id="r2",
                        tenant="acme",
                        pipeline="timetable",
                        started_at=datetime.now(UTC),
                    )
                )
        finally:
            other.close()


# PostgreSQL that does not answer, or has no such database


async def test_an_unreachable_postgres_is_unusable_and_its_password_unsaid(
    closed_port: int,
) -> None:
    url = f"postgresql://passerelle:{ENCODED}@127.0.0.1:{closed_port}/state"
    with pytest.raises(StateUnusable) as raised:
        async with open_state(url):
            pass
    said = str(raised.value)
    assert f"postgresql://passerelle:***@127.0.0.1:{closed_port}/state" in said
    assert ENCODED not in said
    assert PASSWORD not in said


@pytest.mark.slow  # a real connect timeout
async def test_a_black_holed_postgres_fails_in_bounded_time(
    black_hole: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default bound, made small: a URL need not say connect_timeout to be bounded.
    settings = {"connect_timeout": 1, "tcp_user_timeout": 1000}
    monkeypatch.setattr("core.state.database.CONNECTION_SETTINGS", settings)
    url = f"postgresql://passerelle:{ENCODED}@127.0.0.1:{black_hole}/state"
    with anyio.fail_after(DEADLINE), pytest.raises(StateUnusable, match="timeout") as raised:
        async with open_state(url):
            pass
    assert ENCODED not in str(raised.value)
    assert PASSWORD not in str(raised.value)


@pytest.mark.postgres
@pytest.mark.skipif(POSTGRES is None, reason="PASSERELLE_TEST_POSTGRES_URL is not set")
async def test_a_missing_postgres_database_is_unusable() -> None:
    assert POSTGRES is not None
    url = POSTGRES.rsplit("/", 1)[0] + "/passerelle_no_such_database"
    with pytest.raises(StateUnusable, match="does not exist") as raised:
        async with open_state(url):
            pass
    assert str(raised.value).startswith("state store postgresql://")


# The state URL's password is a secret


def test_the_state_url_password_is_a_secret_raw_and_decoded(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"postgresql://passerelle:{ENCODED}@127.0.0.1:5432/state")
    loaded = load_config(config, default_registry())
    assert PASSWORD in loaded.secrets
    assert ENCODED in loaded.secrets


# The command line: exit 2, one message, no traceback


@pytest.mark.parametrize(
    "args", [["sync", "acme"], ["sync", "acme", "--dry-run"], ["report", "acme"], ["run"]]
)
@pytest.mark.slow  # starts a process
async def test_commands_on_a_broken_store_exit_2_with_one_message(
    tmp_path: Path, args: list[str]
) -> None:
    random_bytes(tmp_path / "state.db")
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'state.db'}")
    code, output = await passerelle(*args, "--config", str(config))
    assert "Traceback" not in output, output
    assert code == 2, output
    assert f"state store sqlite:///{tmp_path / 'state.db'}" in output, output
    assert "not a SQLite database" in output, output


@pytest.mark.slow  # starts a process
async def test_an_unreachable_postgres_store_exits_2_without_its_password(
    tmp_path: Path, black_hole: int
) -> None:
    url = f"postgresql://passerelle:{ENCODED}@127.0.0.1:{black_hole}/state?connect_timeout=1"
    config = write_config(tmp_path, url)
    code, output = await passerelle("--log-level", "DEBUG", "sync", "acme", "--config", str(config))
    assert code == 2, output
    assert "Traceback" not in output.split("error: state store")[-1], output
    assert "postgresql://passerelle:***@127.0.0.1" in output, output
    for secret in (ENCODED, PASSWORD, "S%C3%A9", "Sé"):
        assert secret not in output, output


@pytest.mark.slow  # starts a process
async def test_a_folder_that_cannot_be_written_is_an_unusable_store(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    config = write_config(tmp_path, f"sqlite:///{folder / 'state.db'}")
    folder.chmod(0o555)
    try:
        code, output = await passerelle(
            "sync", "acme", "--config", str(config), prefix=without_root_powers()
        )
    finally:
        folder.chmod(0o755)
    assert "Traceback" not in output, output
    assert code == 2, output
    assert "state store sqlite:///" in output, output
    assert "Permission denied" in output, output


@pytest.mark.slow  # starts a process
async def test_reading_commands_work_on_a_store_they_may_only_read(tmp_path: Path) -> None:
    folder = tmp_path / "readonly"
    folder.mkdir()
    url = f"sqlite:///{folder / 'state.db'}"
    await stored_report(url)
    config = write_config(tmp_path, url)
    before = sorted(p.name for p in folder.iterdir())
    (folder / "state.db").chmod(0o444)
    folder.chmod(0o555)
    prefix = without_root_powers()
    try:
        code, report = await passerelle("report", "acme", "--config", str(config), prefix=prefix)
        dry_code, dry_run = await passerelle(
            "sync", "acme", "--dry-run", "--config", str(config), prefix=prefix
        )
    finally:
        folder.chmod(0o755)
        (folder / "state.db").chmod(0o644)
    assert code == 0, report
    assert "stored-run" in report, report
    assert "readonly" not in dry_run, dry_run
    assert "Traceback" not in dry_run, dry_run
    assert dry_code == 3, dry_run  # it read the store, then found no CELCAT
    assert "CELCAT" in dry_run, dry_run
    assert sorted(p.name for p in folder.iterdir()) == before
