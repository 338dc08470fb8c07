"""What the Edusign sink remembers in the state store: per kind and external id, the
Edusign id and a fingerprint of what was last written (unchanged content costs no call).

Each kind is loaded once per run and kept in step with every save and forget, so that
sheets, people, groups and deletions all judge from the same picture.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from core import Once, PersonKind, RunContext, Synced, fingerprint
from sinks.edusign import mapping


class Memory:
    """The state store's records of one tenant, each kind read once per run."""

    def __init__(self) -> None:
        self._loaded: Once[str, dict[str, Synced]] = Once()

    async def stored(self, ctx: RunContext, kind: str) -> dict[str, Synced]:
        return await self._loaded.get(kind, lambda: ctx.state.load(kind))

    async def remember(self, ctx: RunContext, kind: str, key: str, synced: Synced) -> None:
        await ctx.state.save(kind, key, synced)
        (await self.stored(ctx, kind))[key] = synced

    async def forget(self, ctx: RunContext, kind: str, key: str) -> None:
        await ctx.state.forget(kind, key)
        (await self.stored(ctx, kind)).pop(key, None)


def written(remote_id: str, fields: dict[str, Any]) -> Synced:
    """What a person or group was last written with: its fingerprint says whether it must be
    rewritten, its fields what a rewrite changes."""
    return Synced(remote_id, fingerprint(fields), {"fields": fields})


def day(synced: Synced) -> date | None:
    """A sheet's day, as stored with it (``sheets.Sheet.synced``)."""
    value = synced.data.get("date")
    return date.fromisoformat(value) if isinstance(value, str) else None


def state_kind(kind: mapping.Kind) -> str:
    """Where the state store keeps an Edusign kind, and what a report calls it."""
    return {"course": "session", "professor": PersonKind.INSTRUCTOR.value}.get(kind, kind)
