"""The state store: what each sink holds for each external id, and the run reports.

A sink compares what a source gives it with what it last wrote (the ``Synced`` entry for
that external id) to decide whether to create, update, delete or leave alone, so an
entry is saved as soon as the write it records has succeeded: a run that stops halfway
must not forget what it already did.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import psycopg
from sqlalchemy import Executable, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DatabaseError,
    DBAPIError,
    InterfaceError,
    InternalError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import AlreadyRunning, AnotherWorker
from core.report import RunReport
from core.state.database import BUSY_TIMEOUT_MS, check_file, create_state_engine, takes_turns
from core.state.locks import FileLocks, Held, Holder, Locks, MemoryLocks, PostgresLocks
from core.state.migrate import is_current, migrate
from core.state.tables import runs
from core.state.tables import synced as entries
from core.state.urls import StateUnusable, masked, password_of
from core.synced import Synced


@asynccontextmanager
async def open_state(url: str, *, read_only: bool = False) -> AsyncIterator[StateStore]:
    """Open (creating and migrating to the latest schema if needed) the store at ``url``,
    a state URL as written in config; dispose of its connections on exit.

    ``read_only`` opens it as it is, for a dry run or to read reports: nothing is created
    or migrated, a store that does not exist yet reads as empty, and writes raise. It
    works on a file and folder the process may only read.

    Raises ``ConfigError`` (key ``worker.state_url``) if ``url`` is not a state URL, and
    its subclass ``StateUnusable`` if the store cannot be opened: not a database, damaged,
    locked, a newer schema (or, read-only, an older one), a server that does not answer.
    Every method of the store raises ``StateUnusable`` too when the database fails.
    """
    try:
        check_file(url, read_only=read_only)
    except StateUnusable as exc:
        raise exc.at(url) from exc
    engine = create_state_engine(url, read_only=read_only)
    try:
        try:
            engine = await _ready(engine, url, read_only=read_only)
        except StateUnusable as exc:
            raise (exc if exc.where else exc.at(url)) from exc
        except Exception as exc:
            if not is_fault(exc):
                raise
            raise unusable(exc, url) from exc
        yield StateStore(engine, read_only=read_only, url=url)
    finally:
        await engine.dispose()


async def _ready(engine: AsyncEngine, url: str, *, read_only: bool) -> AsyncEngine:
    """``engine`` with the latest schema, or, read-only, an empty store in memory in place
    of one that does not exist yet (leaving no trace of it)."""
    if not read_only:
        await migrate(engine)
        return engine
    try:
        current = await is_current(engine)
    except OperationalError as exc:
        if "readonly" not in str(exc.orig) or engine.dialect.name != "sqlite":
            raise
        # A WAL file in a folder SQLite may not write: no shared memory to read it with,
        # unless told that nobody writes it (nobody can, there).
        await engine.dispose()
        engine = create_state_engine(url, read_only=True, immutable=True)
        try:
            current = await is_current(engine)
        except BaseException:
            await engine.dispose()  # the caller still holds the first engine only
            raise
    if not current:
        await engine.dispose()
        engine = create_state_engine("sqlite://")
        await migrate(engine)
    return engine


def is_fault(exc: BaseException) -> bool:
    """Whether ``exc`` says the database (its driver, its files, its server) cannot serve,
    rather than that a statement was wrong: the store is then unusable, not the code."""
    if isinstance(exc, DBAPIError):
        # DatabaseError itself is SQLite's "not a database" and "malformed"; its other
        # subclasses (integrity, programming, data errors) are bugs, not faults.
        return type(exc) is DatabaseError or isinstance(
            exc, OperationalError | InterfaceError | InternalError
        )
    return type(exc) is sqlite3.DatabaseError or isinstance(
        exc, sqlite3.OperationalError | psycopg.OperationalError | OSError | PoolTimeout
    )


_HINTS = {
    "file is not a database": "the file is not a SQLite database (damaged or another file)",
    "database disk image is malformed": "the database file is damaged (truncated?)",
    "unable to open database file": (
        "cannot open the database file (a folder in its place, a missing or unwritable folder?)"
    ),
    "database is locked": (
        f"another process has held its lock for more than {BUSY_TIMEOUT_MS // 1000} s"
    ),
    "attempt to write a readonly database": "it cannot be written (read-only file or folder)",
}


def unusable(exc: BaseException, url: str) -> StateUnusable:
    """``exc``, raised by the database behind ``url``, as one line a person can act on."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if isinstance(cause, OSError) and cause.strerror:
        text = f"{cause.strerror}: {cause.filename}" if cause.filename else cause.strerror
    else:
        text = "; ".join(line.strip() for line in str(cause).splitlines() if line.strip())
    text = text[:500] or type(cause).__name__
    hint = next((h for key, h in _HINTS.items() if key in text), None)
    return StateUnusable(
        f"{hint} ({text})" if hint else text, masked(url), password=password_of(url)
    )


class StateStore:
    """All tenants' state in one database. Every method is its own transaction,
    committed when it returns."""

    def __init__(
        self, engine: AsyncEngine, *, read_only: bool = False, url: str | None = None
    ) -> None:
        self._engine = engine
        self.read_only = read_only
        self._url = url or engine.url.render_as_string()
        self._turns: AbstractAsyncContextManager[object] = (
            anyio.Lock() if takes_turns(engine) else nullcontext()
        )
        self._locks = _locks_for(engine)

    async def load(self, tenant: str, kind: str) -> dict[str, Synced]:
        """Every entry of one kind, by external id."""
        query = select(
            entries.c.key, entries.c.remote_id, entries.c.fingerprint, entries.c.data
        ).where(entries.c.tenant == tenant, entries.c.kind == kind)
        async with self._transaction() as connection:
            rows = (await connection.execute(query)).all()
        return {row.key: Synced(row.remote_id, row.fingerprint, row.data) for row in rows}

    async def save(self, tenant: str, kind: str, key: str, synced: Synced) -> None:
        """Insert or replace the entry for one external id."""
        row = {
            "tenant": tenant,
            "kind": kind,
            "key": key,
            "remote_id": synced.remote_id,
            "fingerprint": synced.fingerprint,
            "data": synced.data,
            "updated_at": datetime.now(UTC),
        }
        await self._upsert(entries, row)

    async def forget(self, tenant: str, kind: str, key: str) -> None:
        """Drop the entry for one external id (the sink deleted it), if there is one."""
        statement = entries.delete().where(
            entries.c.tenant == tenant, entries.c.kind == kind, entries.c.key == key
        )
        async with self._transaction(write=True) as connection:
            await connection.execute(statement)

    async def save_report(self, report: RunReport) -> None:
        """Insert or replace the report of ``report.run_id``: a run's report may be saved
        more than once (say, as it starts and as it ends), and is kept once."""
        row = {
            "run_id": report.run_id,
            "tenant": report.tenant,
            "pipeline": report.pipeline,
            "started_at": report.started_at,
            "finished_at": report.finished_at,
            "outcome": None if report.outcome is None else report.outcome.value,
            "report": report.model_dump_json(),
        }
        await self._upsert(runs, row)

    async def latest_report(self, tenant: str, pipeline: str | None = None) -> RunReport | None:
        """The report of the tenant's run (of ``pipeline``, if given) that started last."""
        query = select(runs.c.report).where(runs.c.tenant == tenant)
        if pipeline is not None:
            query = query.where(runs.c.pipeline == pipeline)
        query = query.order_by(runs.c.started_at.desc(), runs.c.run_id.desc()).limit(1)
        async with self._transaction() as connection:
            report = (await connection.execute(query)).scalar_one_or_none()
        return None if report is None else RunReport.model_validate_json(report)

    @asynccontextmanager
    async def run_lock(
        self, tenant: str, pipeline: str, *, run_id: str, wait: float = 0.0
    ) -> AsyncIterator[None]:
        """Hold the run lock of ``tenant``'s ``pipeline`` for the block: at most one run of a
        tenant pipeline writes at a time, whichever process it is in (see
        ``core.state.locks``). Waits up to ``wait`` seconds for it, then raises
        ``AlreadyRunning``, which says who holds it where that is known."""
        try:
            async with self._locks.hold(f"{tenant}.{pipeline}", Holder.me(run_id), wait):
                yield  # the run (it never raises Held: only taking a lock does)
        except Held as held:
            raise AlreadyRunning(tenant, pipeline, str(held)) from None
        except StateUnusable as exc:  # the lock could not be taken at all
            raise (exc if exc.where else exc.at(self._url)) from exc

    @asynccontextmanager
    async def worker_lock(self) -> AsyncIterator[None]:
        """Hold this store's worker lock for the block, on a SQLite file: one ``passerelle
        run`` per SQLite store. Elsewhere nothing: an in-memory store is the process's own,
        and several workers on PostgreSQL are the supported setup. Raises ``AnotherWorker``
        at once if another worker holds it."""
        if not isinstance(self._locks, FileLocks):
            yield
            return
        try:
            async with self._locks.hold("worker", Holder.me(), 0.0):
                yield
        except Held as held:
            raise AnotherWorker(str(self._engine.url.database), str(held)) from None
        except StateUnusable as exc:
            raise (exc if exc.where else exc.at(self._url)) from exc

    def for_tenant(self, tenant: str, *, dry_run: bool = False) -> TenantStore:
        """The store as one run of ``tenant`` sees it (a ``core.TenantState``)."""
        return TenantStore(self, tenant, dry_run=dry_run)

    @asynccontextmanager
    async def _transaction(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        if write and self.read_only:
            raise RuntimeError("this state store was opened read-only")
        try:
            async with self._turns, self._engine.begin() as connection:
                yield connection
        except Exception as exc:
            if not is_fault(exc):
                raise
            raise unusable(exc, self._url) from exc

    async def _upsert(self, table: Table, row: dict[str, Any]) -> None:
        async with self._transaction(write=True) as connection:
            statement = _upsert(connection.dialect.name, table, tuple(row))
            await connection.execute(statement, row)


class TenantStore:
    """The store as one tenant's run sees it: what plugins know as ``core.TenantState``.
    In a dry run, reads work and writes are discarded (a dry run writes nothing, state
    included)."""

    __slots__ = ("_store", "dry_run", "tenant")

    def __init__(self, store: StateStore, tenant: str, *, dry_run: bool = False) -> None:
        self._store = store
        self.tenant = tenant
        self.dry_run = dry_run

    async def load(self, kind: str) -> dict[str, Synced]:
        return await self._store.load(self.tenant, kind)

    async def save(self, kind: str, key: str, synced: Synced) -> None:
        if not self.dry_run:
            await self._store.save(self.tenant, kind, key, synced)

    async def forget(self, kind: str, key: str) -> None:
        if not self.dry_run:
            await self._store.forget(self.tenant, kind, key)


def _locks_for(engine: AsyncEngine) -> Locks:
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return PostgresLocks(url.set(drivername="postgresql").render_as_string(hide_password=False))
    if url.database in (None, "", ":memory:"):
        return MemoryLocks()
    return FileLocks(Path(f"{url.database}.locks"))


@functools.cache
def _upsert(dialect: str, table: Table, columns: tuple[str, ...]) -> Executable:
    """``INSERT`` of a row of ``columns`` (its values given when executed) that replaces
    the row with the same primary key, if any. Built once: building it costs more than
    running it, and a sync saves a row per object it writes."""
    key = [column.name for column in table.primary_key]
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_update(
        index_elements=key,
        set_={name: insert.excluded[name] for name in columns if name not in key},
    )
