"""The CELCAT Web API sandbox held to the Web API contract, one requirement at a time.

Each test's docstring quotes the line it checks, under the contract's section
(Transport, Resources, Records; docs/celcat-webapi.md restates them in the repository).
The sandbox runs as it does by default, quirky (``Quirks(0)``), or over several seeds:
what the contract does not promise (order, page size, the ``Pagination`` header on every
answer, the absence of other fields, error texts) must be needed by no one. The last
tests show the quirks vary by seed, and that the CELCAT client and source read the same
records whatever the seed.

Not enforced: ``GET /api/attendance`` and the attendance key (the sandbox holds no
marks, and the contract names no field of one), and "Booleans are sent as the string
`true`" (no route the sandbox serves takes a boolean).

    .venv/bin/pytest tests/contract/test_celcat_webapi.py -q
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from math import ceil
from typing import Any

import httpx
import pytest

from adapters.celcat.client import CelcatClient
from adapters.celcat.plugin import CelcatOptions, open_source
from adapters.celcat.sandbox import CelcatSandbox, Institution, generate_institution
from adapters.celcat.sandbox.state import USER_NAME_FORMATS, Event, UserNameFormat
from core.http import RetryPolicy
from core.models import Person, Session
from core.protocols import Seams, Setup
from core.sandbox.quirks import Quirks
from core.state import StateStore
from tests.doubles import PARIS, context
from tests.test_http import FakeSleep

pytestmark = pytest.mark.anyio

CODE = "contract-code"
START = date(2025, 10, 20)  # a Monday
SEEDS = range(6)
LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")  # yyyy-MM-ddTHH:mm:ss, no offset
PERSON_FIELDS = {
    "id", "uniqueName", "name", "email", "mobileTelephone", "officeTelephone",
    "homeTelephone", "departmentId", "custom1", "custom2", "custom3", "lookupId1",
    "lookupId2", "lookupId3", "originId",
}  # fmt: skip
GROUP_FIELDS = {"id", "uniqueName", "name", "departmentId", "academicYear"}
ROOM_FIELDS = {"id", "name", "uniqueName"}
EVENT_FIELDS = {
    "id", "name", "eventCategoryId", "start", "end", "week", "dayOfWeek", "suspended",
    "notes", "lastModified", "created",
}  # fmt: skip
ASSIGNED = {"staff": "staffId", "student": "studentId", "room": "roomId", "group": "groupId"}


@pytest.fixture(scope="module")
def inst() -> Institution:
    """Two timetables; the tests only read it."""
    return generate_institution(seed=1, start=START, days=28)


@pytest.fixture
def sandbox(inst: Institution) -> CelcatSandbox:
    return CelcatSandbox(inst, api_code=CODE)


def http(
    sandbox: CelcatSandbox, *, timetable: int | None = 1, code: str | None = CODE
) -> httpx.AsyncClient:
    headers = {} if code is None else {"ApiCode": code}
    if timetable is not None:
        headers["TimetableId"] = str(timetable)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app), base_url="http://celcat", headers=headers
    )


@dataclass(frozen=True)
class Sample:
    """Ids of timetable 1 that every route can be asked about."""

    grouped: Event  # has staff, rooms and groups, and occurs on several dates
    taught: Event  # has students
    day: date  # a day ``grouped`` occurs on
    student: int
    staff: int
    membership: tuple[int, int]


def sample(inst: Institution) -> Sample:
    events = [e for e in inst.timetables[1].events.values() if not (e.overrides or e.omitted)]
    grouped = next(e for e in events if e.staff and e.rooms and e.groups and len(e.dates) > 2)
    taught = next(e for e in events if e.students)
    return Sample(
        grouped=grouped,
        taught=taught,
        day=min(grouped.dates),
        student=min(inst.students),
        staff=min(inst.staff),
        membership=inst.memberships[0],
    )


def routes(inst: Institution) -> dict[str, tuple[str, dict[str, str]]]:
    """Every route of the contract's table the sandbox serves, with arguments that find
    rows: name -> (path, query)."""
    s = sample(inst)
    group, student = s.membership
    on = {"staff": s.grouped, "student": s.taught, "room": s.grouped, "group": s.grouped}
    return {
        "event-categories": ("/api/event-categories", {}),
        "events": ("/api/events", {"date": s.day.isoformat(), "detail": "extended"}),
        "event": (f"/api/events/{s.grouped.id}", {}),
        **{
            f"{kind}-assignments": (f"/api/{kind}-assignments", {"eventId": str(e.id)})
            for kind, e in on.items()
        },
        "students": ("/api/students", {}),
        "student": (f"/api/students/{s.student}", {}),
        "staff": ("/api/staff", {}),
        "staff-member": (f"/api/staff/{s.staff}", {}),
        "rooms": ("/api/rooms", {}),
        "groups": ("/api/groups", {}),
        "student-membership": (
            "/api/student-membership",
            {"groupId": str(group), "studentId": str(student)},
        ),
    }


ROUTES = [
    "event-categories", "events", "event", "staff-assignments", "student-assignments",
    "room-assignments", "group-assignments", "students", "student", "staff", "staff-member",
    "rooms", "groups", "student-membership",
]  # fmt: skip
LISTS = [r for r in ROUTES if r not in ("event", "student", "staff-member")]
REFERENCE = ["event-categories", "students", "staff", "rooms", "groups", "student-membership"]


async def walk(
    client: httpx.AsyncClient, path: str, params: dict[str, str] | None = None, size: int = 40
) -> tuple[list[Any], list[httpx.Response]]:
    """Every row of a list, from page 0 until an empty page or a 404, and the answers."""
    rows: list[Any] = []
    answers: list[httpx.Response] = []
    for page in range(2_000):
        answer = await client.get(path, params={**(params or {}), "page": page, "pageSize": size})
        answers.append(answer)
        if answer.status_code == 404:
            break
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if not body:
            break
        rows += body
    return rows, answers


def named(rows: list[dict[str, Any]], fields: set[str]) -> list[dict[str, Any]]:
    """The rows with only ``fields`` (the contract's), sorted: unknown fields and the
    order are the server's business."""
    kept = [{k: v for k, v in row.items() if k in fields} for row in rows]
    return sorted(kept, key=lambda row: json.dumps(row, sort_keys=True))


# Transport


@pytest.mark.parametrize("path", ["/api/students", "/api/event-categories", "/api/rooms"])
async def test_path_case_does_not_matter(sandbox: CelcatSandbox, path: str) -> None:
    """Transport: "resources under `/api/...`. Path case does not matter." """
    async with http(sandbox) as client:
        lower = await client.get(path)
        for variant in (path.upper(), path.title(), path.replace("api", "API")):
            answer = await client.get(variant)
            assert answer.status_code == 200, variant
            assert answer.json() == lower.json(), variant


@pytest.mark.parametrize("route", ["timetables", *ROUTES])
async def test_the_api_code_is_required_on_every_call(
    sandbox: CelcatSandbox, inst: Institution, route: str
) -> None:
    """Transport: "Auth: header `ApiCode: <code>` on every call." """
    path, params = ("/api/timetables", {}) if route == "timetables" else routes(inst)[route]
    for code in (None, "wrong-code"):
        async with http(sandbox, code=code) as client:
            assert (await client.get(path, params=params)).status_code == 401, code
    async with http(sandbox) as client:
        assert (await client.get(path, params=params)).status_code == 200


async def test_the_api_code_is_optional_on_the_server(inst: Institution) -> None:
    """Transport: "This is the "password" of the installation form: optional on the
    server side"."""
    async with http(CelcatSandbox(inst), code=None) as client:
        assert (await client.get("/api/students")).status_code == 200


@pytest.mark.parametrize("route", ROUTES)
async def test_timetable_id_is_required_with_several_timetables(
    sandbox: CelcatSandbox, inst: Institution, route: str
) -> None:
    """Transport: "`TimetableId` ... Required as soon as the server holds more than one;
    ... send it on every call but `GET /api/timetables`." """
    assert len(inst.timetables) > 1
    path, params = routes(inst)[route]
    async with http(sandbox, timetable=None) as client:
        assert (await client.get(path, params=params)).status_code == 400
    async with http(sandbox, timetable=1) as client:
        assert (await client.get(path, params=params)).status_code == 200


async def test_the_timetable_list_works_without_timetable_id(
    sandbox: CelcatSandbox, inst: Institution
) -> None:
    """Transport: "`GET /api/timetables` works without it." """
    async with http(sandbox, timetable=None) as client:
        rows, _ = await walk(client, "/api/timetables")
    assert {row["id"] for row in rows} == set(inst.timetables)


@pytest.mark.parametrize("route", REFERENCE)
async def test_reference_lists_are_the_same_whatever_the_timetable(
    sandbox: CelcatSandbox, inst: Institution, route: str
) -> None:
    """Transport: "Reference lists (staff, students, rooms, groups, categories,
    memberships) are the same whatever timetable is named"; Records: "People, rooms,
    groups, categories and memberships are the server's, whatever `TimetableId` says"."""
    path, params = routes(inst)[route]
    if route == "student-membership":
        params = {}
    lists = []
    for timetable in (1, 2):
        async with http(sandbox, timetable=timetable) as client:
            rows, _ = await walk(client, path, params)
        assert rows
        lists.append(named(rows, PERSON_FIELDS | GROUP_FIELDS | {"groupId", "studentId"}))
    assert lists[0] == lists[1]


@pytest.mark.parametrize("route", ROUTES)
async def test_one_timetable_needs_no_timetable_id(route: str) -> None:
    """Transport: "Required as soon as the server holds more than one" (so not before)."""
    alone = generate_institution(seed=2, start=START, days=28, timetables=1)
    path, params = routes(alone)[route]
    async with http(CelcatSandbox(alone, api_code=CODE), timetable=None) as client:
        assert (await client.get(path, params=params)).status_code == 200


@pytest.mark.parametrize("route", ROUTES)
async def test_a_timetable_id_that_names_no_timetable_gives_no_rows(
    sandbox: CelcatSandbox, inst: Institution, route: str
) -> None:
    """Transport: "Header `TimetableId: <int>` selects the timetable." The sandbox answers
    an unknown one 404 (which reads as "no rows") and a non-integer one 400."""
    path, params = routes(inst)[route]
    async with http(sandbox, timetable=99) as client:
        assert (await client.get(path, params=params)).status_code == 404
    async with http(sandbox, timetable=None) as client:
        answer = await client.get(path, params=params, headers={"TimetableId": "one"})
        assert answer.status_code == 400


@pytest.mark.parametrize("route", ["timetables", *LISTS])
async def test_lists_are_plain_json_arrays(
    sandbox: CelcatSandbox, inst: Institution, route: str
) -> None:
    """Transport: "Lists are plain JSON arrays." """
    path, params = ("/api/timetables", {}) if route == "timetables" else routes(inst)[route]
    async with http(sandbox) as client:
        answer = await client.get(path, params=params)
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert isinstance(body, list)
    assert body
    assert all(isinstance(row, dict) for row in body)


@pytest.mark.parametrize("seed", SEEDS)
async def test_pages_count_from_zero_and_hold_every_row_once(inst: Institution, seed: int) -> None:
    """Transport: "Paging: query `page` (0-based) and `pageSize`"."""
    async with http(CelcatSandbox(inst, api_code=CODE, quirks=Quirks(seed))) as client:
        first = await client.get("/api/students", params={"page": 0, "pageSize": 7})
        rows, answers = await walk(client, "/api/students", size=7)
    assert first.json() == answers[0].json()
    assert first.json(), "page 0 is the first page, not the second"
    assert all(len(a.json()) <= 7 for a in answers if a.status_code == 200)
    ids = [row["id"] for row in rows]
    assert Counter(ids) == Counter(list(inst.students))


@pytest.mark.parametrize("size", [1, 5, 40, 1000])
async def test_page_size_bounds_the_rows_of_a_page(
    sandbox: CelcatSandbox, inst: Institution, size: int
) -> None:
    """Transport: "Paging: query `page` (0-based) and `pageSize`"."""
    async with http(sandbox) as client:
        answer = await client.get("/api/students", params={"pageSize": size})
    assert 1 <= len(answer.json()) <= size


@pytest.mark.parametrize("seed", SEEDS)
async def test_the_pagination_header_when_present_tells_the_truth(
    inst: Institution, seed: int
) -> None:
    """Transport: "the answer carries a response header `Pagination: {"TotalRows": n,
    "TotalPages": n, "CurrentPage": n}`"."""
    async with http(CelcatSandbox(inst, api_code=CODE, quirks=Quirks(seed))) as client:
        rows, answers = await walk(client, "/api/students", size=40)
    served = len(answers[0].json())
    for page, answer in enumerate(answers):
        if "Pagination" not in answer.headers:
            continue
        pagination = json.loads(answer.headers["Pagination"])
        assert pagination == {
            "TotalRows": len(rows),
            "TotalPages": ceil(len(rows) / served),
            "CurrentPage": page,
        }
        assert all(type(v) is int for v in pagination.values())
    assert len(answers) == ceil(len(rows) / served) + 1, "then one empty page"


async def test_an_empty_filtered_list_is_a_404(sandbox: CelcatSandbox, inst: Institution) -> None:
    """Transport: "An empty filtered list may answer **404** instead of `[]`: a 404 on a
    list is "no rows"."""
    sunday = START + timedelta(days=6)
    lonely = next(e for e in inst.timetables[1].events.values() if not e.students)
    async with http(sandbox) as client:
        for path, params in (
            ("/api/events", {"date": sunday.isoformat()}),
            ("/api/events", {"date": "2031-01-06"}),
            ("/api/student-assignments", {"eventId": str(lonely.id)}),
            ("/api/staff-assignments", {"eventId": "99999"}),
            ("/api/student-membership", {"groupId": "99999"}),
            ("/api/student-membership", {"studentId": "99999"}),
        ):
            assert (await client.get(path, params=params)).status_code == 404, (path, params)


@pytest.mark.parametrize("detail", ["terse", "normal", "extended", "Extended"])
async def test_detail_takes_terse_normal_or_extended(
    sandbox: CelcatSandbox, inst: Institution, detail: str
) -> None:
    """Transport: "Query parameter `detail=terse|normal|extended`." """
    s = sample(inst)
    async with http(sandbox) as client:
        for path, params in (
            ("/api/events", {"date": s.day.isoformat()}),
            (f"/api/events/{s.grouped.id}", {}),
            ("/api/students", {}),
        ):
            answer = await client.get(path, params={**params, "detail": detail})
            assert answer.status_code == 200, path
            wrong = await client.get(path, params={**params, "detail": "everything"})
            assert wrong.status_code == 400, path


async def test_only_detail_extended_promises_the_event_record(
    sandbox: CelcatSandbox, inst: Institution
) -> None:
    """Records: "Assumed record from `GET /api/events?date=D&detail=extended`". The
    sandbox gives the other levels `id` and `name` only: they promise nothing more."""
    s = sample(inst)
    async with http(sandbox) as client:
        for detail in ("terse", "normal", None):
            params = {"date": s.day.isoformat(), **({"detail": detail} if detail else {})}
            rows = (await client.get("/api/events", params=params)).json()
            assert all(set(row) & EVENT_FIELDS == {"id", "name"} for row in rows), detail
        extended = await client.get(f"/api/events/{s.grouped.id}", params={"detail": "extended"})
    assert set(extended.json()) >= EVENT_FIELDS


async def test_composite_ids_are_joined_with_hyphens(
    sandbox: CelcatSandbox, inst: Institution
) -> None:
    """Transport: "Composite ids are joined with hyphens in paths (`{groupId}-{studentId}`)." """
    group, student = inst.memberships[0]
    async with http(sandbox) as client:
        found = await client.get(f"/api/student-membership/{group}-{student}")
        missing = await client.get(f"/api/student-membership/{group}-99999")
    assert found.status_code == 200
    assert (found.json()["groupId"], found.json()["studentId"]) == (group, student)
    assert missing.status_code == 404


# Resources


@pytest.mark.parametrize("route", ROUTES)
async def test_each_resource_path_is_served(
    sandbox: CelcatSandbox, inst: Institution, route: str
) -> None:
    """Resources: the paths of the table, from `GET /api/event-categories` to
    `GET /api/student-membership?groupId=&studentId=`."""
    path, params = routes(inst)[route]
    async with http(sandbox) as client:
        answer = await client.get(path, params=params)
    assert answer.status_code == 200
    assert answer.json()


async def test_timetables_have_an_id_and_a_name(sandbox: CelcatSandbox, inst: Institution) -> None:
    """Resources: "`GET /api/timetables` | every timetable: `id`, `name` (e.g. "Timetable
    2025-2026")"."""
    async with http(sandbox, timetable=None) as client:
        rows, _ = await walk(client, "/api/timetables")
    assert named(rows, {"id", "name"}) == [
        {"id": t.id, "name": t.name} for t in sorted(inst.timetables.values(), key=lambda t: t.id)
    ]
    assert "Timetable 2025-2026" in {row["name"] for row in rows}


async def test_categories_have_an_id_and_a_name(sandbox: CelcatSandbox, inst: Institution) -> None:
    """Resources: "`GET /api/event-categories` | `id`, `name` (e.g. "Lecture")"."""
    async with http(sandbox) as client:
        rows, _ = await walk(client, "/api/event-categories")
    assert named(rows, {"id", "name"}) == [
        {"id": c.id, "name": c.name} for c in sorted(inst.categories.values(), key=lambda c: c.id)
    ]
    assert "Lecture" in {row["name"] for row in rows}


@pytest.mark.parametrize("timetable", [1, 2])
async def test_the_events_of_a_day_are_those_held_that_day(
    sandbox: CelcatSandbox, inst: Institution, timetable: int
) -> None:
    """Resources: "`GET /api/events?date=yyyy-MM-dd&detail=extended` | the events held on
    that day"."""
    day = sample(inst).day
    async with http(sandbox, timetable=timetable) as client:
        rows, _ = await walk(
            client, "/api/events", {"date": day.isoformat(), "detail": "extended"}, size=10
        )
    expected = {e.id for e in inst.timetables[timetable].events.values() if day in e.dates}
    assert expected
    assert {row["id"] for row in rows} == expected


async def test_one_event_by_id(sandbox: CelcatSandbox, inst: Institution) -> None:
    """Resources: "`GET /api/events/{id}` | one event"."""
    event = sample(inst).grouped
    async with http(sandbox) as client:
        one = (await client.get(f"/api/events/{event.id}", params={"detail": "extended"})).json()
        unknown = await client.get("/api/events/99999")
    assert (one["id"], one["name"]) == (event.id, event.name)
    assert unknown.status_code == 404


@pytest.mark.parametrize("kind", ASSIGNED)
async def test_assignments_name_the_event_and_what_is_assigned(
    sandbox: CelcatSandbox, inst: Institution, kind: str
) -> None:
    """Resources: "`GET /api/staff-assignments?eventId=` | staff on an event: `eventId`,
    `staffId`" (and students, rooms, groups alike)."""
    s = sample(inst)
    event = s.taught if kind == "student" else s.grouped
    field = ASSIGNED[kind]
    async with http(sandbox) as client:
        rows, _ = await walk(client, f"/api/{kind}-assignments", {"eventId": str(event.id)}, 3)
    expected = {"staff": event.staff, "student": event.students, "room": event.rooms}
    assert named(rows, {"eventId", field}) == named(
        [{"eventId": event.id, field: i} for i in expected.get(kind, event.groups)],
        {"eventId", field},
    )


@pytest.mark.parametrize("kind", ["students", "staff"])
async def test_people_lists_and_single_people(
    sandbox: CelcatSandbox, inst: Institution, kind: str
) -> None:
    """Resources: "`GET /api/students`, `/api/students/{id}` | students", "`GET /api/staff`,
    `/api/staff/{id}` | staff (instructors)"."""
    people = inst.students if kind == "students" else inst.staff
    async with http(sandbox) as client:
        rows, _ = await walk(client, f"/api/{kind}")
        one_id = max(people)
        one = (await client.get(f"/api/{kind}/{one_id}")).json()
        unknown = await client.get(f"/api/{kind}/99999")
    assert sorted(row["id"] for row in rows) == sorted(people)
    assert (one["id"], one["name"], one["email"]) == (
        one_id,
        people[one_id].name,
        people[one_id].email,
    )
    assert unknown.status_code == 404


@pytest.mark.parametrize(("kind", "fields"), [("rooms", ROOM_FIELDS), ("groups", GROUP_FIELDS)])
async def test_rooms_and_groups_have_id_name_and_unique_name(
    sandbox: CelcatSandbox, inst: Institution, kind: str, fields: set[str]
) -> None:
    """Resources: "`GET /api/rooms`, `/api/groups` | rooms, groups: `id`, `name`,
    `uniqueName`"."""
    held = inst.rooms if kind == "rooms" else inst.groups
    async with http(sandbox) as client:
        rows, _ = await walk(client, f"/api/{kind}")
    assert all(set(row) >= fields for row in rows)
    assert {(r["id"], r["name"], r["uniqueName"]) for r in rows} == {
        (x.id, x.name, x.unique_name) for x in held.values()
    }


async def test_memberships_filter_by_group_and_student(
    sandbox: CelcatSandbox, inst: Institution
) -> None:
    """Resources: "`GET /api/student-membership?groupId=&studentId=` | group members:
    `groupId`, `studentId`"."""
    group, student = inst.memberships[0]
    async with http(sandbox) as client:
        of_group, _ = await walk(client, "/api/student-membership", {"groupId": str(group)})
        of_student, _ = await walk(client, "/api/student-membership", {"studentId": str(student)})
        everyone, _ = await walk(client, "/api/student-membership")
    pairs = set(inst.memberships)
    assert {(r["groupId"], r["studentId"]) for r in of_group} == {p for p in pairs if p[0] == group}
    assert {(r["groupId"], r["studentId"]) for r in of_student} == {
        p for p in pairs if p[1] == student
    }
    assert Counter((r["groupId"], r["studentId"]) for r in everyone) == Counter(inst.memberships)


# Records


async def test_the_same_event_id_is_two_events_in_two_timetables(
    sandbox: CelcatSandbox, inst: Institution
) -> None:
    """Records: "events belong to one timetable, and the same event id can exist in two
    timetables (two different events)"."""
    shared = sorted(set(inst.timetables[1].events) & set(inst.timetables[2].events))
    event_id = next(i for i in shared if inst.event(1, i).name != inst.event(2, i).name)
    names = []
    for timetable in (1, 2):
        async with http(sandbox, timetable=timetable) as client:
            names.append((await client.get(f"/api/events/{event_id}")).json()["name"])
    assert names == [inst.event(1, event_id).name, inst.event(2, event_id).name]


async def test_assignments_belong_to_the_event_on_every_date(
    sandbox: CelcatSandbox, inst: Institution
) -> None:
    """Records: "Assignments (staff, students, rooms, groups) belong to the event, i.e. to
    all its occurrences": they are asked for by event, with no date, and a date is
    refused."""
    event = sample(inst).grouped
    assert len(event.dates) > 1
    async with http(sandbox) as client:
        rows, _ = await walk(client, "/api/staff-assignments", {"eventId": str(event.id)})
        dated = await client.get(
            "/api/staff-assignments", params={"eventId": event.id, "date": START.isoformat()}
        )
    assert sorted(row["staffId"] for row in rows) == sorted(event.staff)
    assert dated.status_code == 400


@pytest.mark.parametrize("kind", ["students", "staff"])
async def test_people_carry_the_fields_named(
    sandbox: CelcatSandbox, inst: Institution, kind: str
) -> None:
    """Records: "Student [seen]: `id`, `uniqueName`, `name` (ONE field holding first and
    last name together), `email`, `mobileTelephone`, ..., `originId`"; "Staff [seen]: as
    student"."""
    async with http(sandbox) as client:
        rows, _ = await walk(client, f"/api/{kind}")
    assert all(set(row) >= PERSON_FIELDS for row in rows)
    assert all(isinstance(row["name"], str) and isinstance(row["id"], int) for row in rows)


async def test_groups_carry_the_fields_named(sandbox: CelcatSandbox) -> None:
    """Records: "Group [seen]: `id`, `uniqueName`, `name`, `departmentId`, `academicYear`"."""
    async with http(sandbox) as client:
        rows, _ = await walk(client, "/api/groups")
    assert rows
    assert all(set(row) >= GROUP_FIELDS for row in rows)


@pytest.mark.parametrize("layout", USER_NAME_FORMATS)
async def test_a_name_is_one_field_laid_out_as_the_institution_does(
    layout: UserNameFormat,
) -> None:
    """Records: "The combined `name`'s layout differs per institution: "SURNAME, Forename",
    "Forename SURNAME", "SURNAME Forename"..."."""
    inst = generate_institution(seed=4, start=START, days=7, user_name_format=layout)
    async with http(CelcatSandbox(inst, api_code=CODE)) as client:
        rows, _ = await walk(client, "/api/staff")
    written = {row["id"]: row["name"] for row in rows}
    assert written == {i: p.name for i, p in inst.staff.items()}
    commas = sum("," in name for name in written.values())
    assert (commas > len(written) // 2) == (layout == "LAST, First")


async def test_an_event_of_a_day_carries_the_fields_named(
    sandbox: CelcatSandbox, inst: Institution
) -> None:
    """Records: "Event ... `id` (int), `name`, `eventCategoryId`, `start` and `end`
    (local date-times of the occurrence on day D, `yyyy-MM-ddTHH:mm:ss`, no offset ...),
    `week`, `dayOfWeek`, `suspended` (bool), `notes`, `lastModified` (local date-time),
    `created` (local date-time)"."""
    day = sample(inst).day
    held = inst.timetables[1].events
    async with http(sandbox) as client:
        rows, _ = await walk(client, "/api/events", {"date": day.isoformat(), "detail": "extended"})
    clean = [row for row in rows if not (held[row["id"]].overrides or held[row["id"]].omitted)]
    assert clean
    for row in clean:
        assert set(row) >= EVENT_FIELDS
        assert type(row["id"]) is int
        assert isinstance(row["name"], str)
        assert type(row["eventCategoryId"]) is int
        assert type(row["suspended"]) is bool
        assert type(row["week"]) is int
        assert type(row["dayOfWeek"]) is int
        for field in ("start", "end", "lastModified", "created"):
            assert LOCAL.match(row[field]), (field, row[field])


async def test_start_and_end_are_the_local_times_on_the_day_asked(
    sandbox: CelcatSandbox, inst: Institution
) -> None:
    """Records: "`start` and `end` (local date-times of the occurrence on day D,
    `yyyy-MM-ddTHH:mm:ss`, no offset: the timetable's local time)"."""
    s = sample(inst)
    event = s.grouped
    async with http(sandbox) as client:
        for day in sorted(event.dates)[:3]:
            rows, _ = await walk(
                client, "/api/events", {"date": day.isoformat(), "detail": "extended"}
            )
            row = next(r for r in rows if r["id"] == event.id)
            assert datetime.fromisoformat(row["start"]) == datetime.combine(day, event.start)
            assert datetime.fromisoformat(row["end"]) == datetime.combine(day, event.end)


async def test_week_is_the_timetable_week_of_the_occurrence(
    sandbox: CelcatSandbox, inst: Institution
) -> None:
    """Records: "`week` (the timetable's week number of the occurrence)"; one occurrence a
    week apart from another is one week later."""
    event = sample(inst).grouped
    weeks = {}
    async with http(sandbox) as client:
        for day in sorted(event.dates):
            rows, _ = await walk(
                client, "/api/events", {"date": day.isoformat(), "detail": "extended"}
            )
            row = next(r for r in rows if r["id"] == event.id)
            weeks[day] = row["week"]
            assert row["week"] == inst.timetables[1].week_of(day)
            assert row["dayOfWeek"] == day.weekday()
    first = min(weeks)
    assert all(weeks[d] - weeks[first] == (d - first).days // 7 for d in weeks)


async def test_one_occurrence_per_timetable_event_and_date(
    sandbox: CelcatSandbox, inst: Institution
) -> None:
    """Records: "One occurrence is identified by (timetable id, event id, date)"."""
    for timetable in (1, 2):
        async with http(sandbox, timetable=timetable) as client:
            for offset in range(7):
                day = START + timedelta(days=offset)
                rows, _ = await walk(
                    client, "/api/events", {"date": day.isoformat(), "detail": "extended"}, 5
                )
                ids = [row["id"] for row in rows]
                assert len(ids) == len(set(ids)), (timetable, day)


# Where the contract is silent: the quirks, varied by seed.


async def listing(
    seed: int | None, inst: Institution, size: int = 40
) -> tuple[list[int], list[httpx.Response]]:
    async with http(CelcatSandbox(inst, api_code=CODE, quirks=Quirks(seed))) as client:
        rows, answers = await walk(client, "/api/students", size=size)
    return [row["id"] for row in rows], answers


async def test_quirks_shuffle_the_order_by_seed(inst: Institution) -> None:
    """Transport: nothing is said of the order of a list."""
    orders = [tuple((await listing(seed, inst))[0]) for seed in SEEDS]
    plain, _ = await listing(None, inst)
    assert plain == sorted(inst.students)
    assert len(set(orders)) == len(orders), "each seed its own order"
    assert all(sorted(order) == plain for order in orders)


async def test_quirks_serve_fewer_rows_than_asked(inst: Institution) -> None:
    """Transport: `pageSize` is asked for; nothing says the server honours it whole."""
    sizes = [len((await listing(seed, inst))[1][0].json()) for seed in SEEDS]
    assert all(1 <= size < 40 for size in sizes)
    assert len(set(sizes)) > 1
    _, plain = await listing(None, inst)
    assert len(plain[0].json()) == 40


async def test_quirks_leave_the_pagination_header_out_of_some_answers(inst: Institution) -> None:
    """Transport: the `Pagination` header is described, not promised on every answer."""
    present: Counter[bool] = Counter()
    for seed in SEEDS:
        _, answers = await listing(seed, inst)
        present.update("Pagination" in answer.headers for answer in answers)
    assert present[True]
    assert present[False]
    _, plain = await listing(None, inst)
    assert all("Pagination" in answer.headers for answer in plain)


async def test_quirks_add_unknown_fields_to_every_record(inst: Institution) -> None:
    """Records: the fields named are the ones read; a server may add others."""
    extras: set[frozenset[str]] = set()
    for seed in SEEDS:
        async with http(CelcatSandbox(inst, api_code=CODE, quirks=Quirks(seed))) as client:
            rows, _ = await walk(client, "/api/staff")
            one = (await client.get("/api/events/5001", params={"detail": "extended"})).json()
        for record, fields in ((one, EVENT_FIELDS), *((row, PERSON_FIELDS) for row in rows)):
            unknown = set(record) - fields
            assert unknown, record
            extras.add(frozenset(unknown))
    assert len(extras) > 1
    async with http(CelcatSandbox(inst, api_code=CODE, quirks=Quirks(None))) as client:
        plain, _ = await walk(client, "/api/staff")
    assert all(set(row) == PERSON_FIELDS for row in plain)


async def test_quirks_reword_error_texts(inst: Institution) -> None:
    """Transport: "No rate limit, date-time format or error body is documented"."""
    texts: Counter[str] = Counter()
    for seed in [*SEEDS, None]:
        sandbox = CelcatSandbox(inst, api_code=CODE, quirks=Quirks(seed))
        for path in ("/api/nothing", "/api/students"):
            async with http(sandbox, code="wrong") as client:
                refused = await client.get(path)
            assert refused.status_code == 401
            texts[refused.text] += 1
        async with http(sandbox, timetable=None) as client:
            required = await client.get("/api/students")
        assert required.status_code == 400
        texts[required.text] += 1
    assert len(texts) > 3, texts


def options(**values: Any) -> CelcatOptions:
    return CelcatOptions.model_validate(
        {"url": "http://celcat", "api_code": CODE, "page_size": 25, **values}
    )


async def test_the_client_reads_every_row_whatever_the_seed(inst: Institution) -> None:
    """Transport: paging, read with no trust in order, page size or the header."""
    read = {}
    for seed in [None, *SEEDS]:
        sandbox = CelcatSandbox(inst, api_code=CODE, quirks=Quirks(seed))
        async with http(sandbox, code=CODE, timetable=None) as raw:
            client = CelcatClient(
                raw, tenant="acme", retry=RetryPolicy(retries=0), page_size=25, sleep=FakeSleep()
            )
            rows = await client.rows("/api/student-membership", timetable=2)
        read[seed] = Counter((r["groupId"], r["studentId"]) for r in rows)
    assert all(found == Counter(inst.memberships) for found in read.values())


@pytest.mark.slow  # whole institutions, one per seed
async def test_the_source_reads_the_same_records_whatever_the_seed(
    memory_store: StateStore,
) -> None:
    """The whole CELCAT source over quirky servers: the same people, the same sessions,
    the same reasons as over a plain one."""
    inst = generate_institution(
        seed=3, start=date(2025, 10, 21), days=14, students=60, staff=10, groups=4
    )

    async def read(quirks: Quirks) -> tuple[list[Any], list[tuple[str, str, str, str | None]]]:
        sandbox = CelcatSandbox(inst, api_code=CODE, quirks=quirks)
        ctx = context(memory_store)
        seams = Seams(transports={"celcat": httpx.ASGITransport(sandbox.app)}, sleep=FakeSleep())
        async with open_source(Setup("acme", PARIS, options(), seams=seams)) as source:
            records = [r async for r in source.read(ctx)]
        events = sorted((str(e.status), e.reason, e.kind, e.key) for e in ctx.report.report.events)
        return sorted(records, key=lambda r: r.external_id), events

    plain, plain_events = await read(Quirks(None))
    assert sum(isinstance(r, Session) for r in plain) > 20
    assert sum(isinstance(r, Person) for r in plain) == len(inst.students) + len(inst.staff)
    for seed in SEEDS:
        records, events = await read(Quirks(seed))
        assert records == plain, seed
        assert events == plain_events, seed
