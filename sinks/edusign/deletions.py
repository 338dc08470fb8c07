"""What the Edusign sink deletes once the stream is over: the connector's sheets in the
window whose session vanished, and the extra sheets of a duplicated ``API_ID``.

It decides from what it is handed (the sessions written this run, the sheets created,
``StreamEnd``), never from the run's report: vanished sheets are deleted only when the
stream read everything in scope, and only as many as the deletion guard allows. A sheet
that is locked or signed is kept (``sheet_locked``); people and groups are never deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio

from core import Reason, RunContext, StreamEnd, TransientError
from sinks.edusign import mapping
from sinks.edusign.client import EdusignError, NotFound
from sinks.edusign.memory import day, state_kind
from sinks.edusign.reasons import EdusignReason
from sinks.edusign.toolkit import Toolkit

DELETE_CONCURRENCY = 4


class Deletions:
    def __init__(self, kit: Toolkit) -> None:
        self._kit = kit
        self._duplicates_seen: set[tuple[str, str]] = set()

    async def settle(
        self, ctx: RunContext, end: StreamEnd, *, seen: frozenset[str], created: frozenset[str]
    ) -> None:
        """Deletes the vanished sheets. ``seen``: the sessions written this run;
        ``created``: those whose sheet this run created (a dry run: would have)."""
        gone = await self._vanished(ctx, seen | end.kept)
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
        held = await self._held(ctx, gone, seen | end.kept, created)
        if not ctx.may_delete("session", len(gone), len(held)):
            return
        limiter = anyio.CapacityLimiter(DELETE_CONCURRENCY)

        async def delete(key: str, remote_id: str) -> None:
            async with limiter:
                await self._delete(ctx, key, remote_id)

        async with anyio.create_task_group() as tg:
            for key, remote_id in sorted(gone.items()):
                tg.start_soon(delete, key, remote_id)

    async def _held(
        self, ctx: RunContext, gone: dict[str, str], keep: frozenset[str], created: frozenset[str]
    ) -> set[str]:
        """What the guard counts: the sheets held in the window before this run's writes
        (what ``_vanished`` starts from, the ones it keeps included), so that a dry run,
        which records nothing, judges as the run would."""
        stored = await self._kit.memory.stored(ctx, "session")
        held = {k for k, synced in stored.items() if day(synced) in ctx.window} | set(gone)
        indexed = self._kit.listings.read().get("course")
        if indexed is not None:
            held |= indexed.by_api_id.keys() & keep
        return held - created

    async def _vanished(self, ctx: RunContext, keep: frozenset[str]) -> dict[str, str]:
        """The connector's sheets in the window whose session did not come this run.

        Duplicates found in this run's lists are settled first (``_duplicates``)."""
        await self._duplicates(ctx)
        stored = await self._kit.memory.stored(ctx, "session")
        gone = {
            key: synced.remote_id
            for key, synced in stored.items()
            if key not in keep and day(synced) in ctx.window
        }
        listed = self._kit.listings.read()
        if "course" in listed:  # read this run: it may know sheets we forgot
            for key, found in listed["course"].by_api_id.items():
                if key not in keep and key not in stored:
                    gone[key] = found.id
        return gone

    async def _duplicates(self, ctx: RunContext) -> None:
        """Reports, once per API_ID, each of the tenant's objects held by several records
        in the lists read this run. Of sheets, the one the store knows (else the lowest
        id) is kept and each other deleted if unsigned, unlocked and not started; people
        and groups are only reported (deleting one would lose its history)."""
        for kind, index in sorted(self._kit.listings.read().items()):
            for key, copies in sorted(index.duplicates.items()):
                if (kind, key) in self._duplicates_seen:
                    continue
                self._duplicates_seen.add((kind, key))
                found = [c.id for c in copies]
                stored = await self._kit.memory.stored(ctx, state_kind(kind))
                known = stored[key].remote_id if key in stored else None
                kept = known if known in found else found[0]
                extras = [i for i in found if i != kept]
                outcome = (
                    [await self._delete_duplicate(ctx, key, extra) for extra in extras]
                    if kind == "course"
                    else [f"{extra} kept (people and groups are never deleted)" for extra in extras]
                )
                ctx.report.skip(
                    state_kind(kind),
                    EdusignReason.DUPLICATE_IN_EDUSIGN,
                    key=key,
                    ids={"kept": kept, "duplicates": ", ".join(extras)},
                    detail=f"{len(found)} {kind} records hold API_ID {copies[0].api_id}: "
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
        await self._kit.memory.forget(ctx, "session", key)

    async def _remove(
        self, ctx: RunContext, remote_id: str, *, keep_started: bool
    ) -> tuple[str | None, Any]:
        """Deletes a sheet (a dry run: would) unless it is locked or signed, or, with
        ``keep_started``, has started. Returns why it was kept (None: deleted) and the
        sheet as read. ``NotFound``: it is gone already."""
        current = await self._kit.client.call("GET", mapping.path("course", remote_id))
        state = mapping.course_state(current)
        if state.locked or state.signed:
            return ("locked" if state.locked else "signed"), current
        if keep_started:
            start = _moment(current.get("START"), ctx) if isinstance(current, dict) else None
            if start is None or start <= ctx.now:
                return "started", current
        if not ctx.dry_run:
            try:
                await self._kit.client.call("DELETE", mapping.path("course", remote_id))
            except EdusignError:
                # A refused DELETE's wording is not documented: only GET's "No course
                # with this ID found" says the sheet is gone (NotFound, to the caller).
                await self._kit.client.call("GET", mapping.path("course", remote_id))
                raise
        return None, current


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


def _delete_failed(ctx: RunContext, key: str, what: str, exc: Exception) -> None:
    """A deletion that Edusign refused, or that kept failing: reported on the sheet's key,
    which keeps the session's sheet in the state until a run deletes it."""
    ctx.report.fail(
        "session",
        Reason.WRITE_REFUSED if isinstance(exc, EdusignError) else Reason.SERVER_ERROR,
        key=key,
        detail=f"{what}: {exc}",
    )
