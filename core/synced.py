"""What a sink remembers between runs: a ``Synced`` entry per external id, read and
written through the run's ``TenantState``.

A sink compares what a source gives it with what it last wrote to decide whether to
create, update, delete or leave alone. The store behind it is ``core.state``; this
module holds only the shapes a plugin sees, so that ``import core`` loads no database
library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Synced:
    """What the sink holds for one external id: its id there, a fingerprint of the
    content last written, small JSON-able extra data (e.g. the date of a sheet)."""

    remote_id: str
    fingerprint: str
    data: dict[str, Any] = field(default_factory=dict)


class TenantState(Protocol):
    """The state store as one tenant's run sees it (``RunContext.state``).

    An entry is saved as soon as the write it records has succeeded: a run that stops
    halfway must not forget what it already did. In a dry run, reads work and writes are
    discarded.
    """

    async def load(self, kind: str) -> dict[str, Synced]:
        """Every entry of one kind, by external id."""
        ...

    async def save(self, kind: str, key: str, synced: Synced) -> None:
        """Insert or replace the entry for one external id."""
        ...

    async def forget(self, kind: str, key: str) -> None:
        """Drop the entry for one external id (the sink deleted it), if there is one."""
        ...
