"""Bring a store's schema to the latest revision as it is opened.

The migration runs in one transaction on the store's own async engine (alembic's
asyncio cookbook: ``run_sync`` hands alembic a sync view of the async connection).
Workers that start together must not both create the tables: on PostgreSQL the
transaction first takes an advisory lock, on SQLite it begins ``IMMEDIATE`` (see
``core.state.database``). Either way the second one waits, then finds the schema current
and does nothing. Within one process, migrations also take turns whatever database they
are on: alembic keeps the migration under way in module globals (``alembic.context``,
``alembic.op``), which two at once would trip over.

Opening a store whose schema is current imports no alembic (a quarter of a command's
start-up): the stored revision is read with plain SQL and compared with ``HEAD``; alembic
comes in only to migrate, or to explain a revision it does not know.

To write a new migration, ``alembic.command.revision(alembic_config(), "what changes",
rev_id="0002")`` creates the file under ``migrations/versions`` to fill in; set ``HEAD`` to
its revision (a test checks it is alembic's head) and keep ``core.state.tables`` in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import anyio
from anyio.lowlevel import RunVar
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.state.urls import SQLITE, StateUnusable

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0001"
"""The latest revision under ``migrations/versions``: the schema this passerelle reads."""
VERSION_TABLE = "alembic_version"

_MIGRATION_LOCK = int.from_bytes(b"passerel", "big")
"""PostgreSQL advisory lock key (a bigint, database-wide) held while migrating."""

_MIGRATING: RunVar[anyio.Lock] = RunVar("passerelle_state_migrating")
"""This process's turn to migrate; one per event loop, as a lock belongs to its loop."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, without an alembic.ini; ``connection`` is migrated."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def migrate(engine: AsyncEngine) -> None:
    """Upgrade the database behind ``engine`` to the latest revision, if it is not."""
    async with _turn(), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
            )
        revision = await connection.run_sync(_current_revision)
        if revision == HEAD:
            return
        from alembic.util import CommandError

        try:
            await connection.run_sync(_upgrade)
        except CommandError:
            # Alembic cannot place the stored revision: a newer passerelle wrote it.
            raise StateUnusable(_other_revision(revision)) from None


async def is_current(engine: AsyncEngine) -> bool:
    """Whether the database behind ``engine`` has the latest schema (``True``) or none at
    all yet (``False``), finding out without creating anything, not even a SQLite file.

    Raises ``StateUnusable`` if it has another revision: it must be migrated first, which
    a read-only caller may not do.
    """
    database = engine.url.database
    if engine.url.drivername == SQLITE and database:
        # A read-only engine names the file as a URI (see ``core.state.database``).
        path = unquote(database.removeprefix("file:")) if database.startswith("file:") else database
        if not await anyio.Path(path).exists():
            return False
    async with engine.connect() as connection:
        revision = await connection.run_sync(_current_revision)
    if revision is None:
        return False
    if revision != HEAD:
        raise StateUnusable(_other_revision(revision))
    return True


def alembic_head() -> str | None:
    """The head of the revisions alembic finds under ``migrations`` (``HEAD`` must be it)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _other_revision(revision: str | None) -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    known = revision is not None and revision in {r.revision for r in script.walk_revisions()}
    if known:
        return (
            f"its schema has revision {revision!r}, this passerelle reads {HEAD!r}: "
            "a run that is not a dry run migrates it"
        )
    return (
        f"its schema has revision {revision!r}, which this passerelle does not know "
        f"(it knows up to {HEAD!r}): a newer passerelle wrote it; use that one"
    )


def _current_revision(connection: Connection) -> str | None:
    """The revision stored in the database, None before the first migration; read as
    alembic reads it (its version table, in the connection's default schema)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
    return next(iter(rows), None)


def _turn() -> anyio.Lock:
    try:
        return _MIGRATING.get()
    except LookupError:
        lock = anyio.Lock()
        _MIGRATING.set(lock)
        return lock


def _upgrade(connection: Connection) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), "head")
