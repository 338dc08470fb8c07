"""Attendance back to CELCAT, through CAWS (CELCAT Attendance Web Services).

``CawsClient`` holds a password-grant token, renewed before it expires and once more on a
401. ``CawsSink`` is the return-attendance pipeline's sink: it collects the marks of the
run, then, register by register (one per event and week), sets the marks that changed:

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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from adapters.celcat import mapping
from adapters.celcat.client import CelcatClient, CelcatError
from adapters.celcat.reasons import CelcatReason
from core import (
    CredentialsRefused,
    Mark,
    Presence,
    Reason,
    RunContext,
    RunFailed,
    StreamEnd,
    Synced,
    TransientError,
)
from core.fingerprint import fingerprint
from core.http import (
    AnswerRefused,
    RetryPolicy,
    Sleep,
    parse_json,
    retry_after,
    retrying,
    transient,
)

SERVICE = "CAWS"
REGISTERS_PER_CALL = 50
RENEW_BEFORE_SECONDS = 60.0


class CawsClient:
    """CAWS calls with a bearer token. What the answers mean is decided here, from the
    statuses ``mapping`` names (docs/caws.md says which are seen, which assumed); no
    error text is ever read for its meaning (CAWS documents none): it is only quoted."""

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
        """The decoded JSON answer of a GET."""

        async def attempt() -> Any:
            response = await self._authorized("GET", path, params=params)
            try:
                return parse_json(response.content)
            except AnswerRefused as exc:
                raise RunFailed(SERVICE, f"GET {path}: {exc}") from None
            except ValueError:
                # A body cut short or not JSON at all: a proxy, a restart; try again.
                raise TransientError(f"GET {path}: the body is not JSON") from None

        return await retrying(attempt, self._retry, sleep=self._sleep)

    async def put(self, path: str, body: Any) -> None:
        """A PUT whose answer's body, if any, is not read: the contract describes none."""

        async def attempt() -> None:
            await self._authorized("PUT", path, json=body)

        await retrying(attempt, self._retry, sleep=self._sleep)

    async def _authorized(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call with the token; raises unless it succeeded."""
        response = await self._send(method, path, mapping.bearer(await self._bearer()), **kwargs)
        if response.status_code == mapping.CAWS_UNAUTHORIZED:
            # Expired early, revoked, or a lifetime we had to guess: one new token, then
            # the server's answer stands.
            self._token = None
            response = await self._send(
                method, path, mapping.bearer(await self._bearer()), **kwargs
            )
            if response.status_code == mapping.CAWS_UNAUTHORIZED:
                raise CredentialsRefused(SERVICE, self._refusal("refused a new token"))
        if response.status_code == mapping.CAWS_NOT_FOUND:
            raise CawsNotFound(f"{method} {path}")
        _raise_for(method, path, response)
        return response

    async def _bearer(self) -> str:
        if self._token is None or self._clock() >= self._expires - RENEW_BEFORE_SECONDS:
            response = await self._send("POST", mapping.CAWS_TOKEN, {}, data=self._form)
            if response.status_code in mapping.CAWS_TOKEN_REFUSED:
                raise CredentialsRefused(SERVICE, self._refusal(f"HTTP {response.status_code}"))
            _raise_for("POST", mapping.CAWS_TOKEN, response)
            try:
                answer = parse_json(response.content)
            except AnswerRefused as exc:
                raise RunFailed(SERVICE, f"POST {mapping.CAWS_TOKEN}: {exc}") from None
            except ValueError:
                raise TransientError(f"POST {mapping.CAWS_TOKEN}: the body is not JSON") from None
            token = mapping.access_token(answer)
            if token is None:
                raise CelcatError(f"POST {mapping.CAWS_TOKEN}: the answer holds no access token")
            self._token = token
            self._expires = self._clock() + mapping.token_lifetime(answer)
        return self._token

    async def _send(
        self, method: str, path: str, headers: dict[str, str], **kwargs: Any
    ) -> httpx.Response:
        try:
            return await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise transient(f"{method} {path}", exc) from None
        except AnswerRefused as exc:
            # Too large an answer: no retry would mend it, and no mark can be trusted.
            raise RunFailed(SERVICE, f"{method} {path}: {exc}") from None

    def _refusal(self, why: str) -> str:
        return f"CAWS refused the credentials of tenant {self._tenant!r} ({why})"


class CawsNotFound(Exception):
    """No such register."""


def _raise_for(method: str, path: str, response: httpx.Response) -> None:
    status = response.status_code
    if status == httpx.codes.TOO_MANY_REQUESTS or status >= 500:
        raise TransientError(
            f"{method} {path}: HTTP {status}",
            retry_after=retry_after(response.headers.get("Retry-After")),
        )
    if status >= 400:
        # The body is quoted for a person, never matched: CAWS documents no error text.
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
        occurrence = occurrence_of(record.session)
        if occurrence is not None and self._timetable in (None, occurrence.timetable):
            self._marks.append(record)  # sent register by register, once all are known

    async def finish(self, ctx: RunContext, end: StreamEnd) -> None:
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
            # A register as read names no id: it is derived (docs/caws.md, "Register ids").
            rid = _register_id(occurrence.event, week)
            if register is None or rid is None:
                ctx.report.fail(
                    "session",
                    CelcatReason.REGISTER_MISSING,
                    key=marks[0].session,
                    detail=f"no CAWS register for event {occurrence.event} on {occurrence.day}",
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
            entry = entries.get(mark.student.rsplit(":", 1)[-1])
            if entry is None:
                ctx.report.skip("mark", CelcatReason.STUDENT_NOT_ON_REGISTER, key=mark.external_id)
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

    async def _weeks(self, ctx: RunContext, occurrences: set[Occurrence]) -> dict[Occurrence, int]:
        """CELCAT's week number of each occurrence, from the day's events. Each call names
        the occurrence's own timetable (``TimetableId``), which its session id carries:
        the header is required on a server holding several, whatever the options say."""
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
