"""The CELCAT Web API sandbox: the contract it serves, its faults, and the data it generates.

The sandbox is what the CELCAT adapter's tests and the demo stand on, so these tests hold
it to docs/celcat-webapi.md (field names, paging, 404 for an empty filtered list, the
TimetableId and ApiCode headers) and its generator to sync-rules.md: every planted record
breaks the rule it is planted for, and every other record breaks none.
"""

from __future__ import annotations

import json
import time as clock
from collections.abc import Iterator
from datetime import date, time, timedelta
from typing import Any

import anyio
import httpx
import pytest

from adapters.celcat.sandbox import (
    CelcatSandbox,
    ConnectionDropped,
    Fault,
    Institution,
    UserNameFormat,
    generate_institution,
    serve_app,
)
from adapters.celcat.sandbox.bad_records import MALFORMATIONS
from adapters.celcat.sandbox.state import USER_NAME_FORMATS, Event
from core import Person, PersonKind
from core.people import email_key, person_problem
from core.sandbox.quirks import Quirks

pytestmark = pytest.mark.anyio

CODE = "s3cret"
START = date(2025, 10, 20)  # a Monday
REASONS = {
    "no_instructor",
    "invalid_instructor",
    "duplicate_instructor_email",
    "invalid_student",
    "duplicate_student_email",
    "no_valid_student",
    "event_suspended",
    "category:Réunion",
    "category:Examen",
    "malformed_record",
}
EVENT_FIELDS = {
    "id", "name", "eventCategoryId", "start", "end", "week", "dayOfWeek", "suspended",
    "notes", "lastModified", "created",
}  # fmt: skip
PERSON_FIELDS = {
    "id", "uniqueName", "name", "email", "mobileTelephone", "officeTelephone",
    "homeTelephone", "departmentId", "custom1", "custom2", "custom3", "lookupId1",
    "lookupId2", "lookupId3", "originId",
}  # fmt: skip


@pytest.fixture
def inst() -> Institution:
    return generate_institution(seed=1, start=START, days=28)


@pytest.fixture
def sandbox(inst: Institution) -> CelcatSandbox:
    # Plain answers: these tests check what the sandbox holds and its faults by exact
    # shapes; the answers the contract leaves open are tests/contract's.
    return CelcatSandbox(inst, api_code=CODE, quirks=Quirks(None))


def client(
    sandbox: CelcatSandbox, *, code: str | None = CODE, timetable: int | None = 1
) -> httpx.AsyncClient:
    headers = {} if code is None else {"ApiCode": code}
    if timetable is not None:
        headers["TimetableId"] = str(timetable)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app), base_url="http://celcat", headers=headers
    )


def pagination(response: httpx.Response) -> dict[str, int]:
    value: dict[str, int] = json.loads(response.headers["Pagination"])
    return value


def busiest_day(inst: Institution, timetable: int) -> date:
    events = inst.timetables[timetable].events.values()
    days = [d for e in events for d in e.dates]
    return max(set(days), key=lambda d: (days.count(d), d))


def planted_events(inst: Institution, reason: str) -> Iterator[tuple[int, Event]]:
    """(timetable id, event) of the planted occurrences of ``reason``, once per event."""
    seen = set()
    for key in sorted(k for k in inst.planted[reason] if k.count(":") == 2):
        timetable, event, _ = key.split(":")
        if (timetable, event) not in seen:
            seen.add((timetable, event))
            yield int(timetable), inst.event(int(timetable), int(event))


# The name rules of sync-rules.md, written out again so that the generator is checked
# against the rules rather than against the adapter that applies them.


def capitals(word: str) -> bool:
    return any(c.isupper() for c in word) and not any(c.islower() for c in word)


def split(name: str, layout: UserNameFormat) -> tuple[str, str]:
    """(first, last); an empty part when the name does not split."""
    if layout == "LAST, First":
        last, comma, first = name.partition(",")
        return (first.strip(), last.strip()) if comma else ("", "")
    words = name.split()
    if layout == "LAST First":
        cut = next((n for n, w in enumerate(words) if not capitals(w)), len(words))
        return " ".join(words[cut:]), " ".join(words[:cut])
    cut = len(words)
    while cut and capitals(words[cut - 1]):
        cut -= 1
    return " ".join(words[:cut]), " ".join(words[cut:])


def problem(inst: Institution, kind: PersonKind, person_id: int) -> str | None:
    people = inst.students if kind is PersonKind.STUDENT else inst.staff
    record = people[person_id]
    first, last = split(record.name, inst.user_name_format)
    person = Person(kind, str(person_id), f"{kind}:{person_id}", first, last, record.email)
    return person_problem(person)


# Transport: auth, timetables, paging, 404s, case.


async def test_api_code_is_required_when_set(sandbox: CelcatSandbox) -> None:
    for code in (None, "wrong"):
        async with client(sandbox, code=code) as http:
            for path in ("/api/timetables", "/api/students", "/api/nowhere"):
                response = await http.get(path)
                assert (response.status_code, response.text) == (401, "Unauthorized")
    async with client(sandbox) as http:
        assert (await http.get("/api/timetables")).status_code == 200
    async with client(CelcatSandbox(sandbox.institution), code=None) as http:
        assert (await http.get("/api/timetables")).status_code == 200


async def test_timetable_id_is_required_everywhere_but_the_timetable_list(
    sandbox: CelcatSandbox,
) -> None:
    day = busiest_day(sandbox.institution, 1).isoformat()
    async with client(sandbox, timetable=None) as http:
        assert (await http.get("/api/events", params={"date": day})).status_code == 400
        assert (await http.get("/api/events/5001")).status_code == 400
        assert (await http.get("/api/staff-assignments")).status_code == 400
        for path in ("/api/students", "/api/staff/1", "/api/rooms", "/api/event-categories"):
            assert (await http.get(path)).status_code == 400, "reference lists too"
        timetables = (await http.get("/api/timetables")).json()
        assert timetables == [
            {"id": 1, "name": "Timetable 2025-2026"},
            {"id": 2, "name": "Timetable 2025-2026 Alternance"},
        ]
    async with client(sandbox, timetable=99) as http:
        assert (await http.get("/api/events", params={"date": day})).status_code == 404
        assert (await http.get("/api/rooms")).status_code == 404, "no timetable 99"
    async with client(sandbox, timetable=2) as http:
        rooms = (await http.get("/api/rooms", params={"pageSize": 1000})).json()
    async with client(sandbox, timetable=1) as http:
        assert (await http.get("/api/rooms", params={"pageSize": 1000})).json() == rooms, (
            "the server's, whatever timetable is named"
        )
    async with client(sandbox, timetable=None) as http:
        bad = await http.get("/api/events", params={"date": day}, headers={"TimetableId": "x"})
        assert bad.status_code == 400
    alone = generate_institution(seed=2, timetables=1)
    async with client(CelcatSandbox(alone, CODE), timetable=None) as http:
        response = await http.get("/api/events", params={"date": busiest_day(alone, 1).isoformat()})
        assert response.status_code == 200
        assert len(response.json()) > 0
        assert (await http.get("/api/students")).status_code == 200


async def test_paging_walks_every_row_once(sandbox: CelcatSandbox) -> None:
    seen: list[int] = []
    async with client(sandbox) as http:
        for page in range(43):
            response = await http.get("/api/students", params={"page": page, "pageSize": 7})
            assert pagination(response) == {
                "TotalRows": 300,
                "TotalPages": 43,
                "CurrentPage": page,
            }
            seen += [row["id"] for row in response.json()]
        past = await http.get("/api/students", params={"page": 43, "pageSize": 7})
        assert (past.status_code, past.json()) == (200, [])
        default = await http.get("/api/students")
        assert len(default.json()) == 50
        assert pagination(default)["TotalPages"] == 6
        capped = await http.get("/api/students", params={"pageSize": 5000})
        assert len(capped.json()) == 300
        assert pagination(capped)["TotalPages"] == 1
        for bad in ({"page": -1}, {"pageSize": 0}, {"page": "x"}):
            assert (await http.get("/api/students", params=bad)).status_code == 400
    assert sorted(seen) == sorted(sandbox.institution.students)
    assert len(seen) == 300


async def test_an_empty_filtered_list_is_a_404(sandbox: CelcatSandbox) -> None:
    inst = sandbox.institution
    timetable, lonely = next(planted_events(inst, "no_instructor"))
    sunday = START + timedelta(days=6)
    async with client(sandbox, timetable=timetable) as http:
        for path, params in (
            ("/api/events", {"date": sunday.isoformat()}),
            ("/api/events", {"date": "2030-01-07"}),
            ("/api/staff-assignments", {"eventId": lonely.id}),
            ("/api/student-assignments", {"eventId": 99999}),
            ("/api/student-membership", {"groupId": 99999}),
        ):
            response = await http.get(path, params=params)
            assert (response.status_code, response.text) == (404, "Not Found"), path
        unfiltered = await http.get("/api/staff-assignments")
        assert unfiltered.status_code == 200
        assert pagination(unfiltered)["TotalRows"] > 0


async def test_paths_and_query_names_ignore_case(sandbox: CelcatSandbox) -> None:
    async with client(sandbox) as http:
        response = await http.get("/API/Students", params={"PAGESIZE": 3})
        assert (response.status_code, len(response.json())) == (200, 3)
        assert (await http.get("/Api/Event-Categories")).status_code == 200
    assert sandbox.calls["GET /api/students"] == 1
    assert sandbox.requests[0].path == "/API/Students", "recorded as sent"


async def test_unknown_routes_and_parameters_are_refused(sandbox: CelcatSandbox) -> None:
    async with client(sandbox) as http:
        unknown = await http.get("/api/nothing-here")
        assert (unknown.status_code, unknown.text) == (404, "Not Found")
        typo = await http.get("/api/staff-assignments", params={"event_id": 5001})
        assert typo.status_code == 400, "a typo must not fetch an unfiltered list"
        assert (await http.get("/api/students", params={"detail": "extended"})).is_success
        assert (await http.get("/api/students", params={"detail": "verbose"})).status_code == 400
        assert (await http.get("/api/events", params={"date": "21/10/2025"})).status_code == 400
        assert (await http.get("/api/students/99999")).status_code == 404
        assert (await http.get("/api/staff/abc")).status_code == 400


# Resources: shapes and contents.


async def test_events_of_a_day_are_its_occurrences(sandbox: CelcatSandbox) -> None:
    inst = sandbox.institution
    day = busiest_day(inst, 1)
    expected = {e.id: e for e in inst.timetables[1].events.values() if day in e.dates}
    async with client(sandbox) as http:
        response = await http.get(
            "/api/events", params={"date": day.isoformat(), "detail": "extended", "pageSize": 1000}
        )
    rows = response.json()
    assert {row["id"] for row in rows} == set(expected)
    for row in rows:
        event = expected[row["id"]]
        if event.overrides or event.omitted or event.end <= event.start:
            continue  # a planted malformation: see test_malformed_records_render_as_json
        assert set(row) == EVENT_FIELDS
        assert row["name"] == event.name
        assert row["eventCategoryId"] == event.category_id
        assert row["start"] == f"{day}T{event.start:%H:%M:%S}"
        assert row["end"] == f"{day}T{event.end:%H:%M:%S}"
        assert row["dayOfWeek"] == day.weekday()
        assert row["week"] == 8, "weeks count from the week of September 1st"
        assert row["suspended"] is event.suspended
        assert row["lastModified"] == f"{event.last_modified:%Y-%m-%dT%H:%M:%S}"
        assert row["created"] < row["lastModified"] or row["created"] == row["lastModified"]


async def test_the_same_event_id_lives_in_two_timetables(sandbox: CelcatSandbox) -> None:
    inst = sandbox.institution
    shared = set(inst.timetables[1].events) & set(inst.timetables[2].events)
    assert 5001 in shared
    names = []
    for timetable in (1, 2):
        async with client(sandbox, timetable=timetable) as http:
            one = (await http.get("/api/events/5001", params={"detail": "extended"})).json()
        event = inst.event(timetable, 5001)
        assert one["id"] == 5001
        assert one.get("start") in (None, f"{min(event.dates)}T{event.start:%H:%M:%S}")
        names.append(one["name"])
    assert names == [inst.event(1, 5001).name, inst.event(2, 5001).name]
    async with client(sandbox) as http:
        assert (await http.get("/api/events/1")).status_code == 404


async def test_assignments_belong_to_the_event(sandbox: CelcatSandbox) -> None:
    inst = sandbox.institution
    event = max(inst.timetables[2].events.values(), key=lambda e: len(e.students))
    async with client(sandbox, timetable=2) as http:
        for kind, field, expected in (
            ("staff", "staffId", event.staff),
            ("student", "studentId", event.students),
            ("room", "roomId", event.rooms),
        ):
            response = await http.get(
                f"/api/{kind}-assignments", params={"eventId": event.id, "pageSize": 1000}
            )
            assert response.json() == [{"eventId": event.id, field: i} for i in expected]
        everything = await http.get("/api/group-assignments", params={"pageSize": 1000})
    pairs = {(row["eventId"], row["groupId"]) for row in everything.json()}
    assert pairs == {(e.id, g) for e in inst.timetables[2].events.values() for g in e.groups}


async def test_people_rooms_groups_and_memberships(sandbox: CelcatSandbox) -> None:
    inst = sandbox.institution
    async with client(sandbox) as http:
        staff = (await http.get("/api/staff", params={"pageSize": 1000})).json()
        student = (await http.get("/api/students/1001")).json()
        rooms = (await http.get("/api/rooms")).json()
        groups = (await http.get("/api/groups")).json()
        categories = (await http.get("/api/event-categories")).json()
        members = (await http.get("/api/student-membership", params={"groupId": 1})).json()
        of_student = await http.get("/api/student-membership", params={"studentId": 1001})
        everyone = await http.get("/api/student-membership")
    assert [row["id"] for row in staff] == sorted(inst.staff)
    assert all(set(row) == PERSON_FIELDS for row in staff)
    assert set(student) == PERSON_FIELDS
    assert (student["name"], student["email"]) == (
        inst.students[1001].name,
        inst.students[1001].email,
    )
    assert set(rooms[0]) == {"id", "name", "uniqueName"}
    assert rooms[0]["name"] == "Amphi A"
    assert set(groups[0]) == {"id", "uniqueName", "name", "departmentId", "academicYear"}
    assert groups[0]["name"] == "L1 Informatique G1"
    assert {c["name"] for c in categories} >= {"Lecture", "TD", "TP", "Examen", "Réunion"}
    assert {(m["groupId"], m["studentId"]) for m in members} == {
        m for m in inst.memberships if m[0] == 1
    }
    assert all(m["studentId"] == 1001 for m in of_student.json())
    assert pagination(everyone)["TotalRows"] == len(inst.memberships)


# Faults.


async def test_status_faults_with_retry_after_fire_the_next_n_times(
    sandbox: CelcatSandbox,
) -> None:
    fault = Fault(path=r"^/api/students$", status=503, retry_after=7, times=2)
    sandbox.faults.append(Fault(method="POST", status=500))
    sandbox.faults.append(fault)
    async with client(sandbox) as http:
        statuses = [(await http.get("/api/students")).status_code for _ in range(3)]
        first = await http.get("/api/staff")
        sandbox.faults.insert(0, Fault(path="staff", status=429, retry_after=1, times=1))
        limited = await http.get("/api/staff")
    assert statuses == [503, 503, 200]
    assert fault.fired == 2
    assert first.status_code == 200, "the path pattern did not match"
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "1")
    assert sandbox.faults[1].fired == 0, "POST only"


async def test_the_first_fault_that_fires_is_the_only_one(sandbox: CelcatSandbox) -> None:
    sandbox.faults = [Fault(status=500, times=1), Fault(status=502, times=1)]
    async with client(sandbox) as http:
        statuses = [(await http.get("/api/rooms")).status_code for _ in range(3)]
    assert statuses == [500, 502, 200]


async def test_a_delay_holds_the_answer(sandbox: CelcatSandbox) -> None:
    sandbox.faults = [Fault(delay=30, times=1), Fault(delay=0.01, times=1)]
    async with client(sandbox) as http:
        with pytest.raises(TimeoutError):
            with anyio.fail_after(0.05):
                await http.get("/api/rooms")
        slow = await http.get("/api/rooms")
    assert slow.status_code == 200
    assert len(slow.json()) == len(sandbox.institution.rooms)


async def test_truncated_and_garbage_bodies_are_not_json(sandbox: CelcatSandbox) -> None:
    async with client(sandbox) as http:
        whole = await http.get("/api/rooms")
        sandbox.faults = [Fault(body="truncated", times=1), Fault(body="garbage", times=1)]
        for _ in range(2):
            response = await http.get("/api/rooms")
            assert response.status_code == 200
            with pytest.raises(json.JSONDecodeError):
                response.json()
            if _ == 0:
                assert response.content == whole.content[: len(whole.content) // 2]


async def test_a_reset_raises_a_transport_error(sandbox: CelcatSandbox) -> None:
    sandbox.faults = [Fault(body="reset", times=1)]
    async with client(sandbox) as http:
        with pytest.raises(httpx.TransportError):
            await http.get("/api/rooms")
        assert (await http.get("/api/rooms")).status_code == 200


async def test_a_seeded_rate_replays_exactly(inst: Institution) -> None:
    patterns = []
    for seed in (3, 3, 4):
        sandbox = CelcatSandbox(inst, CODE)
        sandbox.faults = [Fault(status=500, rate=0.3, seed=seed)]
        async with client(sandbox) as http:
            patterns.append([(await http.get("/api/rooms")).status_code for _ in range(40)])
    assert patterns[0] == patterns[1] != patterns[2]
    assert 0 < patterns[0].count(500) < 40


def test_contradictory_faults_are_refused() -> None:
    for bad in (
        {"status": 500, "body": "garbage"},
        {"retry_after": 3},
        {"rate": 1.5},
        {"times": -1},
        {"body": "melted"},
    ):
        with pytest.raises(ValueError, match=r"."):
            Fault(**bad)


# Calls.


async def test_calls_are_counted_per_route_and_requests_kept(inst: Institution) -> None:
    sandbox = CelcatSandbox(inst, CODE, keep_requests=3)
    async with client(sandbox, code=None) as http:
        await http.get("/api/rooms")
    async with client(sandbox) as http:
        for event in (5001, 5002, 5003):
            await http.get(f"/api/events/{event}", params={"detail": "extended"})
    assert sandbox.calls == {"GET /api/rooms": 1, "GET /api/events/{id}": 3}
    assert [r.path for r in sandbox.requests] == [
        "/api/events/5001",
        "/api/events/5002",
        "/api/events/5003",
    ]
    last = sandbox.requests[-1]
    assert (last.method, last.query) == ("GET", {"detail": "extended"})
    assert (last.headers["apicode"], last.headers["timetableid"]) == (CODE, "1")
    sandbox.reset_counts()
    assert (sandbox.calls, sandbox.requests) == ({}, [])


async def test_served_on_a_real_port(sandbox: CelcatSandbox) -> None:
    headers = {"ApiCode": CODE, "TimetableId": "1"}
    started = clock.monotonic()
    async with serve_app(sandbox.app) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=0.3) as http:
            assert len((await http.get("/API/rooms")).json()) == len(sandbox.institution.rooms)
            sandbox.faults = [Fault(delay=30, times=1)]
            with pytest.raises(httpx.ReadTimeout):
                await http.get("/api/rooms")
            sandbox.faults = [Fault(body="reset", times=1)]
            with pytest.raises(httpx.RemoteProtocolError) as dropped:
                await http.get("/api/rooms")
            assert not isinstance(dropped.value, ConnectionDropped), "a real dropped connection"
            assert (await http.get("/api/rooms")).status_code == 200
    assert clock.monotonic() - started < 2, "a timed-out request does not hold up the stop"
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(base_url)


# Changes between two syncs.


async def test_changes_show_through_the_api(sandbox: CelcatSandbox) -> None:
    inst = sandbox.institution
    event = max(
        inst.timetables[1].events.values(), key=lambda e: (bool(e.students), len(e.dates), e.id)
    )
    first, second, *_ = sorted(event.dates)
    stamp = event.last_modified

    async def on(day: date) -> dict[str, Any] | None:
        async with client(sandbox) as http:
            response = await http.get(
                "/api/events", params={"date": day.isoformat(), "detail": "extended"}
            )
        rows = response.json() if response.status_code == 200 else []
        return next((row for row in rows if row["id"] == event.id), None)

    inst.rename_event(1, event.id, "Renamed")
    inst.set_times(1, event.id, time(9, 15), time(11, 45))
    row = await on(first)
    assert row is not None
    assert (row["name"], row["start"], row["end"]) == (
        "Renamed",
        f"{first}T09:15:00",
        f"{first}T11:45:00",
    )
    assert row["lastModified"] > f"{stamp:%Y-%m-%dT%H:%M:%S}"
    sunday = first + timedelta(days=6 - first.weekday())
    inst.move_event(1, event.id, first, sunday)
    assert await on(first) is None
    moved = await on(sunday)
    assert moved is not None
    assert moved["dayOfWeek"] == 6
    inst.remove_occurrence(1, event.id, second)
    assert await on(second) is None
    inst.suspend_event(1, event.id)
    suspended = await on(sunday)
    assert suspended is not None
    assert suspended["suspended"] is True

    inst.add_student_to_event(1, event.id, 1001)
    inst.remove_staff_from_event(1, event.id, event.staff[0])
    inst.add_staff_to_event(1, event.id, 1)
    inst.set_event_rooms(1, event.id, [2])
    inst.set_person("student", 1001, name="NOUVEAU, Nom", email="nom.nouveau@etu.univ-exemple.fr")
    async with client(sandbox) as http:
        params = {"eventId": event.id}
        students = (await http.get("/api/student-assignments", params=params)).json()
        staff = (await http.get("/api/staff-assignments", params=params)).json()
        rooms = (await http.get("/api/room-assignments", params=params)).json()
        person = (await http.get("/api/students/1001")).json()
        assert {"eventId": event.id, "studentId": 1001} in students
        assert {"eventId": event.id, "staffId": 1} in staff
        assert rooms == [{"eventId": event.id, "roomId": 2}]
        assert (person["name"], person["email"]) == (
            "NOUVEAU, Nom",
            "nom.nouveau@etu.univ-exemple.fr",
        )
        inst.remove_student_from_event(1, event.id, 1001)
        remaining = (await http.get("/api/student-assignments", params=params)).json()
        assert 1001 not in [row["studentId"] for row in remaining]

        new = inst.add_event(
            1,
            name="Soutenance",
            category_id=3,
            dates={second},
            start=time(14),
            end=time(16),
            staff=[1],
            students=[1001],
        )
        added = (await http.get(f"/api/events/{new}", params={"detail": "extended"})).json()
        assert (added["name"], added["start"]) == ("Soutenance", f"{second}T14:00:00")
        inst.remove_event(1, event.id)
        assert (await http.get(f"/api/events/{event.id}")).status_code == 404
    with pytest.raises(ValueError, match="does not occur"):
        inst.remove_occurrence(1, new, first)
    with pytest.raises(KeyError):
        inst.rename_event(1, event.id, "gone")


# The generator.


def test_the_same_seed_gives_the_same_institution() -> None:
    assert generate_institution(seed=7) == generate_institution(seed=7)
    assert generate_institution(seed=7) != generate_institution(seed=8)


def test_a_large_institution_has_the_sizes_asked() -> None:
    inst = generate_institution(
        seed=3, start=START, days=14, students=3000, staff=200, groups=100, occurrences=1500
    )
    assert (len(inst.students), len(inst.staff), len(inst.groups)) == (3000, 200, 100)
    assert 1500 <= inst.occurrence_count() < 1520
    assert len(inst.timetables) == 2
    for timetable in inst.timetables.values():
        for event in timetable.events.values():
            assert all(START <= d < START + timedelta(days=14) for d in event.dates)
            assert all(d.weekday() == min(event.dates).weekday() for d in event.dates)
            assert time(8) <= event.start < event.end <= time(19) or event.start > event.end
    assert {g for g, _ in inst.memberships} == set(inst.groups), "every group has members"


@pytest.mark.parametrize("layout", USER_NAME_FORMATS)
def test_names_are_written_in_the_institution_format(layout: UserNameFormat) -> None:
    inst = generate_institution(seed=5, user_name_format=layout)
    planted = set().union(*inst.planted.values())
    emails: dict[str, str] = {}
    for kind, people in ((PersonKind.STUDENT, inst.students), (PersonKind.INSTRUCTOR, inst.staff)):
        prefix = "student" if kind is PersonKind.STUDENT else "staff"
        for person_id, person in people.items():
            if f"{prefix}:{person_id}" in planted:
                continue
            assert problem(inst, kind, person_id) is None, person
            first, last = split(person.name, layout)
            assert all(capitals(w) for w in last.split()), person.name
            assert not any(capitals(w) for w in first.split()), person.name
            assert ("," in person.name) == (layout == "LAST, First")
            assert person.email.isascii()
            assert email_key(person.email) not in emails, "emails are unique"
            emails[email_key(person.email)] = person.name
    everyone = " ".join(p.name for p in (*inst.students.values(), *inst.staff.values()))
    assert any(not w.isascii() for w in everyone.split()), "accents and the like"
    assert any(len(split(p.name, layout)[1].split()) > 1 for p in inst.students.values())
    phones = [p.mobile_telephone for p in inst.students.values()]
    assert sum(bool(p and p.startswith("+33 6 ")) for p in phones) > len(phones) // 2
    assert not all(phones)


def test_every_reason_is_planted_and_breaks_its_rule() -> None:
    inst = generate_institution(seed=11, user_name_format="First LAST")
    assert set(inst.planted) == REASONS
    assert all(inst.planted.values())
    staff = PersonKind.INSTRUCTOR

    for key in inst.planted["invalid_student"]:
        assert problem(inst, PersonKind.STUDENT, int(key.split(":")[1])) is not None
    for _, event in planted_events(inst, "no_instructor"):
        assert event.staff == []
    for _, event in planted_events(inst, "invalid_instructor"):
        assert any(problem(inst, staff, s) is not None for s in event.staff)
    for _, event in planted_events(inst, "event_suspended"):
        assert event.suspended
    for _, event in planted_events(inst, "no_valid_student"):
        assert event.students
        assert not event.groups
        assert all(f"student:{s}" in inst.planted["invalid_student"] for s in event.students)
    for category in ("Réunion", "Examen"):
        for _, event in planted_events(inst, f"category:{category}"):
            assert inst.categories[event.category_id].name == category

    def lower_id_shares(people: dict[int, Any], person_id: int) -> bool:
        email = email_key(people[person_id].email)
        return any(email_key(p.email) == email for i, p in people.items() if i < person_id)

    shared = {k for k in inst.planted["duplicate_instructor_email"] if k.startswith("staff:")}
    assert len(shared) == 2
    assert all(lower_id_shares(inst.staff, int(k.split(":")[1])) for k in shared)
    teachers = {s for _, e in planted_events(inst, "duplicate_instructor_email") for s in e.staff}
    assert len({f"staff:{s}" for s in teachers} & shared) == 1, "the third one teaches nothing"
    (twin,) = inst.planted["duplicate_student_email"]
    assert lower_id_shares(inst.students, int(twin.split(":")[1]))

    details = {inst.planted_detail[k] for k in inst.planted["malformed_record"]}
    assert details == set(MALFORMATIONS)


def test_ordinary_records_break_no_rule() -> None:
    """Outside the planted ones, every occurrence would sync as it is."""
    inst = generate_institution(seed=12, user_name_format="LAST First")
    planted = set().union(*inst.planted.values())
    members: dict[int, set[int]] = {}
    for group, student in inst.memberships:
        members.setdefault(group, set()).add(student)
    categories = {c.id: c.name for c in inst.categories.values()}
    for timetable in inst.timetables.values():
        for event in timetable.events.values():
            keys = {f"{timetable.id}:{event.id}:{d}" for d in event.dates}
            if keys & planted:
                assert keys <= planted, "a planted event is planted on every date"
                continue
            assert categories[event.category_id] not in ("Réunion", "Examen")
            assert not event.suspended
            assert (event.overrides, event.omitted) == ({}, set())
            assert event.staff
            assert all(problem(inst, PersonKind.INSTRUCTOR, s) is None for s in event.staff)
            assert not {f"staff:{s}" for s in event.staff} & planted
            assert set(event.rooms) <= set(inst.rooms)
            students = {*event.students, *(s for g in event.groups for s in members[g])}
            assert any(
                f"student:{s}" not in planted and problem(inst, PersonKind.STUDENT, s) is None
                for s in students
            )


async def test_malformed_records_render_as_json(sandbox: CelcatSandbox) -> None:
    inst = sandbox.institution
    seen = {}
    for key in inst.planted["malformed_record"]:
        if key.count(":") != 2:
            continue
        timetable, event_id, day = key.split(":")
        async with client(sandbox, timetable=int(timetable)) as http:
            params = {"date": day, "pageSize": "1000", "detail": "extended"}
            rows = (await http.get("/api/events", params=params)).json()
        row = next(r for r in rows if r["id"] == int(event_id))
        seen[inst.planted_detail[key]] = row
    assert "start" not in seen["missing start"]
    assert seen["unparseable date"]["start"].startswith("2025-13-45")
    assert seen["end before start"]["end"] < seen["end before start"]["start"]
    assert seen["name is a number"]["name"] == 12345
    assert seen["name is null"]["name"] is None
    async with client(sandbox) as http:
        for path in ("/api/staff/90001", "/api/students/90001"):
            assert (await http.get(path)).status_code == 404
