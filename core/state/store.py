"""The state store: what each sink holds for each external id, and the run reports.

A sink compares what a source gives it with what it last wrote (the ``Synced`` entry for
that external id) to decide whether to create, update, delete or leave alone, so an
entry is saved as soon as the write it records has succeeded: a run that stops halfway
must not forget what it already did.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import Executable, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import AlreadyRunning, AnotherWorker
from core.report import RunReport
from core.state.engine import create_state_engine, takes_turns
from core.state.locks import FileLocks, Held, Holder, Locks, MemoryLocks, PostgresLocks
from core.state.migrate import is_current, migrate
from core.state.tables import runs
from core.state.tables import synced as entries


@dataclass(frozen=True, slots=True)
class Synced:
    """What the sink holds for one external id: its id there, a fingerprint of the
    content last written, small JSON-able extra data (e.g. the date of a sheet)."""

    remote_id: str
    fingerprint: str
    data: dict[str, Any] = field(default_factory=dict)


@asynccontextmanager
async def open_state(url: str, *, read_only: bool = False) -> AsyncIterator[StateStore]:
    """Open (creating and migrating to the latest schema if needed) the store at ``url``,
    a state URL as written in config; dispose of its connections on exit.

    ``read_only`` opens it as it is, for a dry run or to read reports: nothing is created
    or migrated, a store that does not exist yet reads as empty, and writes raise.

    Raises ``ConfigError`` (key ``worker.state_url``) if ``url`` is not a state URL, or
    if a read-only store has an older or newer schema.
    """
    engine = create_state_engine(url)
    try:
        if not read_only:
            await migrate(engine)
        elif not await is_current(engine):
            # Nothing stored there yet: read an empty store instead, leaving no trace.
            await engine.dispose()
            engine = create_state_engine("sqlite://")
            await migrate(engine)
        yield StateStore(engine, read_only=read_only)
    finally:
        await engine.dispose()


class StateStore:
    """All tenants' state in one database. Every method is its own transaction,
    committed when it returns."""

    def __init__(self, engine: AsyncEngine, *, read_only: bool = False) -> None:
        self._engine = engine
        self.read_only = read_only
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

    def for_tenant(self, tenant: str, *, dry_run: bool = False) -> TenantState:
        """The store as one run of ``tenant`` sees it."""
        return TenantState(self, tenant, dry_run=dry_run)

    @asynccontextmanager
    async def _transaction(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        if write and self.read_only:
            raise RuntimeError("this state store was opened read-only")
        async with self._turns, self._engine.begin() as connection:
            yield connection

    async def _upsert(self, table: Table, row: dict[str, Any]) -> None:
        async with self._transaction(write=True) as connection:
            statement = _upsert(connection.dialect.name, table, tuple(row))
            await connection.execute(statement, row)


class TenantState:
    """The store as one tenant's run sees it. In a dry run, reads work and writes are
    discarded (a dry run writes nothing, state included)."""

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
