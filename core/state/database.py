"""The async engine behind a store, set up so that several processes can share it.

SQLite: a CLI run and the worker may use the same file at once. WAL lets readers and the
writer proceed together, and the busy timeout makes a writer wait for the lock instead
of failing. SQLAlchemy (not the sqlite3 driver, which skips BEGIN before DDL and SELECT)
starts every transaction, with ``BEGIN IMMEDIATE``: migrations are then transactional
and serialised between processes, and a writer takes the lock up front, where the busy
timeout applies, instead of failing when it upgrades a read lock. Every transaction here
is one short statement, or the migration, so holding the write lock throughout is cheap.

An in-memory database lives in its one connection: every user must share it.

A store opened read-only (a dry run, ``report``) is opened so by SQLite itself
(``mode=ro``), with plain deferred transactions: it then works on a file or folder the
process may not write, and cannot write by mistake.

PostgreSQL: every connection has bounded timeouts (``CONNECTION_SETTINGS``), so that an
unreachable or black-holed server fails in bounded time instead of hanging the process.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sqlalchemy import Connection, event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from core.state.urls import POSTGRES, StateUnusable, engine_url, is_memory

BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another process's write to finish."""

CONNECTION_SETTINGS: dict[str, int] = {
    # Seconds to establish a connection, the server's startup answer included (libpq
    # counts it per address tried): a listener that never answers fails, not hangs.
    "connect_timeout": 10,
    # Once connected, data the server does not acknowledge within this many ms ends the
    # connection, and keepalives find a silent server while a query waits for its answer.
    "tcp_user_timeout": 30_000,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
"""libpq connection parameters for PostgreSQL; a state URL's query may override each
(``postgresql://u@h/db?connect_timeout=3``)."""


def create_state_engine(
    url: str, *, read_only: bool = False, immutable: bool = False
) -> AsyncEngine:
    """An engine for the state URL ``url`` as written in config (see ``engine_url``);
    ``read_only``: SQLite opens the file read-only and nothing on it takes a write lock;
    ``immutable`` besides: SQLite trusts that nobody writes it meanwhile, which is how it
    reads a WAL database in a folder where it may not create its shared-memory file."""
    target = engine_url(url)
    if target.drivername == POSTGRES:
        # A worker outlives server restarts: test pooled connections before use.
        return create_async_engine(
            target, pool_pre_ping=True, connect_args=postgres_settings(target)
        )
    memory = is_memory(target)
    if read_only and not memory:
        target = _read_only(target, immutable=immutable)
    engine = create_async_engine(target, poolclass=StaticPool if memory else None)
    event.listen(engine.sync_engine, "connect", _no_driver_transactions)
    if read_only and not memory:
        event.listen(engine.sync_engine, "connect", _wait_for_writers)
    elif not memory:
        event.listen(engine.sync_engine, "connect", _share_file)
    if not read_only:
        event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def check_file(url: str, *, read_only: bool) -> None:
    """Raise ``StateUnusable`` if the SQLite file of state URL ``url`` cannot be opened
    (a folder in its place, a folder the process may not write), before SQLite tries:
    aiosqlite, failing to connect, stops its thread without waiting for it, and the
    thread then reports the loop closed, on the terminal, as the CLI exits."""
    target = engine_url(url)
    if target.drivername == POSTGRES or is_memory(target) or target.database is None:
        return
    path = Path(target.database)
    try:
        if path.exists() and not path.is_file():
            raise StateUnusable(f"{path} is not a file (a folder in its place?)")
        if read_only:
            if path.exists():
                path.open("rb").close()
        elif path.exists():
            path.open("r+b").close()
        else:
            path.touch(exist_ok=True)  # what SQLite would create: an empty file is a new store
    except OSError as exc:
        raise StateUnusable(f"cannot open {path}: {exc.strerror or exc}") from exc


def postgres_settings(url: URL) -> dict[str, int]:
    """The ``CONNECTION_SETTINGS`` that ``url``'s query does not set itself."""
    return {k: v for k, v in CONNECTION_SETTINGS.items() if k not in url.query}


def _read_only(url: URL, *, immutable: bool) -> URL:
    """``url`` as a SQLite URI filename opened read-only: ``file:/path?mode=ro``."""
    path = quote(str(url.database), safe="/")  # "?" or "#" in a file name is no query
    query = {"mode": "ro", "uri": "true"} | ({"immutable": "1"} if immutable else {})
    return url.set(database=f"file:{path}").update_query_dict(query)


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


def _wait_for_writers(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.close()


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


def bounded_conninfo(conninfo: str) -> str:
    """A libpq ``conninfo`` (or URL) with the ``CONNECTION_SETTINGS`` it does not set
    itself: for the connections made outside the engine (run locks, the job engine)."""
    given = conninfo_to_dict(conninfo)
    return make_conninfo(
        conninfo, **{k: v for k, v in CONNECTION_SETTINGS.items() if k not in given}
    )
