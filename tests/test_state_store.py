"""The state store, run against every backend (see ``state_url`` in conftest)."""

from __future__ import annotations

import subprocess
import sys
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import anyio
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from anyio.streams.buffered import BufferedByteReceiveStream
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import ConfigError
from core.report import Counts, Event, Outcome, RunReport
from core.state import StateStore, Synced, open_state
from core.state.database import BUSY_TIMEOUT_MS, create_state_engine
from core.state.migrate import HEAD, alembic_config, alembic_head, is_current, migrate
from core.state.tables import metadata
from core.state.urls import engine_url, masked

pytestmark = pytest.mark.anyio

SHEET = Synced("sheet-1", "fp-1", {"date": "2025-10-21"})
T0 = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)


_OPEN_AND_SAVE = """
import sys
import anyio
from core.state import Synced, open_state

async def main(url, key):
    async with open_state(url) as store:
        await store.save("acme", "session", key, Synced("r", "f"))

print("ready", flush=True)
sys.stdin.readline()
anyio.run(main, *sys.argv[1:])
"""


def report(
    run_id: str, started_at: datetime, *, tenant: str = "acme", pipeline: str = "timetable"
) -> RunReport:
    return RunReport(run_id=run_id, tenant=tenant, pipeline=pipeline, started_at=started_at)


async def version(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        result = await connection.execute(text("SELECT version_num FROM alembic_version"))
        return list(result.scalars())


# Entries


async def test_saved_entries_load_back(store: StateStore) -> None:
    other = Synced("sheet-2", "fp-2")
    await store.save("acme", "session", "s1", SHEET)
    await store.save("acme", "session", "s2", other)

    assert await store.load("acme", "session") == {"s1": SHEET, "s2": other}


async def test_load_of_nothing_saved_is_empty(store: StateStore) -> None:
    assert await store.load("acme", "session") == {}


async def test_save_replaces_the_entry_of_the_same_key(store: StateStore) -> None:
    await store.save("acme", "session", "s1", SHEET)
    changed = Synced("sheet-1b", "fp-2", {"date": "2025-10-22", "n": [1, 2]})
    await store.save("acme", "session", "s1", changed)

    assert await store.load("acme", "session") == {"s1": changed}


async def test_forget_drops_only_that_entry(store: StateStore) -> None:
    await store.save("acme", "session", "s1", SHEET)
    await store.save("acme", "session", "s2", SHEET)
    await store.forget("acme", "session", "s1")
    await store.forget("acme", "session", "never-saved")

    assert await store.load("acme", "session") == {"s2": SHEET}


async def test_tenants_never_see_each_other(store: StateStore) -> None:
    await store.save("acme", "session", "s1", SHEET)
    await store.save("globex", "session", "s1", Synced("theirs", "fp-g"))
    await store.forget("globex", "session", "s1")

    assert await store.load("acme", "session") == {"s1": SHEET}
    assert await store.load("globex", "session") == {}


async def test_kinds_are_kept_apart(store: StateStore) -> None:
    student = Synced("student-9", "fp-s")
    await store.save("acme", "session", "k", SHEET)
    await store.save("acme", "student", "k", student)

    assert await store.load("acme", "session") == {"k": SHEET}
    assert await store.load("acme", "student") == {"k": student}


async def test_concurrent_saves_all_land(store: StateStore) -> None:
    async with anyio.create_task_group() as group:
        for n in range(40):
            group.start_soon(store.save, "acme", "session", f"s{n}", SHEET)

    assert len(await store.load("acme", "session")) == 40


# Tenant state and dry runs


async def test_tenant_state_reads_and_writes_its_tenant(store: StateStore) -> None:
    await store.save("globex", "session", "s1", Synced("theirs", "fp-g"))
    state = store.for_tenant("acme")
    await state.save("session", "s1", SHEET)
    await state.save("session", "s2", SHEET)
    await state.forget("session", "s2")

    assert await state.load("session") == {"s1": SHEET}
    assert await store.load("acme", "session") == {"s1": SHEET}


async def test_dry_run_reads_but_discards_writes(store: StateStore) -> None:
    await store.save("acme", "session", "s1", SHEET)
    dry = store.for_tenant("acme", dry_run=True)

    assert await dry.load("session") == {"s1": SHEET}
    await dry.save("session", "s2", SHEET)
    await dry.save("session", "s1", Synced("changed", "fp-x"))
    await dry.forget("session", "s1")
    assert await store.load("acme", "session") == {"s1": SHEET}


# Reports


async def test_report_round_trips(store: StateStore) -> None:
    paris_summer = timezone(timedelta(hours=2))
    saved = RunReport(
        run_id="r1",
        tenant="acme",
        pipeline="timetable",
        started_at=datetime(2025, 10, 20, 11, 0, tzinfo=paris_summer),
        finished_at=datetime(2025, 10, 20, 9, 5, 30, 123456, tzinfo=UTC),
        outcome=Outcome.PARTIAL,
        counts={"session": Counts(created=3, failed=1)},
        calls={"edusign": 7},
        events=[
            Event(
                status="failed",
                reason="edusign_rejected",
                kind="session",
                key="s1",
                ids={"event": "42"},
                detail="HTTP 422",
            ),
            Event(status="skipped", reason="no_instructor", kind="session"),
        ],
    )
    await store.save_report(saved)

    loaded = await store.latest_report("acme")
    assert loaded == saved
    assert loaded.started_at.utcoffset() == timedelta(hours=2)
    assert loaded.finished_at is not None
    assert loaded.finished_at.tzinfo is not None


async def test_saving_a_report_again_replaces_it(store: StateStore) -> None:
    started = report("r1", T0)
    await store.save_report(started)
    finished = started.model_copy(
        update={"finished_at": T0 + timedelta(minutes=2), "outcome": Outcome.OK}
    )
    await store.save_report(finished)

    assert await store.latest_report("acme") == finished


async def test_latest_report_is_the_last_started(store: StateStore) -> None:
    # 10:00+02:00 is 08:00 UTC: earlier than 09:00 UTC whatever its wall time says.
    await store.save_report(
        report("early", datetime(2025, 10, 20, 10, tzinfo=timezone(timedelta(hours=2))))
    )
    await store.save_report(report("late", T0))
    await store.save_report(report("middle", T0 - timedelta(minutes=30)))

    latest = await store.latest_report("acme")
    assert latest is not None
    assert latest.run_id == "late"


async def test_latest_report_filters_by_tenant_and_pipeline(store: StateStore) -> None:
    await store.save_report(report("timetable", T0))
    await store.save_report(report("attendance", T0 + timedelta(hours=1), pipeline="attendance"))
    await store.save_report(report("other-tenant", T0 + timedelta(hours=2), tenant="globex"))

    assert (await store.latest_report("acme", "timetable")) == report("timetable", T0)
    latest = await store.latest_report("acme")
    assert latest is not None
    assert latest.run_id == "attendance"
    assert await store.latest_report("acme", "nope") is None
    assert await store.latest_report("initech") is None


async def test_naive_start_time_is_refused(store: StateStore) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        await store.save_report(report("r1", datetime(2025, 10, 20, 9, 0)))


# Read-only stores (dry runs, reading reports)


async def test_read_only_store_not_created_yet_reads_empty_and_creates_nothing(
    durable_state_url: str,
) -> None:
    async with open_state(durable_state_url, read_only=True) as store:
        assert await store.load("acme", "session") == {}
        assert await store.latest_report("acme") is None

    engine = create_state_engine(durable_state_url)
    try:
        assert not await is_current(engine)  # no SQLite file, no tables
    finally:
        await engine.dispose()


async def test_read_only_store_reads_but_refuses_writes(durable_state_url: str) -> None:
    async with open_state(durable_state_url) as store:
        await store.save("acme", "session", "s1", SHEET)
        await store.save_report(report("r1", T0))

    async with open_state(durable_state_url, read_only=True) as store:
        assert await store.load("acme", "session") == {"s1": SHEET}
        assert await store.latest_report("acme") == report("r1", T0)
        assert await store.for_tenant("acme", dry_run=True).load("session") == {"s1": SHEET}
        with pytest.raises(RuntimeError, match="read-only"):
            await store.save("acme", "session", "s2", SHEET)
        with pytest.raises(RuntimeError, match="read-only"):
            await store.forget("acme", "session", "s1")
        with pytest.raises(RuntimeError, match="read-only"):
            await store.save_report(report("r2", T0))


async def test_read_only_store_of_another_schema_is_a_config_error(
    durable_state_url: str,
) -> None:
    async with open_state(durable_state_url):
        pass
    engine = create_state_engine(durable_state_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    finally:
        await engine.dispose()

    with pytest.raises(ConfigError, match="revision '0000'"):
        async with open_state(durable_state_url, read_only=True):
            pass


# Schema and migrations


async def test_migrations_build_the_schema_of_the_tables(state_url: str) -> None:
    def differences(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    engine = create_state_engine(state_url)
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_migrating_again_is_a_no_op(state_url: str) -> None:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = create_state_engine(state_url)
    try:
        await migrate(engine)
        await StateStore(engine).save("acme", "session", "s1", SHEET)
        event.listen(engine.sync_engine, "before_cursor_execute", record)
        await migrate(engine)

        assert statements  # it did look
        assert not [
            s
            for s in statements
            if s.lstrip()
            .upper()
            .startswith(("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE"))
        ]
        assert await version(engine) == ["0001"]
        assert await StateStore(engine).load("acme", "session") == {"s1": SHEET}
    finally:
        await engine.dispose()


def test_head_is_the_latest_migration() -> None:
    assert alembic_head() == HEAD, "a new migration: set core.state.migrate.HEAD to it"


@pytest.mark.slow  # a process of its own, to see what it imports
def test_opening_a_current_store_imports_no_alembic(tmp_path: Path) -> None:
    """Alembic is for migrating: a command on a current store (most of them) skips it."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    program = (
        "import sys, anyio\n"
        "from core.state import open_state\n"
        "async def main():\n"
        "    async with open_state(sys.argv[1]) as store:\n"
        "        await store.load('acme', 'session')\n"
        "anyio.run(main)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    first = subprocess.run([sys.executable, "-c", program, url], capture_output=True, text=True)
    again = subprocess.run([sys.executable, "-c", program, url], capture_output=True, text=True)
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert first.stdout.strip() != "[]", "creating the store migrates it, with alembic"
    assert again.stdout.strip() == "[]"


async def test_migrations_downgrade_and_upgrade_again(state_url: str) -> None:
    def downgrade(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), "base")

    engine = create_state_engine(state_url)
    try:
        await migrate(engine)
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
        assert await version(engine) == []
        await migrate(engine)
        assert await version(engine) == ["0001"]
    finally:
        await engine.dispose()


async def test_sqlite_file_is_set_up_for_sharing(tmp_path: Path) -> None:
    async with open_state(f"sqlite:///{tmp_path / 'state.db'}") as store:
        await store.save("acme", "session", "s1", SHEET)
    engine = create_state_engine(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        async with engine.connect() as connection:
            mode = await connection.exec_driver_sql("PRAGMA journal_mode")
            assert mode.scalar() == "wal"
            timeout = await connection.exec_driver_sql("PRAGMA busy_timeout")
            assert timeout.scalar() == BUSY_TIMEOUT_MS
    finally:
        await engine.dispose()


async def test_one_process_never_waits_on_its_own_sqlite_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No busy timeout at all: a transaction that met another one of this process at the
    # file's write lock would fail at once ("database is locked"). Many tenants' runs
    # save at once in one worker; they must queue in the process, not at the lock.
    monkeypatch.setattr("core.state.database.BUSY_TIMEOUT_MS", 0)
    async with open_state(f"sqlite:///{tmp_path / 'state.db'}") as store:
        async with anyio.create_task_group() as group:
            for n in range(200):
                group.start_soon(store.save, f"tenant{n % 20}", "session", f"s{n}", SHEET)
        saved = [await store.load(f"tenant{t}", "session") for t in range(20)]
    assert sum(map(len, saved)) == 200


async def test_reopening_keeps_everything(durable_state_url: str) -> None:
    async with open_state(durable_state_url) as store:
        await store.save("acme", "session", "s1", SHEET)
        await store.save_report(report("r1", T0))
    async with open_state(durable_state_url) as store:
        assert await store.load("acme", "session") == {"s1": SHEET}
        assert await store.latest_report("acme") == report("r1", T0)


async def test_a_save_is_seen_by_another_store_at_once(durable_state_url: str) -> None:
    async with open_state(durable_state_url) as writer, open_state(durable_state_url) as reader:
        await writer.save("acme", "session", "s1", SHEET)
        assert await reader.load("acme", "session") == {"s1": SHEET}


async def test_stores_opened_together_on_one_database_migrate_once(
    durable_state_url: str,
) -> None:
    async def open_and_save(key: str) -> None:
        async with open_state(durable_state_url) as store:
            await store.save("acme", "session", key, SHEET)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for key in ("a", "b", "c"):
                group.start_soon(open_and_save, key)
    async with open_state(durable_state_url) as store:
        assert await store.load("acme", "session") == {"a": SHEET, "b": SHEET, "c": SHEET}


@pytest.mark.slow  # starts a process
async def test_processes_opening_together_migrate_once(durable_state_url: str) -> None:
    """A CLI run and a worker starting at the same moment on a new database."""
    keys = ["a", "b", "c", "d"]
    with anyio.fail_after(60):
        async with AsyncExitStack() as stack:
            processes = [
                await stack.enter_async_context(
                    await anyio.open_process(
                        [sys.executable, "-c", _OPEN_AND_SAVE, durable_state_url, key],
                        cwd=Path(__file__).parents[1],
                    )
                )
                for key in keys
            ]
            for process in processes:  # all imported and waiting: no head start
                assert process.stdout is not None
                ready = BufferedByteReceiveStream(process.stdout)
                assert await ready.receive_until(b"\n", 100) == b"ready"
            for process in processes:
                assert process.stdin is not None
                await process.stdin.send(b"go\n")
            for process in processes:
                assert process.stderr is not None
                assert await process.wait() == 0, await process.stderr.receive()
    async with open_state(durable_state_url) as store:
        assert set(await store.load("acme", "session")) == set(keys)


async def test_stores_on_different_databases_can_migrate_at_once(tmp_path: Path) -> None:
    # Alembic keeps the migration under way in module globals: two at once in one
    # process would trip over each other even on different databases.
    urls = [
        "sqlite://",
        "sqlite://",
        f"sqlite:///{tmp_path / 'a.db'}",
        f"sqlite:///{tmp_path / 'b.db'}",
    ]
    loaded: dict[int, dict[str, Synced]] = {}

    async def open_and_use(n: int) -> None:
        async with open_state(urls[n]) as store:
            await store.save("acme", "session", str(n), SHEET)
            loaded[n] = await store.load("acme", "session")

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for n in range(len(urls)):
                group.start_soon(open_and_use, n)
    assert loaded == {n: {str(n): SHEET} for n in range(len(urls))}


# URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite:///:memory:", "sqlite+aiosqlite://"),
        (
            "postgresql://me@db.example:5432/passerelle",
            "postgresql+psycopg://me@db.example:5432/passerelle",
        ),
        ("postgres://me@db.example/passerelle", "postgresql+psycopg://me@db.example/passerelle"),
        (
            "postgresql+psycopg://me@db.example/passerelle",
            "postgresql+psycopg://me@db.example/passerelle",
        ),
    ],
)
def test_engine_url_picks_the_async_driver(url: str, expected: str) -> None:
    assert engine_url(url).render_as_string(hide_password=False) == expected


def test_absolute_sqlite_path_is_kept(tmp_path: Path) -> None:
    url = engine_url(f"sqlite:///{tmp_path}/state.db")
    assert url.drivername == "sqlite+aiosqlite"
    assert url.database == f"{tmp_path}/state.db"


def test_relative_sqlite_path_is_against_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert engine_url("sqlite:///passerelle-state.db").database == str(
        tmp_path / "passerelle-state.db"
    )


def test_engine_url_keeps_the_password_but_does_not_show_it() -> None:
    url = engine_url("postgresql://me:s3cret@db.example/passerelle")
    assert url.password == "s3cret"
    assert "s3cret" not in str(url)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://me:s3cret@db.example/passerelle",
        "postgresql://me:s3cret@db.example:port/passerelle",
        "postgresql+asyncpg://me:s3cret@db.example/passerelle",
        "sqlite://me:s3cret@db.example/state.db",
        "me:s3cret@db.example",
        "",
    ],
)
def test_bad_url_is_a_config_error_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        engine_url(url)
    assert raised.value.key == "worker.state_url"
    assert "worker.state_url" in str(raised.value)
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://me:s3cret@db.example/p", "postgresql://me:***@db.example/p"),
        ("postgresql://me:s3/cr@t@db.example/p", "postgresql://me:***@db.example/p"),
        ("me:s3cret@db.example", "me:***@db.example"),
        ("postgresql://me@db.example:5432/p", "postgresql://me@db.example:5432/p"),
        ("sqlite:///state.db", "sqlite:///state.db"),
    ],
)
def test_masked_hides_the_password_only(url: str, expected: str) -> None:
    assert masked(url) == expected


def test_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        engine_url(f"sqlite:///{tmp_path / 'nowhere' / 'state.db'}")


async def test_open_state_rejects_a_bad_url() -> None:
    with pytest.raises(ConfigError, match=r"worker\.state_url"):
        async with open_state("mongodb://me:s3cret@db.example/passerelle"):
            pass
