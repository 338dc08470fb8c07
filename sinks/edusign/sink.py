"""The Edusign sink: attendance sheets, their students, instructors and groups.

For each session it makes sure the people exist, then the sheet; and once the stream is
over it deletes the sheets whose session vanished. What it decides from:

- The state store remembers, per external id, the Edusign id and a fingerprint of what
  was last written: unchanged content costs no call at all (``memory``).
- An object the store does not know (a first run, a new store, a crash between a write
  and its record) is looked for among the connector's earlier writes before anything is
  created: by ``API_ID``, then by email for people. The lists are read in bulk, once per
  kind and run, and only when a lookup is needed (``listings``).
- Only objects carrying the connector's ``API_TYPE`` are changed or deleted. A person
  made by hand with a CELCAT person's email is put on the sheets as is
  (``person_not_managed``, ``people``); a sheet that is locked, started or signed is left
  alone (``sheet_locked``, ``sheets``).
- Of those, only the tenant's own: tenants sharing a school write ``API_ID``s scoped with
  their name (``ids``), and each lists, adopts, changes and deletes only records of its
  scope. A person another tenant wrote is put on the sheets as is
  (``person_not_managed``). Objects the state store knows are the tenant's whatever their
  ``API_ID`` says, unless another tenant's scope: that is how a tenant that becomes shared
  (or alone again) moves its ``API_ID``s to the new form, by an update.
- Two of the tenant's records with one ``API_ID`` (``duplicate_in_edusign``), seen when a
  list is read: one is kept, an extra sheet deleted if nothing was done on it yet
  (``deletions``).

``EdusignSink`` only wires these parts together for one run, behind the core's ``Sink``.
"""

from __future__ import annotations

from core import Record, RunContext, Session, StreamEnd
from sinks.edusign import ids, mapping
from sinks.edusign.client import EdusignClient
from sinks.edusign.deletions import Deletions
from sinks.edusign.groups import Groups
from sinks.edusign.people import People
from sinks.edusign.sheets import Sheets
from sinks.edusign.toolkit import Toolkit


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
        kit = Toolkit.of(client, ids.Scope.of(tenant, shared=shared))
        self._client = client
        people = People(kit, send_credentials=send_credentials)
        self._groups = Groups(kit, people) if sync_groups else None
        self._sheets = Sheets(kit, people, self._groups)
        self._deletions = Deletions(kit)

    async def check(self) -> list[str]:
        school = await self._client.call("GET", mapping.SCHOOL)
        name = school.get(mapping.SCHOOL_NAME) if isinstance(school, dict) else None
        return [f"school: {name or '?'}"]

    async def write(self, record: Record, ctx: RunContext) -> None:
        if isinstance(record, Session):
            await self._sheets.write(ctx, record)

    async def finish(self, ctx: RunContext, end: StreamEnd) -> None:
        if self._groups is not None:
            await self._groups.settle(ctx)
        await self._deletions.settle(ctx, end, seen=self._sheets.seen, created=self._sheets.created)
