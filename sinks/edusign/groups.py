"""Groups in Edusign (``sync_groups``): found or created with their members, updated when
their name or members changed, and brought up to date once more at the end of a run for
members created after their group was."""

from __future__ import annotations

from typing import Any

from core import (
    Change,
    Group,
    Once,
    PersonKind,
    Reason,
    RunContext,
    Synced,
    TransientError,
    fingerprint,
)
from sinks.edusign import ids, mapping
from sinks.edusign.changes import field_changes, student_changes
from sinks.edusign.client import EdusignError
from sinks.edusign.memory import written
from sinks.edusign.people import People
from sinks.edusign.toolkit import Toolkit


class Groups:
    def __init__(
        self,
        kit: Toolkit,
        people: People,
    ) -> None:
        self._kit = kit
        self._people = people
        self._resolved: Once[str, str | None] = Once()
        self._records: dict[str, Group] = {}

    async def resolve(self, ctx: RunContext, group: Group) -> str | None:
        """The group's Edusign id, or None when it could not be written (reported)."""
        self._records[group.external_id] = group
        return await self._resolved.get(group.external_id, lambda: self._ensure(ctx, group))

    async def settle(self, ctx: RunContext) -> None:
        """Members created after their group was: the group is brought up to date once."""
        for key, remote_id in self._resolved.known().items():
            if remote_id is None or ctx.dry_run:
                continue
            group = self._records[key]
            fields = await self._fields(ctx, group)
            known = (await self._kit.memory.stored(ctx, "group")).get(key)
            if known is not None and known.fingerprint != fingerprint(fields):
                await self._ensure(ctx, group)

    async def _ensure(self, ctx: RunContext, group: Group) -> str | None:
        try:
            return await self._write(ctx, group)
        except EdusignError as exc:
            ctx.report.fail(
                "group", Reason.WRITE_REFUSED, key=group.external_id, detail=exc.message
            )
        except TransientError as exc:
            ctx.report.fail("group", Reason.SERVER_ERROR, key=group.external_id, detail=str(exc))
        return None

    async def _write(self, ctx: RunContext, group: Group) -> str:
        fields = await self._fields(ctx, group)
        known = (await self._kit.memory.stored(ctx, "group")).get(group.external_id)
        if known is None:
            found = (await self._kit.listings.index(ctx, "group")).by_api_id.get(group.external_id)
            if found is not None:
                known = written(found.id, {k: found.content.get(k) for k in fields})
        if known is None:
            return await self._create(ctx, group, fields)
        if known.fingerprint == fingerprint(fields):
            ctx.report.count("group", "unchanged")
        else:
            await self._update(ctx, group, fields, known)
        return known.remote_id

    async def _create(self, ctx: RunContext, group: Group, fields: dict[str, Any]) -> str:
        if ctx.dry_run:
            self._acted(ctx, "created", group)
            return ids.placeholder(group.external_id)
        api_id = self._kit.scope.api_id(group.external_id)
        remote_id = await self._kit.client.create("group", {"group": fields}, api_id)
        await self._kit.memory.remember(ctx, "group", group.external_id, written(remote_id, fields))
        self._acted(ctx, "created", group)
        return remote_id

    async def _update(
        self, ctx: RunContext, group: Group, fields: dict[str, Any], known: Synced
    ) -> None:
        if not ctx.dry_run:
            body = {"group": {"ID": known.remote_id, **fields}}
            await self._kit.client.call("PATCH", mapping.path("group"), json=body)
            synced = written(known.remote_id, fields)
            await self._kit.memory.remember(ctx, "group", group.external_id, synced)
        before = known.data.get("fields")
        before = before if isinstance(before, dict) else {}
        changes = [
            *field_changes(
                {k: v for k, v in before.items() if k != "STUDENTS"},
                {k: v for k, v in fields.items() if k != "STUDENTS"},
            ),
            *student_changes(before.get("STUDENTS") or [], fields["STUDENTS"]),
        ]
        self._acted(ctx, "updated", group, changes)

    def _acted(
        self, ctx: RunContext, action: Change, group: Group, changes: list[str] | None = None
    ) -> None:
        ctx.report.acted("group", action, key=group.external_id, name=group.name, changes=changes)

    async def _fields(self, ctx: RunContext, group: Group) -> dict[str, Any]:
        return mapping.group_fields(group, await self._members(ctx, group), self._kit.scope.name)

    async def _members(self, ctx: RunContext, group: Group) -> list[str]:
        """The group's members that exist in Edusign: written this run, or before."""
        resolved = self._people.resolved()
        stored = await self._kit.memory.stored(ctx, PersonKind.STUDENT.value)
        found = (
            resolved.get(m) or (stored[m].remote_id if m in stored else None) for m in group.members
        )
        return sorted({i for i in found if i and not ids.is_placeholder(i)})
