"""Attendance back to CELCAT, through CAWS (CELCAT Attendance Web Services).

``CawsClient`` holds a password-grant token, renewed before it expires and once more on a
401. ``CawsSink`` is the return-attendance pipeline's sink: it collects the marks of the
run, then, register by register (one per event and week), sets the marks that changed:

- a mark already sent and unchanged is not sent again (the state store remembers it);
- a mark someone else set in CELCAT (a mark recorded under another user than the
  connector's CAWS user) is never overwritten (``mark_kept``);
- a session whose register cannot be found is reported (``register_missing``), not fatal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from adapters.celcat import mapping
from adapters.celcat.client import CelcatClient, CelcatError
from core import (
    CredentialsRefused,
    Mark,
    Presence,
    Reason,
    RunContext,
    RunFailed,
    Synced,
    TransientError,
)
from core.fingerprint import fingerprint
from core.http import RetryPolicy, Sleep, retrying

SERVICE = "CAWS"
REGISTERS_PER_CALL = 50
RENEW_BEFORE_SECONDS = 60.0


class CawsClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        tenant: str,
        form: dict[str, str],
        retry: RetryPolicy,
        sleep: Sleep,
        clock: Callable[[], float],
    ) -> None:
        self._http = http
        self._tenant = tenant
        self._form = form
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0

    @property
    def username(self) -> str:
        return self._form["username"]

    async def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return await self._call("GET", path, params=params)

    async def put(self, path: str, body: Any) -> Any:
        return await self._call("PUT", path, json=body)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        async def attempt() -> Any:
            response = await self._send(method, path, await self._bearer(), **kwargs)
            if response.status_code == httpx.codes.UNAUTHORIZED:
                # Expired early, or revoked: one new token, then the server's answer stands.
                self._token = None
                response = await self._send(method, path, await self._bearer(), **kwargs)
                if response.status_code == httpx.codes.UNAUTHORIZED:
                    raise CredentialsRefused(SERVICE, self._refusal("refused a new token"))
            if response.status_code == httpx.codes.NOT_FOUND:
                raise CawsNotFound(f"{method} {path}")
            _raise_for(method, path, response)
            return response.json() if response.content else None

        return await retrying(attempt, self._retry, sleep=self._sleep)

    async def _bearer(self) -> str:
        if self._token is None or self._clock() >= self._expires - RENEW_BEFORE_SECONDS:
            response = await self._send("POST", mapping.CAWS_TOKEN, None, data=self._form)
            if response.status_code in (400, 401, 403):
                raise CredentialsRefused(SERVICE, self._refusal(f"HTTP {response.status_code}"))
            _raise_for("POST", mapping.CAWS_TOKEN, response)
            answer = response.json()
            self._token = str(answer["access_token"])
            self._expires = self._clock() + float(answer.get("expires_in") or 3600)  # [assumed]
        return self._token

    async def _send(
        self, method: str, path: str, token: str | None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            return await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise TransientError(f"{method} {path}: timed out") from None
        except httpx.TransportError as exc:
            raise TransientError(f"{method} {path}: {type(exc).__name__}") from None

    def _refusal(self, why: str) -> str:
        return f"CAWS refused the credentials of tenant {self._tenant!r} ({why})"


class CawsNotFound(Exception):
    """No such register."""


def _raise_for(method: str, path: str, response: httpx.Response) -> None:
    status = response.status_code
    if status == httpx.codes.TOO_MANY_REQUESTS or status >= 500:
        raise TransientError(f"{method} {path}: HTTP {status}")
    if status >= 400:
        raise CelcatError(f"{method} {path}: HTTP {status}: {response.text[:200]}")


@dataclass(frozen=True, slots=True)
class Occurrence:
    timetable: int
    event: int
    day: date


def occurrence_of(session: str) -> Occurrence | None:
    """(timetable, event, day) from a CELCAT session's external id, ``celcat:3:5120:2025-10-21``."""
    parts = session.split(":")
    if len(parts) != 4 or parts[0] != "celcat" or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return Occurrence(int(parts[1]), int(parts[2]), date.fromisoformat(parts[3]))


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
        self._marks: list[Mark] = []

    async def check(self) -> list[str]:
        definitions = await self._caws.get(mapping.CAWS_MARK_DEFINITIONS)
        return [f"{len(definitions)} mark definitions"]

    async def write(self, record: Mark, ctx: RunContext) -> None:
        occurrence = occurrence_of(record.session)
        if occurrence is not None and self._timetable in (None, occurrence.timetable):
            self._marks.append(record)  # sent register by register, once all are known

    async def finish(self, ctx: RunContext, *, complete: bool) -> None:
        if not self._marks:
            return
        mark_ids = await self._mark_ids()
        sent = await ctx.state.load("mark")
        by_occurrence: dict[Occurrence, list[Mark]] = defaultdict(list)
        for mark in self._marks:
            occurrence = occurrence_of(mark.session)
            if occurrence is not None and sent.get(mark.external_id, _NEVER).fingerprint != (
                _fingerprint(mark)
            ):
                by_occurrence[occurrence].append(mark)
            elif occurrence is not None:
                ctx.report.count("mark", "unchanged")
        weeks = await self._weeks(ctx, set(by_occurrence))
        registers = await self._registers(ctx, {(o.event, w) for o, w in weeks.items()})
        for occurrence, marks in sorted(by_occurrence.items(), key=lambda item: item[0].day):
            week = weeks.get(occurrence)
            register = registers.get((occurrence.event, week)) if week is not None else None
            if register is None:
                ctx.report.fail(
                    "session",
                    "register_missing",
                    key=marks[0].session,
                    detail=f"no CAWS register for event {occurrence.event} on {occurrence.day}",
                )
                continue
            await self._update(ctx, register, marks, mark_ids)

    async def _update(
        self,
        ctx: RunContext,
        register: dict[str, Any],
        marks: list[Mark],
        mark_ids: dict[Presence, int],
    ) -> None:
        entries = {
            str(e.get("StudentId")): e
            for e in register.get(mapping.CAWS_STUDENT_MARKS) or []
            if isinstance(e, dict)
        }
        changed: list[Mark] = []
        for mark in marks:
            entry = entries.get(mark.student.rsplit(":", 1)[-1])
            if entry is None:
                ctx.report.skip("mark", "student_not_on_register", key=mark.external_id)
                continue
            setter = mapping.mark_setter(entry)
            if setter is not None and setter.casefold() != self._caws.username.casefold():
                ctx.report.skip(
                    "mark",
                    Reason.MARK_KEPT,
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
                await self._caws.put(mapping.register_path(str(register["Id"])), register)
            except (CelcatError, TransientError, CawsNotFound) as exc:
                for mark in changed:
                    ctx.report.fail(
                        "mark", Reason.WRITE_REFUSED, key=mark.external_id, detail=str(exc)
                    )
                return
            for mark in changed:
                await ctx.state.save(
                    "mark", mark.external_id, Synced(str(register["Id"]), _fingerprint(mark))
                )
        ctx.report.count("mark", "updated", len(changed))

    async def _mark_ids(self) -> dict[Presence, int]:
        definitions = await self._caws.get(mapping.CAWS_MARK_DEFINITIONS)
        by_abbreviation = {
            str(d.get("Abbreviation")).casefold(): int(d["MarkId"])
            for d in definitions
            if isinstance(d, dict) and "MarkId" in d
        }
        found: dict[Presence, int] = {}
        for presence, abbreviation in self._abbreviations.items():
            if abbreviation.casefold() not in by_abbreviation:
                known = ", ".join(sorted(by_abbreviation))
                raise RunFailed(
                    SERVICE,
                    f"mark {abbreviation!r} (for {presence.value}) is not "
                    f"among CELCAT's mark definitions ({known}): fix "
                    "return_attendance.marks",
                )
            found[presence] = by_abbreviation[abbreviation.casefold()]
        return found

    async def _weeks(self, ctx: RunContext, occurrences: set[Occurrence]) -> dict[Occurrence, int]:
        """CELCAT's week number of each occurrence, from the day's events."""
        weeks: dict[Occurrence, int] = {}
        for timetable, day in sorted({(o.timetable, o.day) for o in occurrences}):
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
                    weeks[Occurrence(timetable, event, day)] = week
        return weeks

    async def _registers(
        self, ctx: RunContext, keys: set[tuple[int, int]]
    ) -> dict[tuple[int, int], dict[str, Any]]:
        found: dict[tuple[int, int], dict[str, Any]] = {}
        ordered = sorted(keys)
        for start in range(0, len(ordered), REGISTERS_PER_CALL):
            batch = ordered[start : start + REGISTERS_PER_CALL]
            query = mapping.register_filter([e for e, _ in batch], [w for _, w in batch])
            try:
                rows = await self._caws.get(mapping.CAWS_REGISTERS, {mapping.CAWS_JSONPARAM: query})
            except CawsNotFound:
                continue
            for register in rows or []:
                found[mapping.register_key(register)] = register
        return found


_NEVER = Synced("", "")


def _fingerprint(mark: Mark) -> str:
    return fingerprint([mark.presence.value, mark.minutes_late])
