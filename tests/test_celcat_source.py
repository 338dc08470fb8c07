"""The CELCAT source against the CELCAT sandbox: every path of the client, the rules'
reasons on a generated institution, faults, time zones, and the number of calls."""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from adapters.celcat import mapping
from adapters.celcat.client import CelcatClient, CelcatError
from adapters.celcat.ids import SessionId
from adapters.celcat.plugin import CelcatOptions, open_source
from adapters.celcat.sandbox import (
    CelcatSandbox,
    Fault,
    Institution,
    generate_institution,
    serve_app,
)
from core.errors import CredentialsRefused, RunFailed, ServerUnreachable
from core.http import RetryPolicy
from core.models import Person, Session
from core.protocols import Pipeline, Seams, Setup
from core.sandbox.quirks import Quirks
from core.state import StateStore
from core.stream import run_pipeline
from core.timetable import session_rules
from tests.doubles import PARIS, MemorySink, context
from tests.test_http import FakeSleep

pytestmark = pytest.mark.anyio

CODE = "celcat-code-4242"


def institution(**kwargs: Any) -> Institution:
    # Generated over exactly the window, so that every planted record is in it.
    sizes: dict[str, Any] = {
        "seed": 7,
        "start": date(2025, 10, 21),
        "days": 14,
        "students": 150,
        "staff": 20,
        "groups": 8,
        "timetables": 2,
    }
    return generate_institution(**{**sizes, **kwargs})


def options(**kwargs: Any) -> CelcatOptions:
    return CelcatOptions.model_validate(
        {"url": "http://celcat", "api_code": CODE, "page_size": 40, **kwargs}
    )


class Run:
    def __init__(self, sandbox: CelcatSandbox, **option_values: Any) -> None:
        self.sandbox = sandbox
        self.options = options(**option_values)
        self.meter: Counter[str] = Counter()
        self.sleep = FakeSleep()

    def count(self, service: str) -> None:
        self.meter[service] += 1

    @asynccontextmanager
    async def source(self, transport: httpx.AsyncBaseTransport | None = None) -> AsyncIterator[Any]:
        seams = Seams(
            transports={"celcat": transport or httpx.ASGITransport(self.sandbox.app)},
            sleep=self.sleep,
        )
        async with open_source(Setup("acme", PARIS, self.options, self.count, seams=seams)) as src:
            yield src

    async def sync(self, store: StateStore) -> tuple[list[Session], Any]:
        """The source through the core's rules into a memory sink, as a timetable run."""
        ctx = context(store)
        sink = MemorySink()
        async with self.source() as source:
            await run_pipeline(Pipeline(source, sink, session_rules(self.options)), ctx)
        return [r for r in sink.written if isinstance(r, Session)], ctx.report


def in_window(keys: set[str]) -> set[str]:
    """Planted occurrence keys ("tt:ev:date") in the window, as session external ids."""
    found = set()
    for key in keys:
        parts = key.split(":")
        if len(parts) == 3 and parts[0].isdigit():
            day = date.fromisoformat(parts[2])
            if date(2025, 10, 21) <= day <= date(2025, 11, 3):
                found.add(f"celcat:{key}")
    return found


async def test_a_generated_institution_comes_down_with_every_reason(
    memory_store: StateStore,
) -> None:
    inst = institution()
    run = Run(
        CelcatSandbox(inst, api_code=CODE), event_category_names_excluded=["Réunion", "examen"]
    )
    sessions, report = await run.sync(memory_store)

    assert sessions, "the valid sessions come down"
    keys_by_reason: dict[str, set[str]] = {}
    for event in report.report.events:
        keys_by_reason.setdefault(event.reason, set()).add(event.key)
    for reason in (
        "no_instructor",
        "invalid_instructor",
        "duplicate_instructor_email",
        "no_valid_student",
        "event_suspended",
    ):
        planted = in_window(inst.planted[reason])
        assert planted, f"the generator plants {reason} in the window"
        assert planted <= keys_by_reason[reason], reason
    for category in ("Réunion", "Examen"):
        assert (
            in_window(inst.planted[f"category:{category}"]) <= keys_by_reason["category_filtered"]
        )
    planted_students = {
        f"celcat:{k}" for k in inst.planted["invalid_student"] if k.startswith("student:")
    }
    assert planted_students <= keys_by_reason["invalid_student"]
    dup_staff = {
        f"celcat:{k}" for k in inst.planted["duplicate_instructor_email"] if k.startswith("staff:")
    }
    assert dup_staff <= keys_by_reason["duplicate_instructor_email"]
    assert report.report.outcome is None
    assert report.complete
    assert not [e for e in report.report.events if e.status == "failed"]

    reported = {e.key for e in report.report.events if e.kind == "session"}
    for session in sessions:
        assert session.external_id not in reported
        assert session.start.tzinfo is PARIS
        assert session.end > session.start
        assert session.instructors
        assert session.students
        named = SessionId.parse(session.external_id)
        assert named is not None, session.external_id
        assert session.source_ids == {"timetable": str(named.timetable), "event": str(named.event)}
        assert named.day == session.start.date()


async def test_malformed_records_are_reported_and_skipped(memory_store: StateStore) -> None:
    inst = institution()
    sessions, report = await Run(CelcatSandbox(inst, api_code=CODE)).sync(memory_store)
    malformed = {e.key for e in report.report.events if e.reason == "malformed_record"}
    planted = inst.planted["malformed_record"]
    # Unknown students and rooms cost only themselves; everything else costs the session.
    for key in in_window(planted):
        detail = inst.planted_detail[key.removeprefix("celcat:")]
        if "unknown student" in detail or "unknown room" in detail:
            assert key in {s.external_id for s in sessions}, detail
        else:
            assert key in malformed, detail
    assert "celcat:student:90001" in malformed
    assert "celcat:room:90001" in malformed
    assert all(s.name and isinstance(s.name, str) for s in sessions)


async def test_directory_is_read_across_many_pages_once(memory_store: StateStore) -> None:
    inst = institution()
    # Plain pages of exactly the size asked: this test counts pages (the quirky paging is
    # tests/contract's).
    run = Run(CelcatSandbox(inst, api_code=CODE, quirks=Quirks(None)), page_size=10)
    ctx = context(memory_store)
    async with run.source() as source:
        people = [r async for r in source.read(ctx) if isinstance(r, Person)]
    students = [p for p in people if p.kind == "student"]
    assert len(students) == len(inst.students) == 150
    assert len({p.external_id for p in students}) == 150
    assert run.sandbox.calls["GET /api/students"] == 15  # 150 rows, 10 a page
    mobile = [p for p in students if p.phone]
    assert mobile
    assert all(p.phone and p.phone.startswith("+33") for p in mobile)


async def test_only_the_configured_timetables_are_read(memory_store: StateStore) -> None:
    inst = institution()
    run = Run(CelcatSandbox(inst, api_code=CODE), timetable_ids=[2, 9])
    sessions, report = await run.sync(memory_store)
    assert {s.source_ids["timetable"] for s in sessions} == {"2"}
    headers = {
        r.headers.get("timetableid")
        for r in run.sandbox.requests
        if r.path.startswith("/api/events")
    }
    assert headers == {"2"}
    (missing,) = [e for e in report.report.events if e.reason == "unknown_timetable"]
    assert missing.ids == {"timetable": "9"}
    assert not report.complete, "sessions of a vanished timetable must not be deleted"


async def test_every_call_but_the_timetable_list_names_a_listed_timetable(
    memory_store: StateStore,
) -> None:
    """docs/celcat-webapi.md, Transport: with several timetables, ``TimetableId`` is
    required on every call but ``GET /api/timetables``, the reference lists included."""
    inst = institution()
    assert len(inst.timetables) == 2
    run = Run(CelcatSandbox(inst, api_code=CODE))
    sessions, report = await run.sync(memory_store)
    assert sessions
    assert report.complete
    assert not [e for e in report.report.events if e.status == "failed"]
    for path in ("/api/staff", "/api/students", "/api/rooms", "/api/groups"):
        assert run.sandbox.calls[f"GET {path}"] >= 1, path
    for request in run.sandbox.requests:
        if request.path.lower() == "/api/timetables":
            continue
        assert request.headers.get("timetableid") in {"1", "2"}, request.path
    reference = {
        r.headers["timetableid"]
        for r in run.sandbox.requests
        if r.path in ("/api/staff", "/api/students", "/api/event-categories")
    }
    assert reference == {"1"}, "the lowest listed id, whatever the listing order"


async def test_reference_lists_are_read_with_the_first_configured_listed_timetable(
    memory_store: StateStore,
) -> None:
    run = Run(CelcatSandbox(institution(), api_code=CODE), timetable_ids=[9, 2])
    await run.sync(memory_store)
    staff = {r.headers.get("timetableid") for r in run.sandbox.requests if r.path == "/api/staff"}
    assert staff == {"2"}, "9 is configured first, but CELCAT does not list it"


async def test_check_names_a_timetable_on_every_call_but_the_timetable_list() -> None:
    run = Run(CelcatSandbox(institution(), api_code=CODE))
    async with run.source() as source:
        lines = await source.check()
    assert lines[:2] == [
        "timetable 1: Timetable 2025-2026",
        "timetable 2: Timetable 2025-2026 Alternance",
    ]
    categories = [r for r in run.sandbox.requests if r.path == "/api/event-categories"]
    assert categories
    assert {r.headers.get("timetableid") for r in categories} == {"1"}


@pytest.mark.parametrize("configured", [[], [8, 9]])
async def test_no_usable_timetable_fails_the_run_instead_of_reading_nothing(
    memory_store: StateStore, configured: list[int]
) -> None:
    """A run that reads no timetable must not look complete: it would delete every sheet."""
    inst = institution()
    if not configured:
        inst.timetables.clear()
    run = Run(CelcatSandbox(inst, api_code=CODE), timetable_ids=configured)
    with pytest.raises(RunFailed, match="timetable") as failed:
        await run.sync(memory_store)
    assert failed.value.service == "CELCAT"
    assert run.sandbox.calls["GET /api/staff"] == 0, "nothing else is read"
    async with run.source() as source:
        with pytest.raises(RunFailed, match="timetable"):
            await source.check()


class CappedPages(httpx.AsyncBaseTransport):
    """A server that serves at most ``cap`` rows a page whatever ``pageSize`` asks, and
    sends no ``Pagination`` header: both legal, the contract promises neither."""

    def __init__(self, rows: list[dict[str, Any]], cap: int) -> None:
        self.rows, self.cap, self.pages = rows, cap, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.pages += 1
        page = int(request.url.params["page"])
        return httpx.Response(200, json=self.rows[page * self.cap : (page + 1) * self.cap])


async def test_a_short_page_without_pagination_header_is_not_the_end() -> None:
    rows = [{"id": i, "name": f"Salle {i}"} for i in range(100)]
    server = CappedPages(rows, cap=7)
    async with httpx.AsyncClient(transport=server, base_url="http://celcat") as http:
        client = CelcatClient(
            http, tenant="acme", retry=RetryPolicy(retries=0), page_size=40, sleep=FakeSleep()
        )
        read = await client.rows("/api/rooms", timetable=1)
    assert read == rows
    assert server.pages == 16, "15 pages of rows, then the empty page that ends the list"


async def test_a_server_that_never_ends_a_list_is_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import adapters.celcat.client as celcat_client

    monkeypatch.setattr(celcat_client, "MAX_PAGES", 5)
    server = CappedPages([{"id": i} for i in range(1000)], cap=7)
    async with httpx.AsyncClient(transport=server, base_url="http://celcat") as http:
        client = CelcatClient(
            http, tenant="acme", retry=RetryPolicy(retries=0), page_size=40, sleep=FakeSleep()
        )
        with pytest.raises(CelcatError, match="pages"):
            await client.rows("/api/rooms", timetable=1)
    assert server.pages == 5


async def read_all(run: Run, store: StateStore, transport: httpx.AsyncBaseTransport) -> Any:
    ctx = context(store)
    async with run.source(transport) as source:
        records = [r async for r in source.read(ctx)]
    return records, ctx.report


async def test_a_sheet_does_not_change_with_the_order_of_its_assignments(
    memory_store: StateStore,
) -> None:
    """docs/celcat-webapi.md, "What the code does not rely on": order. The same event
    listed with its staff, students and rooms in another order is the same session."""
    inst = institution()
    valid = [s for s in inst.students if not inst.planted_detail.get(f"student:{s}")]
    planted = set().union(*inst.planted.values())
    staff = [s for s in inst.staff if f"staff:{s}" not in planted][:2]
    event = inst.add_event(
        1,
        name="Droit civil",
        category_id=next(iter(inst.categories)),
        dates={date(2025, 10, 27)},
        start=time(9, 0),
        end=time(10, 30),
        staff=staff,
        students=valid[:3],
        rooms=sorted(inst.rooms)[:2],
    )
    # Plain answers, the lists in the order the institution holds them: this test
    # chooses the order itself.
    sandbox = CelcatSandbox(inst, api_code=CODE, quirks=Quirks(None))
    sessions = []
    for _ in range(2):
        records, _report = await read_all(
            Run(sandbox), memory_store, httpx.ASGITransport(sandbox.app)
        )
        sessions.append(next(r for r in records if r.external_id == f"celcat:1:{event}:2025-10-27"))
        held = inst.event(1, event)
        held.staff.reverse()
        held.students.reverse()
        held.rooms.reverse()
    assert len(sessions[0].instructors) == 2
    assert len(sessions[0].rooms) == 2
    assert sessions[0] == sessions[1]


class ListedTwice(httpx.AsyncBaseTransport):
    """The sandbox, except that the first page of ``/api/staff`` lists its first member
    twice: once as ``copy`` changes it, before or after the original."""

    def __init__(self, sandbox: CelcatSandbox, copy: dict[str, Any], before: bool) -> None:
        self._inner = httpx.ASGITransport(sandbox.app)
        self._copy, self._before = copy, before

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.url.path != "/api/staff" or request.url.params.get("page") != "0":
            return response
        await response.aread()
        rows = response.json()
        twin = {**rows[0], **self._copy}
        rows = [twin, *rows] if self._before else [*rows, twin]
        return httpx.Response(
            200, json=rows, headers={"Pagination": response.headers["Pagination"]}
        )


@pytest.mark.parametrize("before", [True, False])
async def test_a_person_listed_twice_differently_is_not_guessed(
    memory_store: StateStore, before: bool
) -> None:
    """docs/celcat-webapi.md, "What the code does not rely on": keeping "the first" of two
    different records would keep whichever the server lists first."""
    inst = institution()
    sandbox = CelcatSandbox(inst, api_code=CODE, quirks=Quirks(None))
    first = min(inst.staff)
    renamed = ListedTwice(sandbox, {"name": "AUTRE, Personne"}, before)
    records, report = await read_all(Run(sandbox), memory_store, renamed)
    staff = {r.source_id for r in records if isinstance(r, Person) and r.kind == "instructor"}
    assert str(first) not in staff
    assert len(staff) == len(inst.staff) - 1
    (twice,) = [e for e in report.report.events if "listed 2 times" in e.detail]
    assert twice.reason == "malformed_record"

    same = ListedTwice(sandbox, {}, before)
    records, report = await read_all(Run(sandbox), memory_store, same)
    staff = {r.source_id for r in records if isinstance(r, Person) and r.kind == "instructor"}
    assert str(first) in staff, "an identical copy is the same record"
    assert not [e for e in report.report.events if "listed 2 times" in e.detail]


@pytest.mark.parametrize(
    ("value", "suspended"),
    [(True, True), (False, False), ("true", True), ("False", False), (None, False)],
)
def test_suspended_reads_a_boolean_or_its_string(value: Any, suspended: bool) -> None:
    """docs/celcat-webapi.md, "Events": ``suspended`` is a boolean; the API spells booleans
    as strings in queries, so "true" is read as true rather than as "not suspended"."""
    record = {
        "id": 1, "name": "Cours", "start": "2025-10-22T09:00:00", "end": "2025-10-22T10:00:00",
        "suspended": value,
    }  # fmt: skip
    assert mapping.parse_occurrence(record, PARIS).suspended is suspended


@pytest.mark.parametrize("value", ["yes", 1, [], {}])
def test_a_suspended_that_is_not_a_boolean_is_malformed(value: Any) -> None:
    record = {
        "id": 1, "name": "Cours", "start": "2025-10-22T09:00:00", "end": "2025-10-22T10:00:00",
        "suspended": value,
    }  # fmt: skip
    with pytest.raises(mapping.Malformed, match="suspended"):
        mapping.parse_occurrence(record, PARIS)


async def test_a_wrong_api_code_is_refused_at_once(memory_store: StateStore) -> None:
    run = Run(CelcatSandbox(institution(), api_code="another-code"))
    with pytest.raises(CredentialsRefused) as refused:
        await run.sync(memory_store)
    assert str(refused.value) == ("CELCAT: CELCAT refused the ApiCode of tenant 'acme' (HTTP 401)")
    assert CODE not in str(refused.value)
    assert sum(run.sandbox.calls.values()) == 1, "a 401 is never retried"


async def test_transient_faults_are_retried_honouring_retry_after(memory_store: StateStore) -> None:
    sandbox = CelcatSandbox(institution(), api_code=CODE)
    sandbox.faults += [
        Fault(path="^/api/students$", status=503, times=2),
        Fault(path="^/api/staff$", status=429, retry_after=7, times=1),
        Fault(path="^/api/rooms$", body="truncated", times=1),
        Fault(path="^/api/groups$", body="garbage", times=1),
        Fault(path="^/api/events$", status=500, rate=0.2, seed=3),
    ]
    clean_run = Run(CelcatSandbox(institution(), api_code=CODE))
    clean, _ = await clean_run.sync(memory_store)
    run = Run(sandbox)
    sessions, report = await run.sync(memory_store)
    assert [s.external_id for s in sessions] == [s.external_id for s in clean]
    assert 7.0 in run.sleep.waits
    assert report.complete
    assert all(f.fired for f in sandbox.faults)


class FailingWhere(httpx.AsyncBaseTransport):
    """The sandbox, except that requests matching ``path`` and ``params`` answer 500."""

    def __init__(self, sandbox: CelcatSandbox, path: str, **params: str) -> None:
        self._inner = httpx.ASGITransport(sandbox.app)
        self._path, self._params = path, params

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        query = request.url.params
        if request.url.path == self._path and all(
            query.get(k) == v for k, v in self._params.items()
        ):
            return httpx.Response(500, text="Internal Server Error")
        return await self._inner.handle_async_request(request)


async def sync_through(
    run: Run, transport: httpx.AsyncBaseTransport, store: StateStore
) -> tuple[list[Session], MemorySink, Any]:
    ctx = context(store)
    sink = MemorySink()
    async with run.source(transport) as source:
        await run_pipeline(Pipeline(source, sink, session_rules(run.options)), ctx)
    return [r for r in sink.written if isinstance(r, Session)], sink, ctx.report


async def test_an_event_that_keeps_failing_costs_its_sessions_only(
    memory_store: StateStore,
) -> None:
    inst = institution()
    clean, _ = await Run(CelcatSandbox(inst, api_code=CODE)).sync(memory_store)
    victim = clean[0]
    run = Run(CelcatSandbox(inst, api_code=CODE), retries=2)
    failing = FailingWhere(
        run.sandbox, "/api/staff-assignments", eventId=victim.source_ids["event"]
    )
    sessions, _, report = await sync_through(run, failing, memory_store)
    lost = {s.external_id for s in clean if s.source_ids == victim.source_ids}
    failed = {e.key for e in report.report.events if e.status == "failed"}
    # The same event id in the other timetable fails too: the fault ignores TimetableId.
    assert lost <= failed
    assert {e.reason for e in report.report.events if e.status == "failed"} == {"server_error"}
    assert {s.external_id for s in sessions} == {s.external_id for s in clean} - failed
    assert report.complete, "the failures are named: other deletions may go on"
    assert len(run.sleep.waits) >= 2, "retried before giving up"


async def test_a_day_that_keeps_failing_makes_the_run_incomplete(memory_store: StateStore) -> None:
    run = Run(CelcatSandbox(institution(), api_code=CODE), retries=1)
    failing = FailingWhere(run.sandbox, "/api/events", date="2025-10-22")
    sessions, sink, report = await sync_through(run, failing, memory_store)
    failed = [e for e in report.report.events if e.status == "failed"]
    assert {(e.reason, e.key, e.ids["date"]) for e in failed} == {
        ("server_error", None, "2025-10-22")
    }
    assert len(failed) == 2, "one per timetable"
    assert not report.complete
    assert sink.finished == [False]
    assert any(s.start.date() == date(2025, 10, 23) for s in sessions), "other days come down"


async def test_reference_data_that_cannot_be_read_fails_the_run(memory_store: StateStore) -> None:
    sandbox = CelcatSandbox(institution(), api_code=CODE)
    sandbox.faults.append(Fault(path="^/api/students$", status=502))
    run = Run(sandbox, retries=3)
    with pytest.raises(ServerUnreachable, match="HTTP 502"):
        await run.sync(memory_store)
    assert sandbox.calls["GET /api/students"] == 4
    assert len(run.sleep.waits) == 3


@pytest.mark.slow  # real timeouts on a real port
async def test_timeouts_on_a_real_port_are_retried(memory_store: StateStore) -> None:
    # Plain pages: this test counts the rooms calls (one timed out, one answered).
    sandbox = CelcatSandbox(institution(), api_code=CODE, quirks=Quirks(None))
    sandbox.faults.append(Fault(path="^/api/rooms$", delay=5.0, times=1))
    async with serve_app(sandbox.app) as url:
        run = Run(sandbox, url=url, timeout_seconds=0.3)
        ctx = context(memory_store)
        seams = Seams(sleep=run.sleep)  # no transport: the network, to the port
        async with open_source(Setup("acme", PARIS, run.options, run.count, seams=seams)) as source:
            records = [r async for r in source.read(ctx)]
    assert sandbox.calls["GET /api/rooms"] == 2
    assert any(isinstance(r, Session) and r.rooms for r in records)
    assert run.meter["celcat"] == sum(sandbox.calls.values())


async def test_wall_clock_times_survive_the_dst_change(memory_store: StateStore) -> None:
    """Paris leaves summer time on 2025-10-26: a 09:00 course stays at 09:00."""
    inst = institution()
    staff = next(iter(inst.staff))
    students = [s for s in inst.students if not inst.planted_detail.get(f"student:{s}")][:3]
    event = inst.add_event(
        1,
        name="Droit civil",
        category_id=next(iter(inst.categories)),
        dates={date(2025, 10, 24), date(2025, 10, 27)},
        start=time(9, 0),
        end=time(10, 30),
        staff=[staff],
        students=students,
    )
    sessions, _ = await Run(CelcatSandbox(inst, api_code=CODE)).sync(memory_store)
    mine = sorted(
        (s for s in sessions if s.external_id.startswith(f"celcat:1:{event}:")),
        key=lambda s: s.start,
    )
    assert [(s.start.hour, s.start.minute, s.end.hour, s.end.minute) for s in mine] == [
        (9, 0, 10, 30),
        (9, 0, 10, 30),
    ]
    assert [s.start.utcoffset() for s in mine] == [
        datetime(2025, 10, 24, 9, tzinfo=PARIS).utcoffset(),
        datetime(2025, 10, 27, 9, tzinfo=PARIS).utcoffset(),
    ]
    assert [s.start.isoformat() for s in mine] == [
        "2025-10-24T09:00:00+02:00",
        "2025-10-27T09:00:00+01:00",
    ]


async def test_check_lists_timetables_and_categories() -> None:
    run = Run(CelcatSandbox(institution(), api_code=CODE))
    async with run.source() as source:
        lines = await source.check()
    assert lines[0].startswith("timetable 1: ")
    assert "Réunion" in lines[-1]
    assert lines[-1].startswith("6 event categories")


@pytest.mark.slow  # a large institution, read whole
async def test_a_large_institution_costs_a_bounded_number_of_calls(
    memory_store: StateStore,
) -> None:
    """3,000 students, 200 staff, ~1,500 occurrences in the window.

    The bound, per run (R rows of a reference list, P the page size, T timetables, D days
    in the window, E(t) the distinct events of timetable t in the window):
        reference: 1 timetables + ceil(R/P) for each of staff, students, rooms, groups,
                   memberships, categories
        per timetable and day: ceil(occurrences of the day / P), at least 1
        per distinct event: 4 (staff, student, room and group assignments)
    Students cost ceil(3000/1000) = 3 calls, not 3,000.
    """
    inst = generate_institution(
        seed=11,
        start=date(2025, 10, 21),
        days=14,
        students=3000,
        staff=200,
        groups=100,
        timetables=2,
        occurrences=1500,
    )
    # Plain pages of exactly the size asked: the bound is computed from pages of 1000.
    sandbox = CelcatSandbox(inst, api_code=CODE, quirks=Quirks(None))
    run = Run(sandbox, page_size=1000)
    sessions, _ = await run.sync(memory_store)
    window = [date(2025, 10, 21) + timedelta(days=i) for i in range(14)]
    per_day = Counter(
        (tt, d)
        for tt, t in inst.timetables.items()
        for e in t.events.values()
        for d in e.dates
        if d in window
    )
    events = {
        (tt, e.id)
        for tt, t in inst.timetables.items()
        for e in t.events.values()
        if e.dates & set(window)
    }

    def pages(rows: int) -> int:
        return max(1, -(-rows // 1000))

    bound = (
        1
        + sum(
            pages(len(x))
            for x in (
                inst.staff,
                inst.students,
                inst.rooms,
                inst.groups,
                inst.memberships,
                inst.categories,
            )
        )
        + sum(pages(per_day[(tt, d)]) for tt in inst.timetables for d in window)
        + 4 * len(events)
    )
    calls = sum(sandbox.calls.values())
    assert sum(per_day.values()) >= 1400
    assert calls <= bound
    assert sandbox.calls["GET /api/students"] == 3
    assert run.meter["celcat"] == calls
    assert len(sessions) > 1000


@pytest.mark.slow  # starts a process
def test_bad_api_code_exits_3_naming_celcat_and_the_tenant(
    tmp_path: Path, plugin_site: Path
) -> None:
    """The real command against the sandbox on a loopback port; the sink is the toy
    plugin's outbox, so that nothing but CELCAT is involved."""
    sandbox = CelcatSandbox(institution(), api_code="the-right-code")
    config = tmp_path / "plugins.toml"

    async def passerelle(*args: str) -> tuple[int, str]:
        async with serve_app(sandbox.app) as url:
            config.write_text(f"""
[worker]
state_url = "sqlite:///{tmp_path / "state.db"}"
[tenants.acme.celcat]
url = "{url}"
api_code = "{CODE}"
retries = 0
[tenants.acme.outbox]
path = "{tmp_path / "outbox.jsonl"}"
""")
            result = await anyio.run_process(
                [str(Path(sys.executable).parent / "passerelle"), *args, "--config", str(config)],
                check=False,
                env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(plugin_site)},
            )
            return result.returncode, (result.stdout + result.stderr).decode()

    for command in (["sync", "acme"], ["check", "acme"]):
        code, output = anyio.run(passerelle, *command)
        assert code == 3, output
        assert "CELCAT refused the ApiCode of tenant 'acme' (HTTP 401)" in output
        assert CODE not in output
    assert not (tmp_path / "outbox.jsonl").exists()

    sandbox.api_code = CODE
    code, output = anyio.run(passerelle, "check", "acme")
    assert code == 0, output
    assert "source celcat" in output
    assert "timetable 1: Timetable 2025-2026" in output
    assert "6 event categories: Cours magistral, Examen" in output
