"""Run locks: at most one run of a tenant pipeline writes at a time, across processes.

Each backend uses what the state store itself offers, so a process that dies frees its
locks without anyone's help:

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a key derived
  from the schema, tenant and pipeline, held by a connection of its own for the run's
  length. Its ``application_name`` says who holds it (pid, time taken, run id, host),
  which ``pg_stat_activity`` shows to a refused run. The server frees the lock when the
  connection ends, the holder's process killed included.
- A SQLite file: an OS file lock (``filelock``: ``flock`` on Unix) on
  ``<db file>.locks/<name>.lock``; the holder writes who it is to ``<name>.json`` beside
  it. The OS frees the lock when the process dies.
- In-memory SQLite: the database lives in one process, so an in-process lock.

A lock is tried, then tried again every ``POLL_SECONDS`` until ``wait`` seconds have
passed; then ``Held`` says who holds it, where known.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import anyio
import psycopg
from filelock import FileLock, Timeout

from core.state.database import bounded_conninfo
from core.state.urls import StateUnusable

POLL_SECONDS = 0.2
"""How often a waiting run tries the lock again."""

_APP_PREFIX = "passerelle"
_APP_NAME_MAX = 63  # PostgreSQL keeps NAMEDATALEN - 1 bytes of application_name


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a lock, as far as is known."""

    pid: int | None = None
    host: str | None = None
    since: datetime | None = None
    run_id: str | None = None

    @classmethod
    def me(cls, run_id: str | None = None) -> Holder:
        return cls(os.getpid(), socket.gethostname(), datetime.now(UTC), run_id)

    def describe(self) -> str:
        """``pid 123 on host since 2026-12-04 15:00:00 UTC, run 0123abcd``, or what of it
        is known."""
        said = []
        if self.pid is not None:
            said.append(f"pid {self.pid}")
        if self.host:
            said.append(f"on {self.host}")
        if self.since is not None:
            said.append(f"since {self.since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
        text = " ".join(said) or "holder unknown"
        return f"{text}, run {self.run_id}" if self.run_id else text

    def to_json(self) -> str:
        return json.dumps(
            {
                "pid": self.pid,
                "host": self.host,
                "since": None if self.since is None else self.since.isoformat(),
                "run_id": self.run_id,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        try:
            data = json.loads(text)
            since = data.get("since")
            return cls(
                pid=data.get("pid"),
                host=data.get("host"),
                since=None if since is None else datetime.fromisoformat(since),
                run_id=data.get("run_id"),
            )
        except (ValueError, TypeError, AttributeError):
            return None

    def application_name(self) -> str:
        """The holder as a PostgreSQL ``application_name``: ``passerelle PID EPOCH RUN HOST``,
        cut to what PostgreSQL keeps."""
        epoch = "-" if self.since is None else str(int(self.since.timestamp()))
        text = f"{_APP_PREFIX} {self.pid or '-'} {epoch} {self.run_id or '-'} {self.host or '-'}"
        return text.encode("ascii", "replace").decode()[:_APP_NAME_MAX]

    @classmethod
    def from_application_name(cls, text: str | None) -> Holder | None:
        parts = (text or "").split(" ", 4)
        if len(parts) != 5 or parts[0] != _APP_PREFIX:
            return None
        pid, epoch, run_id, host = parts[1:]
        return cls(
            pid=int(pid) if pid.isdigit() else None,
            host=None if host == "-" else host,
            since=datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else None,
            run_id=None if run_id == "-" else run_id,
        )


class Held(Exception):
    """The lock is held by someone else (``holder``, if known)."""

    def __init__(self, holder: Holder | None) -> None:
        self.holder = holder
        super().__init__(holder.describe() if holder else "holder unknown")


class Locks(Protocol):
    def hold(
        self, name: str, holder: Holder, wait: float
    ) -> contextlib.AbstractAsyncContextManager[None]: ...


_nap = anyio.sleep  # between attempts; a test seam to see a run waiting


async def _retry(attempt: Callable[[], Awaitable[bool]], wait: float) -> bool:
    """``attempt`` now, and again every ``POLL_SECONDS`` while ``wait`` seconds last."""
    deadline = anyio.current_time() + max(wait, 0.0)
    while True:
        if await attempt():
            return True
        left = deadline - anyio.current_time()
        if left <= 0:
            return False
        await _nap(min(POLL_SECONDS, left))


@dataclass
class MemoryLocks:
    """In-process locks, for a store that lives in one process (in-memory SQLite)."""

    _holders: dict[str, Holder] = field(default_factory=dict)

    @asynccontextmanager
    async def hold(self, name: str, holder: Holder, wait: float) -> AsyncIterator[None]:
        async def attempt() -> bool:
            if name in self._holders:
                return False
            self._holders[name] = holder
            return True

        if not await _retry(attempt, wait):
            raise Held(self._holders.get(name))
        try:
            yield
        finally:
            del self._holders[name]


@dataclass(frozen=True)
class FileLocks:
    """OS file locks in ``folder`` (created when first needed)."""

    folder: Path

    @asynccontextmanager
    async def hold(self, name: str, holder: Holder, wait: float) -> AsyncIterator[None]:
        lock = FileLock(self.folder / f"{name}.lock", thread_local=False)
        about = self.folder / f"{name}.json"

        async def attempt() -> bool:
            try:
                lock.acquire(timeout=0)
            except Timeout:
                return False
            return True

        try:
            self.folder.mkdir(exist_ok=True)
            taken = await _retry(attempt, wait)
        except OSError as exc:  # say, a folder the process may not write
            raise StateUnusable(_cannot_lock(self.folder, exc)) from exc
        if not taken:
            raise Held(self.holder(name))
        try:
            try:
                written = about.with_suffix(f".{os.getpid()}.tmp")
                written.write_text(holder.to_json(), encoding="utf-8")
                written.replace(about)  # a reader sees the old holder or the new, never half
            except OSError as exc:
                raise StateUnusable(_cannot_lock(self.folder, exc)) from exc
            yield
        finally:
            about.unlink(missing_ok=True)
            lock.release()

    def holder(self, name: str) -> Holder | None:
        """Who said they hold ``name``, if anyone did."""
        try:
            return Holder.from_json((self.folder / f"{name}.json").read_text(encoding="utf-8"))
        except OSError:
            return None


@dataclass(frozen=True)
class PostgresLocks:
    """Session-level advisory locks, each on a connection of its own to ``conninfo``."""

    conninfo: str

    @asynccontextmanager
    async def hold(self, name: str, holder: Holder, wait: float) -> AsyncIterator[None]:
        try:
            connection = await psycopg.AsyncConnection.connect(
                bounded_conninfo(self.conninfo),
                autocommit=True,
                application_name=holder.application_name(),
            )
        except psycopg.Error as exc:
            raise StateUnusable(f"cannot take the run lock: {_first_lines(exc)}") from exc
        try:
            try:
                schema = await _one(connection, "SELECT current_schema()")
                key = advisory_key(f"{schema}\0{name}")

                async def attempt() -> bool:
                    return bool(await _one(connection, "SELECT pg_try_advisory_lock(%s)", key))

                taken = await _retry(attempt, wait)
            except psycopg.Error as exc:
                raise StateUnusable(f"cannot take the run lock: {_first_lines(exc)}") from exc
            if not taken:
                raise Held(await _holder_of(connection, key))
            yield
            # Closing the connection frees the lock; unlocking first says so sooner.
            with anyio.CancelScope(shield=True):
                await connection.execute("SELECT pg_advisory_unlock(%s)", (key,))
        finally:
            with anyio.CancelScope(shield=True):
                await connection.close()


_Connection = psycopg.AsyncConnection[tuple[Any, ...]]


def _cannot_lock(folder: Path, exc: OSError) -> str:
    return f"cannot take the run lock in {folder}: {exc.strerror or type(exc).__name__}"


def _first_lines(exc: BaseException) -> str:
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())[:500]


def advisory_key(text: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock``."""
    digest = hashlib.blake2b(text.encode(), digest_size=8, person=b"passerelle").digest()
    return int.from_bytes(digest, "big", signed=True)


async def _one(connection: _Connection, query: str, *args: object) -> object:
    row = await (await connection.execute(query, args or None)).fetchone()
    return None if row is None else row[0]


async def _holder_of(connection: _Connection, key: int) -> Holder | None:
    """The holder of advisory lock ``key`` in this database, from ``pg_stat_activity``. A
    bigint key is shown in ``pg_locks`` as its high (``classid``) and low (``objid``)
    32 bits."""
    cursor = await connection.execute(
        "SELECT a.application_name, a.client_hostname, host(a.client_addr), a.state_change"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND l.classid::bigint = %s AND l.objid::bigint = %s",
        ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    application, hostname, address, since = row
    known = Holder.from_application_name(application)
    if known is not None:
        return known
    return Holder(host=hostname or address, since=since)  # another client than passerelle
