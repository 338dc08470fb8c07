"""The schema, as SQLAlchemy Core tables. Migrations create it; keep both in step
(``tests/test_state_store.py`` checks that they agree on every backend)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    Index,
    MetaData,
    Table,
    Text,
    TypeDecorator,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zone type: SQLAlchemy writes the wall time as text and drops the
    offset. Times are turned to UTC before they are written, which also keeps the text
    in chronological order, and are given their UTC zone back when read. A naive time is
    refused: which instant it means is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give it a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData(naming_convention={"pk": "pk_%(table_name)s"})

synced = Table(
    "synced",
    metadata,
    Column("tenant", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("remote_id", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("data", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
"""What the sink holds for each external id, per tenant and kind of object."""

runs = Table(
    "runs",
    metadata,
    Column("run_id", Text, primary_key=True),
    Column("tenant", Text, nullable=False),
    Column("pipeline", Text, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("outcome", Text),
    Column("report", Text, nullable=False),
    Index("ix_runs_tenant_pipeline_started_at", "tenant", "pipeline", "started_at"),
)
"""One report per run: the whole ``RunReport`` as JSON, plus the columns it is found by."""
