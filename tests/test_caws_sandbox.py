"""The CAWS sandbox's mechanics (docs/caws.md), held here so that the return-attendance
pipeline's tests stand on a fake that behaves like the real server: tokens that expire,
registers filtered by (events, weeks), PUTs that store only the marks flagged ``Modified``
and record who set them.

These tests are about the sandbox's state and validation, so they ask it for plain
answers (``Quirks(None)``); tests/contract/test_caws.py runs the contract against its
quirky default.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from adapters.celcat.caws_sandbox import CawsSandbox, Fault, Quirks, register_id, serve_app
from tests.doubles import GRANT

pytestmark = pytest.mark.anyio


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> CawsSandbox:
    caws = CawsSandbox(token_lifetime=60.0, clock=clock, quirks=Quirks(None))
    caws.add_register(5120, 7, staff_id=9, student_ids=[1, 2, 3])
    caws.add_register(5120, 8, staff_id=9, student_ids=[1, 2])
    caws.add_register(6000, 7, staff_id=4, student_ids=[5])
    return caws


@pytest.fixture
async def client(sandbox: CawsSandbox) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://caws") as http:
        yield http


async def login(client: httpx.AsyncClient, **changes: str) -> httpx.Response:
    return await client.post("/token", data={**GRANT, **changes})


async def authed(client: httpx.AsyncClient) -> dict[str, str]:
    response = await login(client)
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def registers_url(event_ids: list[int], weeks: list[int]) -> str:
    param = json.dumps({"EventIds": event_ids, "Weeks": weeks})
    return str(httpx.URL("/Registers", params={"jsonparam": param}))


def marked(register: dict[str, Any], student: int, mark: int, **more: Any) -> dict[str, Any]:
    """``register`` with one student's mark changed and flagged, as a client sends it."""
    for row in register["StudentMarks"]:
        if row["StudentId"] == student:
            row.update(MarkId=mark, Modified=True, **more)
    return register


def row_of(register: dict[str, Any], student: int) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in register["StudentMarks"] if r["StudentId"] == student)
    return found


async def test_password_grant_issues_a_bearer_token(client: httpx.AsyncClient) -> None:
    response = await login(client)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in"}, "no field the contract leaves out"
    assert body["expires_in"] == 60
    assert body["access_token"]
    assert body["access_token"] != (await login(client)).json()["access_token"]


@pytest.mark.parametrize(
    "change",
    [{"password": "nope"}, {"username": "eve"}, {"Timetable": "TT1999"}, {"Role": "Student"}],
)
async def test_wrong_credentials_are_an_invalid_grant(
    client: httpx.AsyncClient, change: dict[str, str]
) -> None:
    response = await login(client, **change)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_calls_without_a_valid_token_are_refused(client: httpx.AsyncClient) -> None:
    assert (await client.get("/MarkDefinitions")).status_code == 401
    forged = {"Authorization": "Bearer forged"}
    assert (await client.get("/MarkDefinitions", headers=forged)).status_code == 401


async def test_a_token_expires_with_its_lifetime(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    headers = await authed(client)
    clock.now += 59
    assert (await client.get("/MarkDefinitions", headers=headers)).status_code == 200
    clock.now += 1
    response = await client.get("/MarkDefinitions", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await client.get("/MarkDefinitions", headers=await authed(client))).status_code == 200


async def test_expire_tokens_invalidates_every_issued_token(
    client: httpx.AsyncClient, sandbox: CawsSandbox
) -> None:
    first, second = await authed(client), await authed(client)
    sandbox.expire_tokens()
    for headers in (first, second):
        assert (await client.get("/MarkDefinitions", headers=headers)).status_code == 401
    assert (await client.get("/MarkDefinitions", headers=await authed(client))).status_code == 200


async def test_mark_definitions(client: httpx.AsyncClient) -> None:
    response = await client.get("/MarkDefinitions", headers=await authed(client))
    assert response.status_code == 200
    marks = {m["Abbreviation"]: (m["MarkId"], m["Name"]) for m in response.json()}
    assert marks == {
        "P": (1, "Present"),
        "A": (2, "Absent"),
        "L": (3, "Late"),
        "E": (4, "Excused"),
        "AUT": (5, "Authorised"),
    }


async def test_registers_are_filtered_by_events_and_weeks(client: httpx.AsyncClient) -> None:
    headers = await authed(client)
    response = await client.get(registers_url([5120], [7, 8]), headers=headers)
    assert response.status_code == 200
    assert [(r["EventId"], r["Week"]) for r in response.json()] == [(5120, 7), (5120, 8)]
    response = await client.get(registers_url([5120, 6000], [7]), headers=headers)
    assert [(r["EventId"], r["Week"]) for r in response.json()] == [(5120, 7), (6000, 7)]
    assert (await client.get(registers_url([1], [7]), headers=headers)).json() == []


async def test_a_register_as_served(client: httpx.AsyncClient) -> None:
    """No ``Id``: the contract's register carries none (issue 13, point 2)."""
    response = await client.get(registers_url([6000], [7]), headers=await authed(client))
    assert response.json() == [
        {
            "EventId": 6000,
            "Week": 7,
            "StaffId": 4,
            "Closed": False,
            "StudentMarks": [
                {
                    "StudentId": 5,
                    "MarkId": None,
                    "MinsLate": 0,
                    "Comments": None,
                    "Source": None,
                    "UserId": None,
                    "Modified": False,
                }
            ],
        }
    ]


@pytest.mark.parametrize(
    "query", ["", "?jsonparam=not-json", '?jsonparam={"EventIds": [1]}', "?jsonparam=[1]"]
)
async def test_registers_need_a_filter(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/Registers{query}", headers=await authed(client))
    assert response.status_code == 400


def test_register_id_is_the_event_then_week_plus_one() -> None:
    assert register_id(5120, 7) == "512008"
    assert register_id(5120, 0) == "512001"
    assert register_id(42, 98) == "4299"
    with pytest.raises(ValueError, match="two digits"):
        register_id(42, 99)


async def test_put_stores_only_modified_marks_under_the_token_user(
    client: httpx.AsyncClient, sandbox: CawsSandbox
) -> None:
    sandbox.set_mark(5120, 7, 3, "E", user="teacher")
    headers = await authed(client)
    register = (await client.get(registers_url([5120], [7]), headers=headers)).json()[0]
    body = marked(register, 1, 3, MinsLate=12, Comments="bus")
    row_of(body, 2)["MarkId"] = 2  # changed but not flagged: ignored
    row_of(body, 3)["MarkId"] = 1  # likewise: the teacher's mark stays
    response = await client.put("/Registers/512008", json=body, headers=headers)
    assert response.status_code == 200
    stored = sandbox.register(5120, 7)
    assert response.json() == stored
    assert row_of(stored, 1) == {
        "StudentId": 1,
        "MarkId": 3,
        "MinsLate": 12,
        "Comments": "bus",
        "Source": "passerelle",
        "UserId": "passerelle",
        "Modified": False,
    }
    assert row_of(stored, 2)["MarkId"] is None
    assert row_of(stored, 2)["Source"] is None
    assert (row_of(stored, 3)["MarkId"], row_of(stored, 3)["UserId"]) == (4, "teacher")
    assert sandbox.puts == [("512008", body)]


async def test_a_refused_put_changes_nothing(
    client: httpx.AsyncClient, sandbox: CawsSandbox
) -> None:
    headers = await authed(client)
    before = sandbox.register(5120, 7)
    body = marked(marked(sandbox.register(5120, 7), 1, 1), 2, 99)
    response = await client.put("/Registers/512008", json=body, headers=headers)
    assert response.status_code == 400
    assert sandbox.register(5120, 7) == before
    assert sandbox.puts == []


def one_change(**row: Any) -> dict[str, Any]:
    """StudentMarks with student 1's mark changed as ``row`` says, the others as read."""
    rows = [
        {"StudentId": 1, "MarkId": 3, "Modified": True, **row},
        {"StudentId": 2, "MarkId": None, "Modified": False},
        {"StudentId": 3, "MarkId": None, "Modified": False},
    ]
    return {"StudentMarks": rows}


@pytest.mark.parametrize(
    ("path", "change", "status"),
    [
        ("/Registers/999901", {}, 404),
        ("/Registers/512008", {"Week": 8}, 400),  # derives to 512009
        ("/Registers/512008", {"EventId": 5121}, 400),
        ("/Registers/512008", {"Week": "7"}, 400),
        ("/Registers/512008", {"StudentMarks": "none"}, 400),
        ("/Registers/512008", {"StudentMarks": one_change()["StudentMarks"][:2]}, 400),
        ("/Registers/512008", one_change(StudentId=77), 400),
        ("/Registers/512008", one_change(MarkId=None), 400),
        ("/Registers/512008", one_change(MarkId="3"), 400),
        ("/Registers/512008", one_change(MinsLate=-5), 400),
        ("/Registers/512008", one_change(Comments=7), 400),
    ],
)
async def test_put_refusals(
    client: httpx.AsyncClient,
    sandbox: CawsSandbox,
    path: str,
    change: dict[str, Any],
    status: int,
) -> None:
    body = {**sandbox.register(5120, 7), **change}
    response = await client.put(path, json=body, headers=await authed(client))
    assert response.status_code == status
    assert sandbox.puts == []


async def test_the_change_the_refusals_start_from_is_accepted(
    client: httpx.AsyncClient, sandbox: CawsSandbox
) -> None:
    """So that each refusal above is the doing of its own change."""
    body = {**sandbox.register(5120, 7), **one_change()}
    response = await client.put("/Registers/512008", json=body, headers=await authed(client))
    assert response.status_code == 200
    assert row_of(sandbox.register(5120, 7), 1)["MarkId"] == 3


@pytest.mark.parametrize("field", ["EventId", "Week", "StaffId", "Closed", "StudentMarks"])
async def test_a_put_body_is_the_whole_register(
    client: httpx.AsyncClient, sandbox: CawsSandbox, field: str
) -> None:
    body = marked(sandbox.register(5120, 7), 1, 1)
    del body[field]
    response = await client.put("/Registers/512008", json=body, headers=await authed(client))
    assert response.status_code == 400
    assert row_of(sandbox.register(5120, 7), 1)["MarkId"] is None


async def test_a_put_body_may_carry_fields_it_was_served_with(
    client: httpx.AsyncClient, sandbox: CawsSandbox
) -> None:
    body = marked(sandbox.register(5120, 7), 1, 1)
    body["revision"] = 7
    row_of(body, 2)["Tags"] = []
    response = await client.put("/Registers/512008", json=body, headers=await authed(client))
    assert response.status_code == 200
    assert row_of(sandbox.register(5120, 7), 1)["MarkId"] == 1


async def test_student_marks_are_read_only(client: httpx.AsyncClient) -> None:
    """Every write is a 405. A read is not a wrong verb on a read-only resource, but the
    contract describes none: the sandbox serves none (404)."""
    headers = await authed(client)
    for method in ("PUT", "POST", "PATCH", "DELETE"):
        for path in ("/StudentMarks/1", "/StudentMarks"):
            response = await client.request(method, path, headers=headers)
            assert response.status_code == 405, (method, path)
    assert (await client.get("/StudentMarks/1", headers=headers)).status_code == 404


async def test_post_creates_a_register_once(
    client: httpx.AsyncClient, sandbox: CawsSandbox
) -> None:
    headers = await authed(client)
    new = {"EventId": 7000, "Week": 2, "StaffId": 4, "StudentMarks": [{"StudentId": 8}]}
    response = await client.post("/Registers", json=new, headers=headers)
    assert response.status_code == 201
    assert response.json() == sandbox.register(7000, 2)
    assert "Id" not in response.json()
    assert row_of(sandbox.register(7000, 2), 8)["MarkId"] is None
    before = sandbox.register(5120, 7)
    response = await client.post("/Registers", json=marked(before, 1, 1), headers=headers)
    assert response.status_code == 409
    assert response.text == "a register for this event and week exists already"
    assert row_of(sandbox.register(5120, 7), 1)["MarkId"] is None


async def test_wrong_verbs_and_unknown_routes(client: httpx.AsyncClient) -> None:
    headers = await authed(client)
    assert (await client.delete("/Registers/512008", headers=headers)).status_code == 405
    assert (await client.get("/Registers/512008", headers=headers)).status_code == 405
    assert (await client.get("/token")).status_code == 405
    assert (await client.get("/Timetables", headers=headers)).status_code == 404
    # Paths as the contract spells them: it says nothing of their case.
    assert (await client.get("/markdefinitions", headers=headers)).status_code == 404


async def test_set_mark_records_its_user(sandbox: CawsSandbox) -> None:
    sandbox.set_mark(5120, 7, 2, "AUT", user="teacher")
    row = row_of(sandbox.register(5120, 7), 2)
    assert (row["MarkId"], row["Source"], row["UserId"]) == (5, "teacher", "teacher")
    with pytest.raises(KeyError):
        sandbox.set_mark(5120, 7, 2, "Z", user="teacher")
    with pytest.raises(KeyError):
        sandbox.set_mark(5120, 7, 77, "P", user="teacher")


async def test_faults_apply(client: httpx.AsyncClient, sandbox: CawsSandbox) -> None:
    headers = await authed(client)
    sandbox.faults.append(Fault(method="PUT", path="/registers/", status=500, times=1))
    body = marked(sandbox.register(5120, 7), 1, 1)
    assert (await client.put("/Registers/512008", json=body, headers=headers)).status_code == 500
    assert row_of(sandbox.register(5120, 7), 1)["MarkId"] is None
    assert (await client.put("/Registers/512008", json=body, headers=headers)).status_code == 200
    assert sandbox.faults[0].fired == 1


async def test_calls_are_counted_per_route(client: httpx.AsyncClient, sandbox: CawsSandbox) -> None:
    headers = await authed(client)
    await client.get("/MarkDefinitions", headers=headers)
    await client.get(registers_url([5120], [7]), headers=headers)
    for week in (7, 8):
        body = sandbox.register(5120, week)
        assert (
            await client.put(f"/Registers/5120{week + 1:02d}", json=body, headers=headers)
        ).is_success
    assert sandbox.calls == {
        "POST /token": 1,
        "GET /MarkDefinitions": 1,
        "GET /Registers": 1,
        "PUT /Registers/{id}": 2,
    }
    assert sandbox.requests[-1].headers["authorization"] == headers["Authorization"]
    sandbox.reset_counts()
    assert not sandbox.calls
    assert not sandbox.requests


async def test_served_on_a_port() -> None:
    sandbox = CawsSandbox()
    sandbox.add_register(5120, 7, staff_id=9, student_ids=[1])
    async with serve_app(sandbox.app) as url, httpx.AsyncClient(base_url=url) as http:
        token = (await http.post("/token", data=GRANT)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        body = marked(sandbox.register(5120, 7), 1, 2)
        assert (await http.put("/Registers/512008", json=body, headers=headers)).status_code == 200
    assert row_of(sandbox.register(5120, 7), 1)["UserId"] == "passerelle"
