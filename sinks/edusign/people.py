"""Students and instructors in Edusign: found (the state store, then the connector's
earlier writes by ``API_ID``, then by email) or created, and updated when their data
changed.

The not-managed rule: a person made by hand with a source person's email, or written by
another tenant of the school, is put on the sheets as is and never modified
(``person_not_managed``, reported once per person and run).
"""

from __future__ import annotations

from typing import Any

from core import (
    Change,
    Once,
    Person,
    PersonKind,
    Reason,
    RunContext,
    Synced,
    TransientError,
    fingerprint,
)
from sinks.edusign import ids, mapping
from sinks.edusign.changes import field_changes
from sinks.edusign.client import EdusignError
from sinks.edusign.memory import written
from sinks.edusign.reasons import EdusignReason
from sinks.edusign.toolkit import Toolkit


class People:
    def __init__(
        self,
        kit: Toolkit,
        *,
        send_credentials: bool,
    ) -> None:
        self._kit = kit
        self._send_credentials = send_credentials
        self._resolved: Once[str, str | None] = Once()
        self._not_managed: set[str] = set()

    async def resolve(self, ctx: RunContext, person: Person) -> str | None:
        """The person's Edusign id, or None when they could not be written (reported)."""
        return await self._resolved.get(person.external_id, lambda: self._ensure(ctx, person))

    def resolved(self) -> dict[str, str | None]:
        """Edusign ids of the people resolved so far this run, by external id."""
        return self._resolved.known()

    async def _ensure(self, ctx: RunContext, person: Person) -> str | None:
        kind: mapping.Kind = "student" if person.kind is PersonKind.STUDENT else "professor"
        fields = (
            mapping.student_fields(person, self._kit.scope.name)
            if kind == "student"
            else mapping.professor_fields(person, self._kit.scope.name)
        )
        wanted = fingerprint(fields)
        try:
            known = (await self._kit.memory.stored(ctx, person.kind.value)).get(person.external_id)
            if known is None:
                known = await self._find(ctx, kind, person, fields)
            if known is None:
                return await self._create(ctx, kind, person, fields, wanted)
            if not known.data.get("managed", True):
                self._report_not_managed(ctx, person, known)
            elif known.fingerprint != wanted:
                await self._update(ctx, kind, person, fields, known)
            else:
                ctx.report.count(person.kind.value, "unchanged")
            return known.remote_id
        except EdusignError as exc:
            ctx.report.fail(
                person.kind.value, Reason.WRITE_REFUSED, key=person.external_id, detail=exc.message
            )
        except TransientError as exc:
            ctx.report.fail(
                person.kind.value, Reason.SERVER_ERROR, key=person.external_id, detail=str(exc)
            )
        return None

    async def _find(
        self, ctx: RunContext, kind: mapping.Kind, person: Person, fields: dict[str, Any]
    ) -> Synced | None:
        """An earlier write of ours (by API_ID, then email), or a person made by hand."""
        index = await self._kit.listings.index(ctx, kind)
        found = index.by_api_id.get(person.external_id) or index.by_email.get(
            person.email.strip().casefold()
        )
        return None if found is None else await self._adopt(ctx, person, found, fields)

    async def _adopt(
        self, ctx: RunContext, person: Person, found: mapping.Remote, fields: dict[str, Any]
    ) -> Synced:
        if not found.ours or not self._kit.scope.owns(found.api_id):
            # Made by hand, or by another tenant of this school: linked, never modified.
            synced = Synced(found.id, "", {"managed": False, "api_id": found.api_id})
        else:
            # What Edusign holds, so that an unchanged person is not rewritten.
            synced = written(found.id, {k: found.content.get(k) for k in fields})
        await self._kit.memory.remember(ctx, person.kind.value, person.external_id, synced)
        return synced

    async def _create(
        self,
        ctx: RunContext,
        kind: mapping.Kind,
        person: Person,
        fields: dict[str, Any],
        wanted: str,
    ) -> str:
        body = mapping.person_body(kind, fields, send_credentials=self._send_credentials)
        if ctx.dry_run:
            self._acted(ctx, "created", person)
            return ids.placeholder(person.external_id)
        try:
            remote_id = await self._kit.client.create(
                kind, body, self._kit.scope.api_id(person.external_id)
            )
        except EdusignError:
            # Refused: most likely the email is taken (by hand since the list was read, or
            # archived, which lists leave out). Only the professors' refusal is worded in
            # the docs, so ask by email whatever was said; nobody there: the refusal stands.
            raw = await self._kit.client.find_by_email(kind, person.email)
            if raw is None:
                raise
            synced = await self._adopt(ctx, person, mapping.remote(raw), fields)
            if not synced.data.get("managed", True):
                self._report_not_managed(ctx, person, synced)
            elif synced.fingerprint != wanted:
                await self._update(ctx, kind, person, fields, synced)
            return synced.remote_id
        synced = written(remote_id, fields)
        await self._kit.memory.remember(ctx, person.kind.value, person.external_id, synced)
        self._acted(ctx, "created", person)
        return remote_id

    async def _update(
        self,
        ctx: RunContext,
        kind: mapping.Kind,
        person: Person,
        fields: dict[str, Any],
        known: Synced,
    ) -> None:
        if not ctx.dry_run:
            body = mapping.person_body(
                kind, fields, send_credentials=self._send_credentials, remote_id=known.remote_id
            )
            await self._kit.client.call("PATCH", mapping.path(kind), json=body)
            synced = written(known.remote_id, fields)
            await self._kit.memory.remember(ctx, person.kind.value, person.external_id, synced)
        before = known.data.get("fields")
        changes = (
            field_changes(before, fields)
            if isinstance(before, dict)
            else ["changed in CELCAT since the last write (its earlier content was not kept)"]
        )
        self._acted(ctx, "updated", person, changes)

    def _acted(
        self, ctx: RunContext, action: Change, person: Person, changes: list[str] | None = None
    ) -> None:
        name = f"{person.first_name} {person.last_name} <{person.email}>"
        ctx.report.acted(
            person.kind.value, action, key=person.external_id, name=name, changes=changes
        )

    def _report_not_managed(self, ctx: RunContext, person: Person, known: Synced) -> None:
        if person.external_id in self._not_managed:
            return
        self._not_managed.add(person.external_id)
        by_api_id = known.data.get("api_id")
        by = (
            f"was written by another tenant of this Edusign school (API_ID {by_api_id})"
            if isinstance(by_api_id, str)
            else "was made by hand in Edusign"
        )
        ctx.report.skip(
            person.kind.value,
            EdusignReason.PERSON_NOT_MANAGED,
            key=person.external_id,
            detail=f"{person.email} {by}: put on the sheets as is, never modified",
        )
