"""The Edusign sink: attendance sheets, their students, instructors and groups.

For each session it makes sure the people exist, then the sheet; and once the stream is
over it deletes the sheets whose session vanished. What it decides from:

- The state store remembers, per external id, the Edusign id and a fingerprint of what
  was last written: unchanged content costs no call at all.
- An object the store does not know (a first run, a new store, a crash between a write
  and its record) is looked for among the connector's earlier writes before anything is
  created: by ``API_ID``, then by email for people. The lists are read in bulk, once per
  kind and run, and only when a lookup is needed.
- Only objects carrying the connector's ``API_TYPE`` are changed or deleted. A person
  made by hand with a CELCAT person's email is put on the sheets as is
  (``person_not_managed``); a sheet that is locked, started or signed is left alone
  (``sheet_locked``).
- Of those, only the tenant's own: tenants sharing a school write ``API_ID``s scoped with
  their name (``mapping.api_id``), and each lists, adopts, changes and deletes only records
  of its scope. A person another tenant wrote is put on the sheets as is
  (``person_not_managed``). Objects the state store knows are the tenant's whatever their
  ``API_ID`` says, unless another tenant's scope: that is how a tenant that becomes shared
  (or alone again) moves its ``API_ID``s to the new form, by an update.
- Two of the tenant's records with one ``API_ID`` (``duplicate_in_edusign``), seen when a
  list is read: one is kept, an extra sheet deleted if nothing was done on it yet.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import anyio

from core import (
    Change,
    Group,
    ObjectFailed,
    Person,
    PersonKind,
    Reason,
    Record,
    RunContext,
    Session,
    StreamEnd,
    Synced,
    TransientError,
)
from core.concurrency import Once
from core.fingerprint import fingerprint
from sinks.edusign import mapping
from sinks.edusign.changes import field_changes, student_changes
from sinks.edusign.client import AlreadyExists, EdusignClient, EdusignError, NotFound
from sinks.edusign.reasons import EdusignReason

DELETE_CONCURRENCY = 4
"""Reason code: two of the tenant's records in Edusign hold one ``API_ID``."""


@dataclass(frozen=True, slots=True)
class Index:
    """The connector's earlier writes of one kind, as Edusign lists them."""

    by_api_id: dict[str, mapping.Remote] = field(default_factory=dict)
    """The tenant's own records, by external id (its ``API_ID`` without the scope)."""
    by_email: dict[str, mapping.Remote] = field(default_factory=dict)
    duplicates: dict[str, list[mapping.Remote]] = field(default_factory=dict)
    """External ids held by more than one of the tenant's records: all of them, by id."""


class EdusignSink:
    def __init__(
        self,
        client: EdusignClient,
        *,
        send_credentials: bool,
        sync_groups: bool,
        tenant: str = "",
        shared: bool = False,
    ) -> None:
        self._client = client
        self._tenant = tenant
        self._scope = tenant if shared else None
        self._send_credentials = send_credentials
        self._sync_groups = sync_groups
        self._state: Once[str, dict[str, Synced]] = Once()
        self._indexes: Once[mapping.Kind, Index] = Once()
        self._people: Once[str, str | None] = Once()
        self._groups: Once[str, str | None] = Once()
        self._group_records: dict[str, Group] = {}
        self._seen: set[str] = set()
        self._not_managed: set[str] = set()
        self._duplicates_seen: set[tuple[str, str]] = set()

    async def check(self) -> list[str]:
        school = await self._client.call("GET", mapping.SCHOOL)
        name = school.get("NAME") if isinstance(school, dict) else None
        return [f"school: {name or '?'}"]

    # Sheets

    async def write(self, record: Record, ctx: RunContext) -> None:
        if not isinstance(record, Session):
            return
        self._seen.add(record.external_id)
        professors = [await self._person(ctx, p) for p in record.instructors]
        if None in professors:
            missing = record.instructors[professors.index(None)]
            raise ObjectFailed(
                Reason.WRITE_REFUSED,
                f"instructor {missing.source_id} could not be written to Edusign",
            )
        students = [s for s in [await self._person(ctx, p) for p in record.students] if s]
        groups = None
        if self._sync_groups:
            groups = [g for g in [await self._group(ctx, g) for g in record.groups] if g]
        fields = mapping.course_fields(record, [p for p in professors if p], groups, self._scope)
        sheet = _Sheet(record, fields, sorted(students))
        try:
            await self._sheet(ctx, sheet)
        except EdusignError as exc:
            raise ObjectFailed(Reason.WRITE_REFUSED, exc.message) from None
        except TransientError as exc:
            raise ObjectFailed(Reason.SERVER_ERROR, str(exc)) from None

    async def _sheet(self, ctx: RunContext, sheet: _Sheet) -> None:
        key = sheet.session.external_id
        known = (await self._stored(ctx, "session")).get(key)
        if known is not None and known.fingerprint == sheet.fingerprint:
            ctx.report.count("session", "unchanged")
            return
        if known is None:
            found = (await self._index(ctx, "course")).by_api_id.get(key)
            if found is not None:
                state = mapping.course_state(found.content)
                known = Synced(
                    found.id,
                    "",
                    {"students": sorted(state.students), "professors": _professors(found.content)},
                )
        if known is None:
            await self._create_sheet(ctx, sheet)
        else:
            await self._update_sheet(ctx, sheet, known)

    async def _create_sheet(self, ctx: RunContext, sheet: _Sheet) -> None:
        key = sheet.session.external_id
        if not ctx.dry_run:
            body = mapping.course_create_body(sheet.fields, sheet.students)
            remote_id = await self._client.create("course", body, self._api_id(key))
            await self._remember(ctx, "session", key, sheet.synced(remote_id))
        self._acted(ctx, "created", sheet.session)

    async def _update_sheet(self, ctx: RunContext, sheet: _Sheet, known: Synced) -> None:
        key = sheet.session.external_id
        if sheet.session.start <= ctx.now:
            self._locked(ctx, sheet.session, "it has started")
            return
        try:
            current = await self._client.call("GET", mapping.path("course", known.remote_id))
        except NotFound:
            # Deleted in Edusign meanwhile: the session still wants a sheet.
            await self._forget(ctx, "session", key)
            await self._create_sheet(ctx, sheet)
            return
        if isinstance(current, dict) and self._foreign(current.get("API_ID")):
            # Another tenant's sheet (two stores adopted one sheet before API_IDs were
            # scoped): it stays theirs; this session gets a sheet of its own.
            await self._forget(ctx, "session", key)
            await self._create_sheet(ctx, sheet)
            return
        state = mapping.course_state(current)
        if state.locked or state.signed:
            self._locked(ctx, sheet.session, "it is locked" if state.locked else "it is signed")
            return
        body = mapping.course_update_body(
            known.remote_id, sheet.fields, int(known.data.get("professors", 0))
        )
        changes = [
            *field_changes(current, body["course"]),
            *student_changes(state.students, sheet.students),
        ]
        if not ctx.dry_run:
            if known.data.get("fields") != sheet.fields_fingerprint:
                await self._client.call("PATCH", mapping.path("course"), json=body)
            await self._attendance(known.remote_id, state.students, set(sheet.students))
            await self._remember(ctx, "session", key, sheet.synced(known.remote_id))
        self._acted(ctx, "updated", sheet.session, changes)

    def _acted(
        self,
        ctx: RunContext,
        action: Change,
        session: Session,
        changes: list[str] | None = None,
    ) -> None:
        ctx.report.acted(
            "session",
            action,
            key=session.external_id,
            name=session.name,
            start=session.start,
            end=session.end,
            changes=changes,
        )

    async def _attendance(self, course: str, present: frozenset[str], wanted: set[str]) -> None:
        url = mapping.attendance_path(course)
        # Asked twice (a retry, a second worker), each is already done: that is success.
        for student in sorted(wanted - present):
            with contextlib.suppress(AlreadyExists):
                await self._client.call("PUT", url, json={"studentId": student})
        for student in sorted(present - wanted):
            try:
                await self._client.call("DELETE", url, json={"studentId": student})
            except EdusignError:
                # "Not on the sheet" has no documented wording: the sheet itself says
                # whether the student is off it already (docs/edusign-v1.md, "Courses").
                sheet = await self._client.call("GET", mapping.path("course", course))
                if student in mapping.course_state(sheet).students:
                    raise

    def _locked(self, ctx: RunContext, session: Session, why: str) -> None:
        ctx.report.skip(
            "session",
            EdusignReason.SHEET_LOCKED,
            key=session.external_id,
            ids=dict(session.source_ids),
            detail=f"the sheet is not rewritten: {why}",
        )

    # Deletions

    async def finish(self, ctx: RunContext, end: StreamEnd) -> None:
        if self._sync_groups:
            await self._settle_groups(ctx)
        gone = await self._vanished(ctx, end.kept)
        if not gone:
            return
        if not end.complete:
            ctx.report.skip(
                "session",
                Reason.DELETIONS_POSTPONED,
                detail=f"{len(gone)} sheet(s) whose session was not seen are kept "
                "until a run reads everything in scope",
            )
            return
        # The guard counts the sheets held in the window before this run's writes (what
        # _vanished starts from, the ones it keeps included), so a dry run, which records
        # nothing, judges as the run would.
        stored = await self._stored(ctx, "session")
        indexed = self._indexes.known().get("course")
        held = {k for k, synced in stored.items() if _day(synced) in ctx.window} | set(gone)
        if indexed is not None:
            held |= indexed.by_api_id.keys() & (self._seen | end.kept)
        actions = ctx.report.report.actions
        held -= {a.key for a in actions if a.kind == "session" and a.action == "created"}
        if not ctx.may_delete("session", len(gone), len(held)):
            return
        limiter = anyio.CapacityLimiter(DELETE_CONCURRENCY)

        async def delete(key: str, remote_id: str) -> None:
            async with limiter:
                await self._delete(ctx, key, remote_id)

        async with anyio.create_task_group() as tg:
            for key, remote_id in sorted(gone.items()):
                tg.start_soon(delete, key, remote_id)

    async def _vanished(self, ctx: RunContext, kept: frozenset[str]) -> dict[str, str]:
        """The connector's sheets in the window whose session did not come this run.

        Duplicates found in this run's lists are settled first (``_duplicates``)."""
        await self._duplicates(ctx)
        keep = self._seen | kept
        stored = await self._stored(ctx, "session")
        gone = {
            key: synced.remote_id
            for key, synced in stored.items()
            if key not in keep and _day(synced) in ctx.window
        }
        if "course" in self._indexes.known():  # read this run: it may know sheets we forgot
            for key, found in self._indexes.known()["course"].by_api_id.items():
                if key not in keep and key not in stored:
                    gone[key] = found.id
        return gone

    async def _duplicates(self, ctx: RunContext) -> None:
        """Reports, once per API_ID, each of the tenant's objects held by several records
        in the lists read this run. Of sheets, the one the store knows (else the lowest
        id) is kept and each other deleted if unsigned, unlocked and not started; people
        and groups are only reported (deleting one would lose its history)."""
        for kind, index in sorted(self._indexes.known().items()):
            for key, copies in sorted(index.duplicates.items()):
                if (kind, key) in self._duplicates_seen:
                    continue
                self._duplicates_seen.add((kind, key))
                ids = [c.id for c in copies]
                stored = await self._stored(ctx, _state_kind(kind))
                known = stored[key].remote_id if key in stored else None
                kept = known if known in ids else ids[0]
                extras = [i for i in ids if i != kept]
                outcome = (
                    [await self._delete_duplicate(ctx, key, extra) for extra in extras]
                    if kind == "course"
                    else [f"{extra} kept (people and groups are never deleted)" for extra in extras]
                )
                ctx.report.skip(
                    _state_kind(kind),
                    EdusignReason.DUPLICATE_IN_EDUSIGN,
                    key=key,
                    ids={"kept": kept, "duplicates": ", ".join(extras)},
                    detail=f"{len(ids)} {kind} records hold API_ID {copies[0].api_id}: "
                    f"{kept} is kept; " + "; ".join(outcome),
                )

    async def _delete_duplicate(self, ctx: RunContext, key: str, remote_id: str) -> str:
        """Deletes an extra sheet unless something was done on it; says what became of it."""
        try:
            kept, current = await self._remove(ctx, remote_id, keep_started=True)
        except NotFound:
            return f"{remote_id} already gone"
        except (EdusignError, TransientError) as exc:
            _delete_failed(ctx, key, f"delete duplicate {remote_id}", exc)
            return f"{remote_id} could not be deleted"
        if kept is not None:
            return f"{remote_id} kept: {kept}"
        ctx.report.acted("session", "deleted", key=key, **_described(current, ctx))
        return f"{remote_id} deleted"

    async def _delete(self, ctx: RunContext, key: str, remote_id: str) -> None:
        current: Any = None
        try:
            kept, current = await self._remove(ctx, remote_id, keep_started=False)
        except NotFound:
            pass  # already gone: forget it
        except (EdusignError, TransientError) as exc:
            _delete_failed(ctx, key, "delete", exc)
            return
        else:
            if kept is not None:
                ctx.report.skip(
                    "session",
                    EdusignReason.SHEET_LOCKED,
                    key=key,
                    detail=f"its session is gone, but the sheet is {kept}",
                )
                return
            ctx.report.acted("session", "deleted", key=key, **_described(current, ctx))
        await self._forget(ctx, "session", key)

    async def _remove(
        self, ctx: RunContext, remote_id: str, *, keep_started: bool
    ) -> tuple[str | None, Any]:
        """Deletes a sheet (a dry run: would) unless it is locked or signed, or, with
        ``keep_started``, has started. Returns why it was kept (None: deleted) and the
        sheet as read. ``NotFound``: it is gone already."""
        current = await self._client.call("GET", mapping.path("course", remote_id))
        state = mapping.course_state(current)
        if state.locked or state.signed:
            return ("locked" if state.locked else "signed"), current
        if keep_started:
            start = _moment(current.get("START"), ctx) if isinstance(current, dict) else None
            if start is None or start <= ctx.now:
                return "started", current
        if not ctx.dry_run:
            try:
                await self._client.call("DELETE", mapping.path("course", remote_id))
            except EdusignError:
                # A refused DELETE's wording is not documented: only GET's "No course
                # with this ID found" says the sheet is gone (NotFound, to the caller).
                await self._client.call("GET", mapping.path("course", remote_id))
                raise
        return None, current

    # People

    async def _person(self, ctx: RunContext, person: Person) -> str | None:
        """The person's Edusign id, or None when they could not be written (reported)."""
        return await self._people.get(person.external_id, lambda: self._ensure(ctx, person))

    async def _ensure(self, ctx: RunContext, person: Person) -> str | None:
        kind: mapping.Kind = "student" if person.kind is PersonKind.STUDENT else "professor"
        fields = (
            mapping.student_fields(person, self._scope)
            if kind == "student"
            else mapping.professor_fields(person, self._scope)
        )
        wanted = fingerprint(fields)
        try:
            known = (await self._stored(ctx, person.kind.value)).get(person.external_id)
            if known is None:
                known = await self._find_person(ctx, kind, person, fields)
            if known is None:
                return await self._create_person(ctx, kind, person, fields, wanted)
            if not known.data.get("managed", True):
                self._report_not_managed(ctx, person, known)
            elif known.fingerprint != wanted:
                await self._update_person(ctx, kind, person, fields, known)
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

    async def _find_person(
        self, ctx: RunContext, kind: mapping.Kind, person: Person, fields: dict[str, Any]
    ) -> Synced | None:
        """An earlier write of ours (by API_ID, then email), or a person made by hand."""
        index = await self._index(ctx, kind)
        found = index.by_api_id.get(person.external_id) or index.by_email.get(
            person.email.strip().casefold()
        )
        return None if found is None else await self._adopt(ctx, person, found, fields)

    async def _adopt(
        self, ctx: RunContext, person: Person, found: mapping.Remote, fields: dict[str, Any]
    ) -> Synced:
        if not found.ours or not self._owns(found.api_id):
            # Made by hand, or by another tenant of this school: linked, never modified.
            synced = Synced(found.id, "", {"managed": False, "api_id": found.api_id})
        else:
            # What Edusign holds, so that an unchanged person is not rewritten.
            synced = _written(found.id, {k: found.content.get(k) for k in fields})
        await self._remember(ctx, person.kind.value, person.external_id, synced)
        return synced

    async def _create_person(
        self,
        ctx: RunContext,
        kind: mapping.Kind,
        person: Person,
        fields: dict[str, Any],
        wanted: str,
    ) -> str:
        body = mapping.person_body(kind, fields, send_credentials=self._send_credentials)
        if ctx.dry_run:
            self._person_acted(ctx, "created", person)
            return f"(new {person.external_id})"
        try:
            remote_id = await self._client.create(kind, body, self._api_id(person.external_id))
        except EdusignError:
            # Refused: most likely the email is taken (by hand since the list was read, or
            # archived, which lists leave out). Only the professors' refusal is worded in
            # the docs, so ask by email whatever was said; nobody there: the refusal stands.
            raw = await self._client.find_by_email(kind, person.email)
            if raw is None:
                raise
            synced = await self._adopt(ctx, person, mapping.remote(raw), fields)
            if not synced.data.get("managed", True):
                self._report_not_managed(ctx, person, synced)
            elif synced.fingerprint != wanted:
                await self._update_person(ctx, kind, person, fields, synced)
            return synced.remote_id
        await self._remember(
            ctx, person.kind.value, person.external_id, _written(remote_id, fields)
        )
        self._person_acted(ctx, "created", person)
        return remote_id

    async def _update_person(
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
            await self._client.call("PATCH", mapping.path(kind), json=body)
            await self._remember(
                ctx, person.kind.value, person.external_id, _written(known.remote_id, fields)
            )
        before = known.data.get("fields")
        changes = (
            field_changes(before, fields)
            if isinstance(before, dict)
            else ["changed in CELCAT since the last write (its earlier content was not kept)"]
        )
        self._person_acted(ctx, "updated", person, changes)

    def _person_acted(
        self, ctx: RunContext, action: Change, person: Person, changes: list[str] | None = None
    ) -> None:
        name = f"{person.first_name} {person.last_name} <{person.email}>"
        ctx.report.acted(
            person.kind.value, action, key=person.external_id, name=name, changes=changes
        )

    def _report_not_managed(self, ctx: RunContext, person: Person, known: Synced) -> None:
        if person.external_id not in self._not_managed:
            self._not_managed.add(person.external_id)
            written = known.data.get("api_id")
            by = (
                f"was written by another tenant of this Edusign school (API_ID {written})"
                if isinstance(written, str)
                else "was made by hand in Edusign"
            )
            ctx.report.skip(
                person.kind.value,
                EdusignReason.PERSON_NOT_MANAGED,
                key=person.external_id,
                detail=f"{person.email} {by}: put on the sheets as is, never modified",
            )

    # Groups

    async def _group(self, ctx: RunContext, group: Group) -> str | None:
        self._group_records[group.external_id] = group
        return await self._groups.get(group.external_id, lambda: self._ensure_group(ctx, group))

    async def _ensure_group(self, ctx: RunContext, group: Group) -> str | None:
        try:
            return await self._write_group(ctx, group)
        except EdusignError as exc:
            ctx.report.fail(
                "group", Reason.WRITE_REFUSED, key=group.external_id, detail=exc.message
            )
        except TransientError as exc:
            ctx.report.fail("group", Reason.SERVER_ERROR, key=group.external_id, detail=str(exc))
        return None

    async def _write_group(self, ctx: RunContext, group: Group) -> str:
        fields = mapping.group_fields(group, await self._members(ctx, group), self._scope)
        wanted = fingerprint(fields)
        known = (await self._stored(ctx, "group")).get(group.external_id)
        if known is None:
            found = (await self._index(ctx, "group")).by_api_id.get(group.external_id)
            if found is not None:
                known = _written(found.id, {k: found.content.get(k) for k in fields})
        if known is None:
            if ctx.dry_run:
                self._group_acted(ctx, "created", group)
                return f"(new {group.external_id})"
            remote_id = await self._client.create(
                "group", {"group": fields}, self._api_id(group.external_id)
            )
            await self._remember(ctx, "group", group.external_id, _written(remote_id, fields))
            self._group_acted(ctx, "created", group)
            return remote_id
        if known.fingerprint == wanted:
            ctx.report.count("group", "unchanged")
            return known.remote_id
        if not ctx.dry_run:
            body = {"group": {"ID": known.remote_id, **fields}}
            await self._client.call("PATCH", mapping.path("group"), json=body)
            await self._remember(ctx, "group", group.external_id, _written(known.remote_id, fields))
        before = known.data.get("fields")
        changes = [
            *field_changes(
                {k: v for k, v in before.items() if k != "STUDENTS"}
                if isinstance(before, dict)
                else {},
                {k: v for k, v in fields.items() if k != "STUDENTS"},
            ),
            *student_changes(
                before.get("STUDENTS") or [] if isinstance(before, dict) else [], fields["STUDENTS"]
            ),
        ]
        self._group_acted(ctx, "updated", group, changes)
        return known.remote_id

    def _group_acted(
        self, ctx: RunContext, action: Change, group: Group, changes: list[str] | None = None
    ) -> None:
        ctx.report.acted("group", action, key=group.external_id, name=group.name, changes=changes)

    async def _members(self, ctx: RunContext, group: Group) -> list[str]:
        """The group's members that exist in Edusign: written this run, or before."""
        resolved = self._people.known()
        stored = await self._stored(ctx, PersonKind.STUDENT.value)
        ids = (
            resolved.get(m) or (stored[m].remote_id if m in stored else None) for m in group.members
        )
        return sorted({i for i in ids if i and not i.startswith("(new ")})

    async def _settle_groups(self, ctx: RunContext) -> None:
        """Members created after their group was: the group is brought up to date once."""
        for key, remote_id in self._groups.known().items():
            if remote_id is None or ctx.dry_run:
                continue
            group = self._group_records[key]
            fields = mapping.group_fields(group, await self._members(ctx, group), self._scope)
            known = (await self._stored(ctx, "group")).get(key)
            if known is not None and known.fingerprint != fingerprint(fields):
                await self._ensure_group(ctx, group)

    # State and bulk lists, each read once per run

    async def _stored(self, ctx: RunContext, kind: str) -> dict[str, Synced]:
        return await self._state.get(kind, lambda: ctx.state.load(kind))

    async def _remember(self, ctx: RunContext, kind: str, key: str, synced: Synced) -> None:
        await ctx.state.save(kind, key, synced)
        (await self._stored(ctx, kind))[key] = synced

    async def _forget(self, ctx: RunContext, kind: str, key: str) -> None:
        await ctx.state.forget(kind, key)
        (await self._stored(ctx, kind)).pop(key, None)

    def _api_id(self, external_id: str) -> str:
        return mapping.api_id(external_id, self._scope)

    def _owns(self, api_id: Any) -> bool:
        """Whether an ``API_ID`` is this tenant's: of its scope; unscoped, only when the
        tenant is alone on its school (it then also owns what it wrote while shared)."""
        if not isinstance(api_id, str):
            return False
        scope, _ = mapping.owner(api_id)
        return scope == self._tenant or (scope is None and self._scope is None)

    def _foreign(self, api_id: Any) -> bool:
        """Whether an ``API_ID`` carries another tenant's scope. What the store knows is
        the tenant's own unless so (an unscoped one is its own from before it shared)."""
        scope = mapping.owner(api_id)[0] if isinstance(api_id, str) else None
        return scope is not None and scope != self._tenant

    async def _index(self, ctx: RunContext, kind: mapping.Kind) -> Index:
        return await self._indexes.get(kind, lambda: self._load_index(ctx, kind))

    async def _load_index(self, ctx: RunContext, kind: mapping.Kind) -> Index:
        if kind == "group":  # not paged [seen]
            listed = await self._client.call("GET", mapping.path("group"))
            rows = [r for r in listed if isinstance(r, dict)] if isinstance(listed, list) else []
        else:
            params = _window_params(ctx) if kind == "course" else None
            rows = [r async for r in self._client.pages(kind, mapping.PAGE_SIZE[kind], params)]
        index = Index()
        # Lists come in no promised order: should two records share an API_ID or an email,
        # the one with the lowest Edusign id is taken, whatever the order of this run.
        read: set[str] = set()
        for found in sorted(map(mapping.remote, rows), key=lambda r: r.id):
            if found.id in read:
                continue  # one record on two pages (the list moved while it was read)
            read.add(found.id)
            if found.ours and found.api_id and self._owns(found.api_id):
                _, key = mapping.owner(found.api_id)
                first = index.by_api_id.setdefault(key, found)
                if first is not found:
                    index.duplicates.setdefault(key, [first]).append(found)
            if found.email:
                index.by_email.setdefault(found.email, found)
        return index


@dataclass(frozen=True)
class _Sheet:
    """A session as it is to be written: its fields, its students' Edusign ids."""

    session: Session
    fields: dict[str, Any]
    students: list[str]

    @property
    def fields_fingerprint(self) -> str:
        return fingerprint(self.fields)

    @property
    def fingerprint(self) -> str:
        return fingerprint({"fields": self.fields, "students": self.students})

    def synced(self, remote_id: str) -> Synced:
        return Synced(
            remote_id,
            self.fingerprint,
            {
                "date": self.session.day.isoformat(),
                "fields": self.fields_fingerprint,
                "professors": _professors(self.fields),
            },
        )


def _written(remote_id: str, fields: dict[str, Any]) -> Synced:
    """What a person or group was last written with: its fingerprint says whether it must be
    rewritten, its fields what a rewrite changes."""
    return Synced(remote_id, fingerprint(fields), {"fields": fields})


def _described(course: Any, ctx: RunContext) -> dict[str, Any]:
    """A sheet's name and times as Edusign holds them, in the tenant's zone, for a report."""
    if not isinstance(course, dict):
        return {}
    times = [_moment(course.get(field), ctx) for field in ("START", "END")]
    name = course.get("NAME")
    return {"name": name if isinstance(name, str) else "", "start": times[0], "end": times[1]}


def _moment(value: Any, ctx: RunContext) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(ctx.timezone) if moment.tzinfo else None


def _professors(fields: dict[str, Any]) -> int:
    return sum(1 for k, v in fields.items() if v and mapping.is_professor_slot(k))


def _delete_failed(ctx: RunContext, key: str, what: str, exc: Exception) -> None:
    """A deletion that Edusign refused, or that kept failing: reported on the sheet's key,
    which keeps the session's sheet in the state until a run deletes it."""
    ctx.report.fail(
        "session",
        Reason.WRITE_REFUSED if isinstance(exc, EdusignError) else Reason.SERVER_ERROR,
        key=key,
        detail=f"{what}: {exc}",
    )


def _state_kind(kind: mapping.Kind) -> str:
    """Where the state store keeps an Edusign kind, and what a report calls it."""
    return {"course": "session", "professor": PersonKind.INSTRUCTOR.value}.get(kind, kind)


def _day(synced: Synced) -> date | None:
    value = synced.data.get("date")
    return date.fromisoformat(value) if isinstance(value, str) else None


def _window_params(ctx: RunContext) -> dict[str, str]:
    start = datetime.combine(ctx.window.first, time(0), ctx.timezone)
    end = datetime.combine(ctx.window.last + timedelta(days=1), time(0), ctx.timezone)
    return {"start": start.isoformat(), "end": end.isoformat()}
