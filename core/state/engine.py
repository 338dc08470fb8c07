"""The async engine behind a store, set up so that several processes can share it.

SQLite: a CLI run and the worker may use the same file at once. WAL lets readers and the
writer proceed together, and the busy timeout makes a writer wait for the lock instead
of failing. SQLAlchemy (not the sqlite3 driver, which skips BEGIN before DDL and SELECT)
starts every transaction, with ``BEGIN IMMEDIATE``: migrations are then transactional
and serialised between processes, and a writer takes the lock up front, where the busy
timeout applies, instead of failing when it upgrades a read lock. Every transaction here
is one short statement, or the migration, so holding the write lock throughout is cheap.

An in-memory database lives in its one connection: every user must share it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from core.state.urls import POSTGRES, engine_url, is_memory

BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another process's write to finish."""


def create_state_engine(url: str) -> AsyncEngine:
    """An engine for the state URL ``url`` as written in config (see ``engine_url``)."""
    target = engine_url(url)
    if target.drivername == POSTGRES:
        # A worker outlives server restarts: test pooled connections before use.
        return create_async_engine(target, pool_pre_ping=True)
    memory = is_memory(target)
    engine = create_async_engine(target, poolclass=StaticPool if memory else None)
    event.listen(engine.sync_engine, "connect", _no_driver_transactions)
    if not memory:
        event.listen(engine.sync_engine, "connect", _share_file)
    event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def takes_turns(engine: AsyncEngine) -> bool:
    """Whether the transactions of one process on ``engine`` must take turns.

    SQLite: every transaction holds the database's one write lock (``BEGIN IMMEDIATE``),
    and in memory they all share one connection besides. Queued in the process, they
    wait in order for the lock; left to the busy timeout, dozens of concurrent runs poll
    for it, and some give up ("database is locked": the benchmark's 200 tenants did).
    Between processes, the busy timeout still arbitrates."""
    return engine.dialect.name == "sqlite"


def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


def _share_file(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    with contextlib.suppress(sqlite3.OperationalError):
        # WAL is a property of the file, set once by the first connection that can. Switching
        # needs the file to itself and answers "locked" without waiting when another process
        # is inside it: that process's connection (or a later one) sets it, and this one
        # works in rollback-journal mode meanwhile, correct if less concurrent.
        cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
