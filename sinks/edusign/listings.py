"""The connector's earlier writes, as Edusign lists them: where an object the state store
does not know (a first run, a new store, a crash between a write and its record) is
looked for before anything is created.

Each kind is listed in bulk, once per run, and only when a lookup needs it. Only the
tenant's own records (``Scope.owns``) are indexed by ``API_ID``; two of them with one
``API_ID`` are kept aside as duplicates, for ``deletions`` to settle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from core import Once, RunContext
from sinks.edusign import ids, mapping
from sinks.edusign.client import EdusignClient


@dataclass(frozen=True, slots=True)
class Index:
    """The connector's earlier writes of one kind, as Edusign lists them."""

    by_api_id: dict[str, mapping.Remote] = field(default_factory=dict)
    """The tenant's own records, by external id (its ``API_ID`` without the scope)."""
    by_email: dict[str, mapping.Remote] = field(default_factory=dict)
    duplicates: dict[str, list[mapping.Remote]] = field(default_factory=dict)
    """External ids held by more than one of the tenant's records: all of them, by id."""


class Listings:
    """Edusign's lists of one tenant's school, each kind read at most once per run."""

    def __init__(self, client: EdusignClient, scope: ids.Scope) -> None:
        self._client = client
        self._scope = scope
        self._indexes: Once[mapping.Kind, Index] = Once()

    async def index(self, ctx: RunContext, kind: mapping.Kind) -> Index:
        return await self._indexes.get(kind, lambda: self.load(ctx, kind))

    def read(self) -> dict[mapping.Kind, Index]:
        """The kinds listed so far this run (nothing is listed for them)."""
        return self._indexes.known()

    async def load(self, ctx: RunContext, kind: mapping.Kind) -> Index:
        """Lists ``kind`` now, whether or not it was this run."""
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
            if found.ours and found.api_id and self._scope.owns(found.api_id):
                _, key = ids.owner(found.api_id)
                first = index.by_api_id.setdefault(key, found)
                if first is not found:
                    index.duplicates.setdefault(key, [first]).append(found)
            if found.email:
                index.by_email.setdefault(found.email, found)
        return index


def _window_params(ctx: RunContext) -> dict[str, str]:
    start = datetime.combine(ctx.window.first, time(0), ctx.timezone)
    end = datetime.combine(ctx.window.last + timedelta(days=1), time(0), ctx.timezone)
    return {"start": start.isoformat(), "end": end.isoformat()}
