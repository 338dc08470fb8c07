"""Attendance back to CELCAT, through CAWS (CELCAT Attendance Web Services).

``CawsSink`` is the return-attendance pipeline's sink (its HTTP client is
``caws_client.CawsClient``): it collects the marks of the run, then, register by
register (one per event and week), sets the marks that changed:

- a mark already sent and unchanged is not sent again (the state store remembers it);
- a mark someone else set in CELCAT (a set mark not recorded under the connector's CAWS
  user) is never overwritten (``mark_kept``);
- a session whose register cannot be found is reported (``register_missing``), not fatal.

Every CAWS name, status and field lives in ``mapping`` (its CAWS section); docs/caws.md
says which of them CELCAT's public clients show and which are assumed. Nothing here
depends on the order of a list, on a field the contract does not promise, or on the
words of an error.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from adapters.celcat import mapping
from adapters.celcat.caws_client import SERVICE, CawsClient, CawsNotFound
from adapters.celcat.client import CelcatClient, CelcatError
from adapters.celcat.ids import SessionId, StudentId
from adapters.celcat.reasons import CelcatReason
from core import (
    Mark,
    Presence,
    Reason,
    RunContext,
    RunFailed,
    StreamEnd,
    Synced,
    TransientError,
    fingerprint,
)

REGISTERS_PER_CALL = 50


class CawsSink:
    def __init__(
        self,
        caws: CawsClient,
        celcat: CelcatClient,
        *,
        abbreviations: dict[Presence, str],
        timetable: int | None,
    ) -> None:
        self._caws = caws
        self._celcat = celcat
        self._abbreviations = abbreviations
        self._timetable = timetable
        self._marks: list[tuple[SessionId, Mark]] = []

    async def check(self) -> list[str]:
        definitions = mapping.mark_definitions(await self._caws.get(mapping.CAWS_MARK_DEFINITIONS))
        lines = [f"{len(definitions)} mark definitions"]
        defined = {a.strip().casefold() for _, a in definitions}
        shown = ", ".join(sorted({a for _, a in definitions})) or "none"
        # As _mark_ids matches them: ignoring case. A mark not defined fails every run.
        lines += [
            f"warning: marks.{presence.value}: abbreviation {abbreviation!r} is not a mark "
            f"defined in CELCAT (defined: {shown})"
            for presence, abbreviation in self._abbreviations.items()
            if abbreviation.strip().casefold() not in defined
        ]
        return lines

    async def write(self, record: Mark, ctx: RunContext) -> None:
        # A session the CELCAT source did not name (None) has no register.
        session = SessionId.parse(record.session)
        if session is not None and self._timetable in (None, session.timetable):
            # Sent register by register, once all are known.
            self._marks.append((session, record))

    async def finish(self, ctx: RunContext, end: StreamEnd) -> None:
        if not self._marks:
            return
        mark_ids = await self._mark_ids()
        sent = await ctx.state.load("mark")
        by_session: dict[SessionId, list[Mark]] = defaultdict(list)
        for session, mark in self._marks:
            if sent.get(mark.external_id, _NEVER).fingerprint != _fingerprint(mark):
                by_session[session].append(mark)
            else:
                ctx.report.count("mark", "unchanged")
        weeks = await self._weeks(ctx, set(by_session))
        registers = await self._registers(ctx, {(s.event, w) for s, w in weeks.items()})
        for session, marks in sorted(by_session.items(), key=lambda item: item[0].day):
            week = weeks.get(session)
            register = registers.get((session.event, week)) if week is not None else None
            # A register as read names no id: it is derived (docs/caws.md, "Register ids").
            rid = _register_id(session.event, week)
            if register is None or rid is None:
                ctx.report.fail(
                    "session",
                    CelcatReason.REGISTER_MISSING,
                    key=marks[0].session,
                    detail=f"no CAWS register for event {session.event} on {session.day}",
                )
                continue
            await self._update(ctx, rid, register, marks, mark_ids)

    async def _update(
        self,
        ctx: RunContext,
        rid: str,
        register: dict[str, Any],
        marks: list[Mark],
        mark_ids: dict[Presence, int],
    ) -> None:
        """Edit the register as read and send it back whole, with the changed marks
        flagged; every other field, known or not, goes back as the server gave it."""
        entries = mapping.student_marks(register)
        changed: list[Mark] = []
        for mark in marks:
            # Only a CELCAT student's id names a register's student: staff member 7, or
            # another source's student 7, is not student 7.
            student = StudentId.parse(mark.student)
            entry = None if student is None else entries.get(str(student.id))
            if entry is None:
                detail = "" if student is not None else f"not a CELCAT student: {mark.student}"
                ctx.report.skip(
                    "mark",
                    CelcatReason.STUDENT_NOT_ON_REGISTER,
                    key=mark.external_id,
                    detail=detail,
                )
                continue
            setter = mapping.someone_elses_mark(entry, self._caws.username)
            if setter is not None:
                ctx.report.skip(
                    "mark",
                    CelcatReason.MARK_KEPT,
                    key=mark.external_id,
                    detail=f"set in CELCAT by {setter}",
                )
                continue
            mapping.set_mark(
                entry,
                mark_ids[mark.presence],
                mark.minutes_late if mark.presence is Presence.LATE else 0,
            )
            changed.append(mark)
        if not changed:
            return
        if not ctx.dry_run:
            try:
                await self._caws.put(mapping.register_path(rid), register)
            except (CelcatError, TransientError, CawsNotFound) as exc:
                for mark in changed:
                    ctx.report.fail(
                        "mark", Reason.WRITE_REFUSED, key=mark.external_id, detail=str(exc)
                    )
                return
            for mark in changed:
                await ctx.state.save("mark", mark.external_id, Synced(rid, _fingerprint(mark)))
        ctx.report.count("mark", "updated", len(changed))

    async def _mark_ids(self) -> dict[Presence, int]:
        """The ``MarkId`` of each configured abbreviation: the definition spelt exactly so,
        else the one spelt so ignoring case. Two candidates are refused rather than picked
        by the order the server happens to list them in."""
        definitions = mapping.mark_definitions(await self._caws.get(mapping.CAWS_MARK_DEFINITIONS))
        found: dict[Presence, int] = {}
        for presence, abbreviation in self._abbreviations.items():
            exact = {m for m, a in definitions if a.strip() == abbreviation.strip()}
            loose = {m for m, a in definitions if a.strip().casefold() == abbreviation.casefold()}
            candidates = exact or loose
            if len(candidates) != 1:
                known = ", ".join(sorted({a for _, a in definitions}))
                problem = "is not among" if not candidates else "is ambiguous among"
                raise RunFailed(
                    SERVICE,
                    f"mark {abbreviation!r} (for {presence.value}) {problem} "
                    f"CELCAT's mark definitions ({known}): fix return_attendance.marks",
                )
            found[presence] = candidates.pop()
        return found

    async def _weeks(self, ctx: RunContext, sessions: set[SessionId]) -> dict[SessionId, int]:
        """CELCAT's week number of each session, from the day's events. Each call names
        the session's own timetable (``TimetableId``), which its id carries: the header
        is required on a server holding several, whatever the options say."""
        weeks: dict[SessionId, int] = {}
        for timetable, day in sorted({(s.timetable, s.day) for s in sessions}):
            params = {mapping.DATE: mapping.day_param(day), mapping.DETAIL: mapping.EXTENDED}
            try:
                rows = await self._celcat.rows(mapping.EVENTS, timetable=timetable, params=params)
            except (CelcatError, TransientError) as exc:
                ctx.report.fail(
                    "session",
                    Reason.SERVER_ERROR,
                    ids={"timetable": str(timetable), "date": day.isoformat()},
                    detail=str(exc),
                )
                continue
            for raw in rows:
                event = mapping.event_id_of(raw)
                week = mapping.occurrence_week(raw)
                if event is not None and week is not None:
                    weeks[SessionId(timetable, event, day)] = week
        return weeks

    async def _registers(
        self, ctx: RunContext, keys: set[tuple[int, int]]
    ) -> dict[tuple[int, int], dict[str, Any]]:
        """The registers of these (event, week) pairs, by pair, in whatever order and
        batches the server lists them; one it cannot place is as good as missing."""
        found: dict[tuple[int, int], dict[str, Any]] = {}
        ordered = sorted(keys)
        for start in range(0, len(ordered), REGISTERS_PER_CALL):
            batch = ordered[start : start + REGISTERS_PER_CALL]
            query = mapping.register_filter([e for e, _ in batch], [w for _, w in batch])
            try:
                rows = await self._caws.get(mapping.CAWS_REGISTERS, {mapping.CAWS_JSONPARAM: query})
            except CawsNotFound:
                continue  # a 404 on a list: none of them
            for register in rows if isinstance(rows, list) else []:
                key = mapping.register_key(register)
                if key is not None and key in keys:
                    found[key] = register
        return found


def _register_id(event: int, week: int | None) -> str | None:
    """The register id of (event, week); None when there is none (no week, or a week
    whose id would not fit two digits: no register can have it)."""
    try:
        return mapping.register_id(event, week) if week is not None else None
    except ValueError:
        return None


_NEVER = Synced("", "")


def _fingerprint(mark: Mark) -> str:
    return fingerprint([mark.presence.value, mark.minutes_late])
