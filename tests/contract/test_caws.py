"""The CAWS sandbox held to the CAWS contract, one requirement at a time.

Each test's docstring quotes the line it checks, from the contract's "CAWS" section
(docs/caws.md restates it in the repository, section by section). The sandbox runs as it
does by default, quirky (``Quirks(0)``), or over several seeds: what the contract does
not promise (order, extra fields, error texts, ``expires_in`` on every grant, the answer
to a PUT) must be needed by no one. The last tests show the quirks vary by seed, that the
client stays under the base URL, and that the return-attendance pipeline leaves CAWS in
the same state whatever the seed.

Not enforced: "map present / absent / late / excused onto them by configuration" (the
client's configuration, tested in tests/test_return_attendance.py).

    .venv/bin/pytest tests/contract/test_caws.py -q
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from adapters.celcat import mapping
from adapters.celcat.caws_sandbox import QUIRKY, CawsSandbox, Quirks, register_id
from tests.doubles import GRANT
from tests.test_return_attendance import Back, ended_courses, synced_back, week_of
from tests.worlds import World

pytestmark = pytest.mark.anyio

SEEDS = range(6)
REGISTER_FIELDS = ("EventId", "Week", "StaffId", "Closed", "StudentMarks")


def caws(quirks: Quirks = QUIRKY) -> CawsSandbox:
    """Three registers: (5120, 7) and (5120, 8) of the same event, (6000, 7) another."""
    sandbox = CawsSandbox(quirks=quirks)
    sandbox.add_register(5120, 7, staff_id=9, student_ids=[1, 2, 3])
    sandbox.add_register(5120, 8, staff_id=9, student_ids=[1, 2])
    sandbox.add_register(6000, 7, staff_id=4, student_ids=[5])
    return sandbox


@pytest.fixture
def sandbox() -> CawsSandbox:
    return caws()


@pytest.fixture
async def back(world: World) -> Back:
    """The return trip of tests/test_return_attendance.py: a synced world, and CAWS."""
    return await synced_back(world)


def http(sandbox: CawsSandbox) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app), base_url="http://caws")


@pytest.fixture
async def client(sandbox: CawsSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with http(sandbox) as made:
        yield made


async def bearer(client: httpx.AsyncClient) -> dict[str, str]:
    answer = await client.post("/token", data=GRANT)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def filtered(event_ids: list[int], weeks: list[int]) -> dict[str, str]:
    return {"jsonparam": json.dumps({"EventIds": event_ids, "Weeks": weeks})}


async def read(
    client: httpx.AsyncClient, headers: dict[str, str], event: int, week: int
) -> dict[str, Any]:
    """The register of (event, week), as a client reads it."""
    answer = await client.get("/Registers", params=filtered([event], [week]), headers=headers)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = [
        r for r in answer.json() if (r["EventId"], r["Week"]) == (event, week)
    ]
    assert len(found) == 1
    return found[0]


def entry(register: dict[str, Any], student: int) -> dict[str, Any]:
    found: dict[str, Any] = next(m for m in register["StudentMarks"] if m["StudentId"] == student)
    return found


# Token


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_form_encoded_password_grant_gets_a_token(seed: int) -> None:
    """CAWS: "Auth: `POST {base}/token`, form-encoded
    `grant_type=password&username=&password=&Timetable=<alias>&Role=<role>`; answer holds
    `access_token`"."""
    async with http(caws(Quirks(seed))) as client:
        answer = await client.post("/token", data=GRANT)
        assert answer.status_code == 200
        token = answer.json()["access_token"]
        assert isinstance(token, str)
        assert token


@pytest.mark.parametrize("field", list(GRANT))
async def test_every_field_of_the_grant_is_required(client: httpx.AsyncClient, field: str) -> None:
    """CAWS: "form-encoded `grant_type=password&username=&password=&Timetable=<alias>&Role=<role>`":
    a grant without one of them, or with a wrong one, gets no token."""
    without = {k: v for k, v in GRANT.items() if k != field}
    assert (await client.post("/token", data=without)).status_code == 400
    wrong = {**GRANT, field: GRANT[field] + "x"}
    assert (await client.post("/token", data=wrong)).status_code == 400
    # Names are the contract's, spelt so: "timetable" is not "Timetable".
    renamed = {**without, field.lower() if field != field.lower() else field.upper(): GRANT[field]}
    assert (await client.post("/token", data=renamed)).status_code == 400


async def test_the_grant_is_form_encoded(client: httpx.AsyncClient) -> None:
    """CAWS: "`POST {base}/token`, form-encoded": a JSON grant, or one in the query string,
    is refused."""
    assert (await client.post("/token", json=GRANT)).status_code == 400
    assert (await client.post("/token", params=GRANT)).status_code == 400
    assert (await client.post("/token", data=GRANT)).status_code == 200


async def test_the_grant_type_is_password(client: httpx.AsyncClient) -> None:
    """CAWS: "`grant_type=password`"."""
    for grant_type in ("client_credentials", "Password", ""):
        answer = await client.post("/token", data={**GRANT, "grant_type": grant_type})
        assert answer.status_code == 400, grant_type


async def test_expires_in_is_assumed_so_sometimes_left_out() -> None:
    """CAWS: "answer holds `access_token` (and `expires_in` [assumed])": when given, the
    token's lifetime in seconds; over seeds and grants, sometimes not given at all."""
    seen: set[bool] = set()
    for seed in SEEDS:
        sandbox = CawsSandbox(token_lifetime=900.0, quirks=Quirks(seed))
        async with http(sandbox) as client:
            for _ in range(3):
                answer = (await client.post("/token", data=GRANT)).json()
                seen.add("expires_in" in answer)
                if "expires_in" in answer:
                    assert answer["expires_in"] == 900
    assert seen == {True, False}


ROUTES = [
    ("GET", "/MarkDefinitions", {}),
    ("GET", "/Registers", {"params": filtered([5120], [7])}),
    ("PUT", "/Registers/512008", {"json": {}}),
    ("POST", "/Registers", {"json": {}}),
    ("GET", "/StudentMarks/1", {}),
]


@pytest.mark.parametrize(("method", "path", "more"), ROUTES)
async def test_every_other_call_needs_the_bearer_token(
    sandbox: CawsSandbox,
    client: httpx.AsyncClient,
    method: str,
    path: str,
    more: dict[str, Any],
) -> None:
    """CAWS: "then `Authorization: Bearer <token>`": without it, or with a token the
    server did not grant, or the token under another scheme, a call is refused (401)."""
    token = (await bearer(client))["Authorization"].split()[1]
    for headers in (
        {},
        {"Authorization": "Bearer forged"},
        {"Authorization": f"Basic {token}"},
        {"Authorization": token},
    ):
        answer = await client.request(method, path, headers=headers, **more)
        assert answer.status_code == 401, headers
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    answer = await client.request(
        method, path, headers={"Authorization": f"Bearer {token}"}, **more
    )
    assert answer.status_code != 401


async def test_a_token_lives_as_long_as_expires_in_says() -> None:
    """CAWS: "`expires_in` [assumed]": the token is refused once its lifetime is over."""
    now = [0.0]
    sandbox = CawsSandbox(token_lifetime=120.0, clock=lambda: now[0])
    async with http(sandbox) as client:
        headers = await bearer(client)
        now[0] = 119.0
        assert (await client.get("/MarkDefinitions", headers=headers)).status_code == 200
        now[0] = 120.0
        assert (await client.get("/MarkDefinitions", headers=headers)).status_code == 401


# Mark definitions


@pytest.mark.parametrize("seed", SEEDS)
async def test_mark_definitions_are_the_institutions_marks(seed: int) -> None:
    """CAWS: "`GET MarkDefinitions`: the institution's marks (`MarkId`, `Name`,
    `Abbreviation`, ...)"."""
    sandbox = caws(Quirks(seed))
    async with http(sandbox) as client:
        answer = await client.get("/MarkDefinitions", headers=await bearer(client))
    assert answer.status_code == 200
    served = {(m["MarkId"], m["Name"], m["Abbreviation"]) for m in answer.json()}
    assert served == {tuple(m) for m in sandbox.marks.values()}


# Registers


@pytest.mark.parametrize("seed", SEEDS)
async def test_registers_are_read_by_events_and_weeks(seed: int) -> None:
    """CAWS: "`GET Registers?jsonparam=<url-encoded JSON>` with e.g.
    `{"EventIds": [..], "Weeks": [..]}`"."""
    async with http(caws(Quirks(seed))) as client:
        headers = await bearer(client)

        async def keys(events: list[int], weeks: list[int]) -> set[tuple[int, int]]:
            answer = await client.get("/Registers", params=filtered(events, weeks), headers=headers)
            assert answer.status_code == 200
            return {(r["EventId"], r["Week"]) for r in answer.json()}

        assert await keys([5120], [7, 8]) == {(5120, 7), (5120, 8)}
        assert await keys([5120, 6000], [7]) == {(5120, 7), (6000, 7)}
        assert await keys([1], [7]) == set()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"jsonparam": "not json"},
        {"jsonparam": "[1]"},
        {"jsonparam": "{}"},
        {"jsonParam": json.dumps({"EventIds": [5120], "Weeks": [7]})},
    ],
)
async def test_a_get_of_registers_without_a_filter_is_a_400(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    """CAWS: "a GET without a filter is a 400"."""
    answer = await client.get("/Registers", params=params, headers=await bearer(client))
    assert answer.status_code == 400


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_register_holds_the_fields_the_contract_lists(seed: int) -> None:
    """CAWS: "the whole register as read (`EventId`, `Week`, `StaffId`, `Closed`,
    `StudentMarks[]`, ...)", each mark with "`MarkId`, `MinsLate`, `Comments`"."""
    async with http(caws(Quirks(seed))) as client:
        register = await read(client, await bearer(client), 5120, 7)
    assert set(REGISTER_FIELDS) <= register.keys()
    assert (register["StaffId"], register["Closed"]) == (9, False)
    for mark in register["StudentMarks"]:
        assert {"MarkId", "MinsLate", "Comments"} <= mark.keys()


@pytest.mark.parametrize("seed", [None, *SEEDS])
async def test_a_register_as_read_carries_no_id_of_its_own(seed: int | None) -> None:
    """CAWS: "A register as read carries no id field of its own: the client derives the
    id from `EventId` and `Week`." (issue 13, point 2: no convenience ``Id``)."""
    async with http(caws(Quirks(seed))) as client:
        register = await read(client, await bearer(client), 5120, 7)
    assert not {"Id", "id", "ID", "RegisterId"} & register.keys()
    assert "512008" not in map(str, register.values()), "no field holds the register id"


def test_the_register_id_is_the_event_then_week_plus_one_as_two_digits() -> None:
    """CAWS: "`PUT Registers/{id}`, where id = event id followed by (week + 1) as two
    digits": the sandbox's derivation and the client's (mapping) agree."""
    assert register_id(5120, 7) == mapping.register_id(5120, 7) == "512008"
    assert mapping.register_id(5120, 0) == "512001"
    assert mapping.register_id(42, 98) == "4299"
    for event in (1, 99, 5120, 123456):
        for week in range(99):
            assert mapping.register_id(event, week) == register_id(event, week)
    for week in (-1, 99, 120):
        with pytest.raises(ValueError, match="week"):
            mapping.register_id(5120, week)


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_register_is_written_at_its_derived_id(seed: int) -> None:
    """CAWS: "`PUT Registers/{id}`, where id = event id followed by (week + 1) as two
    digits": the register goes back there; not at the event and week unshifted."""
    sandbox = caws(Quirks(seed))
    async with http(sandbox) as client:
        headers = await bearer(client)
        register = await read(client, headers, 5120, 7)
        entry(register, 1).update(MarkId=1, Modified=True)
        assert (await client.put("/Registers/51207", json=register, headers=headers)).is_error
        assert (await client.put("/Registers/512007", json=register, headers=headers)).is_error
        answer = await client.put("/Registers/512008", json=register, headers=headers)
    assert answer.status_code in (200, 204)
    assert entry(sandbox.register(5120, 7), 1)["MarkId"] == 1


@pytest.mark.parametrize("field", REGISTER_FIELDS)
async def test_a_put_body_is_the_whole_register_as_read(
    sandbox: CawsSandbox, client: httpx.AsyncClient, field: str
) -> None:
    """CAWS: "Body: the whole register as read (`EventId`, `Week`, `StaffId`, `Closed`,
    `StudentMarks[]`, ...)": a body without one of them is refused, and stores nothing."""
    headers = await bearer(client)
    register = await read(client, headers, 5120, 7)
    entry(register, 1).update(MarkId=1, Modified=True)
    del register[field]
    assert (
        await client.put("/Registers/512008", json=register, headers=headers)
    ).status_code == 400
    assert entry(sandbox.register(5120, 7), 1)["MarkId"] is None


async def test_a_put_body_is_the_register_of_its_path(
    sandbox: CawsSandbox, client: httpx.AsyncClient
) -> None:
    """CAWS: "Body: the whole register as read": another register's body, or one that
    leaves out students of the register, is refused."""
    headers = await bearer(client)
    other = await read(client, headers, 5120, 8)
    assert (await client.put("/Registers/512008", json=other, headers=headers)).status_code == 400
    register = await read(client, headers, 5120, 7)
    entry(register, 1).update(MarkId=1, Modified=True)
    register["StudentMarks"] = [m for m in register["StudentMarks"] if m["StudentId"] != 3]
    assert (
        await client.put("/Registers/512008", json=register, headers=headers)
    ).status_code == 400
    assert entry(sandbox.register(5120, 7), 1)["MarkId"] is None


@pytest.mark.parametrize("seed", SEEDS)
async def test_only_marks_flagged_modified_are_written(seed: int) -> None:
    """CAWS: "with each changed `StudentMarks[i]` edited (`MarkId`, `MinsLate`,
    `Comments`) and flagged `Modified: true`"."""
    sandbox = caws(Quirks(seed))
    async with http(sandbox) as client:
        headers = await bearer(client)
        register = await read(client, headers, 5120, 7)
        entry(register, 1).update(MarkId=3, MinsLate=12, Comments="bus", Modified=True)
        entry(register, 2).update(MarkId=2)  # edited, not flagged
        answer = await client.put("/Registers/512008", json=register, headers=headers)
        assert answer.is_success
    stored = sandbox.register(5120, 7)
    assert (entry(stored, 1)["MarkId"], entry(stored, 1)["MinsLate"]) == (3, 12)
    assert entry(stored, 1)["Comments"] == "bus"
    assert entry(stored, 2)["MarkId"] is None


@pytest.mark.parametrize("method", ["PUT", "POST", "PATCH", "DELETE"])
async def test_student_marks_are_read_only(client: httpx.AsyncClient, method: str) -> None:
    """CAWS: "`StudentMarks` itself is read only (405)"."""
    headers = await bearer(client)
    body = {"StudentId": 1, "MarkId": 1, "Modified": True}
    for path in ("/StudentMarks", "/StudentMarks/1"):
        answer = await client.request(method, path, json=body, headers=headers)
        assert answer.status_code == 405, path


async def test_an_unknown_register_id_is_a_404(client: httpx.AsyncClient) -> None:
    """CAWS: "Status codes: unknown id 404"."""
    headers = await bearer(client)
    register = await read(client, headers, 5120, 7)
    register.update(EventId=7777, Week=7)
    answer = await client.put("/Registers/777708", json=register, headers=headers)
    assert answer.status_code == 404


async def test_a_duplicate_register_is_a_409(
    sandbox: CawsSandbox, client: httpx.AsyncClient
) -> None:
    """CAWS: "Status codes: ... duplicate 409"."""
    headers = await bearer(client)
    register = await read(client, headers, 5120, 7)
    assert (await client.post("/Registers", json=register, headers=headers)).status_code == 409
    new = {"EventId": 7000, "Week": 2, "StaffId": 4, "Closed": False, "StudentMarks": []}
    assert (await client.post("/Registers", json=new, headers=headers)).status_code == 201
    assert (await client.post("/Registers", json=new, headers=headers)).status_code == 409


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/token"),
        ("PUT", "/MarkDefinitions"),
        ("DELETE", "/Registers"),
        ("GET", "/Registers/512008"),
        ("DELETE", "/Registers/512008"),
        ("POST", "/Registers/512008"),
    ],
)
async def test_a_wrong_verb_is_a_405(client: httpx.AsyncClient, method: str, path: str) -> None:
    """CAWS: "Status codes: ... wrong verb 405"."""
    answer = await client.request(method, path, headers=await bearer(client))
    assert answer.status_code == 405


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_mark_written_through_caws_records_the_tokens_user(seed: int) -> None:
    """CAWS: "Each mark records who set it (`Source` / `UserId`): a mark written through
    CAWS carries the token's user." """
    sandbox = caws(Quirks(seed))
    sandbox.set_mark(5120, 7, 2, "A", user="teacher")
    async with http(sandbox) as client:
        headers = await bearer(client)
        register = await read(client, headers, 5120, 7)
        assert "teacher" in (entry(register, 2)["Source"], entry(register, 2)["UserId"])
        entry(register, 1).update(MarkId=1, Modified=True)
        assert (await client.put("/Registers/512008", json=register, headers=headers)).is_success
        register = await read(client, headers, 5120, 7)
    assert "passerelle" in (entry(register, 1)["Source"], entry(register, 1)["UserId"])
    assert "teacher" in (entry(register, 2)["Source"], entry(register, 2)["UserId"])


# Where the contract is silent: the least convenient legal answer, by seed


async def served(seed: int | None) -> dict[str, Any]:
    """What a client is served by a sandbox of this seed: the token answer, the mark
    definitions, the registers of event 5120, the texts of a 400, a 401 and a 404, and
    the answer to a PUT."""
    sandbox = caws(Quirks(seed))
    async with http(sandbox) as client:
        token = (await client.post("/token", data=GRANT)).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        definitions = (await client.get("/MarkDefinitions", headers=headers)).json()
        registers = (
            await client.get("/Registers", params=filtered([5120], [7, 8]), headers=headers)
        ).json()
        texts = [
            (await client.get("/Registers", headers=headers)).text,
            (await client.get("/MarkDefinitions")).text,
            (await client.get("/Nowhere", headers=headers)).text,
        ]
        register = next(r for r in registers if r["Week"] == 7)
        put = await client.put("/Registers/512008", json=register, headers=headers)
    return {
        "token": token,
        "definitions": definitions,
        "registers": registers,
        "texts": texts,
        "put": (put.status_code, put.content),
    }


async def test_quirks_vary_by_seed_and_are_the_same_for_a_seed() -> None:
    """Where the contract is silent (order, extra fields, error texts, ``expires_in``,
    the answer to a PUT), each seed answers its own way, the same at every run."""
    answers = [await served(seed) for seed in SEEDS]
    again = await served(SEEDS[0])
    assert {**again, "token": None, "put": None} == {
        **answers[0],
        "token": None,
        "put": None,
    }, "a seed replays exactly (but for the token itself)"

    def variants(pick: Any) -> int:
        return len({json.dumps(pick(a), sort_keys=False) for a in answers})

    assert variants(lambda a: [d["MarkId"] for d in a["definitions"]]) > 1, "order"
    assert variants(lambda a: [(r["EventId"], r["Week"]) for r in a["registers"]]) > 1
    marks_order = [
        [m["StudentId"] for m in r["StudentMarks"]]
        for a in answers
        for r in a["registers"]
        if r["Week"] == 7
    ]
    assert len({tuple(o) for o in marks_order}) > 1, "the marks of a register, in any order"
    assert variants(lambda a: sorted(a["definitions"][0])) > 1, "extra fields"
    assert variants(lambda a: a["texts"]) > 1, "error texts"
    assert variants(lambda a: "expires_in" in a["token"]) == 2
    assert len({a["put"][0] for a in answers}) == 2, "200 with the register, or 204"


@pytest.mark.parametrize("seed", SEEDS)
async def test_quirky_records_carry_fields_the_contract_does_not_list(seed: int) -> None:
    """CAWS lists fields with "...": a record may carry others, which a client must
    neither need nor choke on."""
    answer = await served(seed)
    assert set(answer["token"]) - {"access_token", "expires_in"}
    assert all(set(d) - {"MarkId", "Name", "Abbreviation"} for d in answer["definitions"])
    assert all(set(r) - set(REGISTER_FIELDS) for r in answer["registers"])


async def test_no_quirks_answers_plainly() -> None:
    """``Quirks(None)``: the contract's fields only, in the sandbox's own order, error
    texts as written, ``expires_in`` always, and a 200 with the register to a PUT."""
    answer = await served(None)
    assert set(answer["token"]) == {"access_token", "expires_in"}
    assert [d["MarkId"] for d in answer["definitions"]] == [1, 2, 3, 4, 5]
    assert [(r["EventId"], r["Week"]) for r in answer["registers"]] == [(5120, 7), (5120, 8)]
    assert set(answer["registers"][0]) == set(REGISTER_FIELDS)
    assert answer["texts"][1] == "Authorization has been denied for this request."
    assert answer["put"][0] == 200


# The client, against it


async def test_the_client_stays_under_the_base_url(back: Back) -> None:
    """CAWS: "Base URL e.g. `https://celcat.example.edu/CAWS/`. Auth: `POST {base}/token`":
    every call of the client goes under the base URL's path."""
    inner = httpx.ASGITransport(back.caws.app)
    paths: list[str] = []

    class UnderCaws(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            paths.append(request.url.path)
            if not request.url.path.startswith("/CAWS/"):
                return httpx.Response(404)
            request.url = request.url.copy_with(path=request.url.path.removeprefix("/CAWS"))
            return await inner.handle_async_request(request)

    back.transport = UnderCaws()
    back.caws_url = "http://celcat.example.edu/CAWS/"
    back.world.school.sign(*first_signature(back.world))
    report = await back.run()
    assert report.outcome == "ok", report.events[:3]
    assert "/CAWS/token" in paths
    assert all(p.startswith("/CAWS/") for p in paths)
    assert back.caws.puts


def first_signature(world: World) -> tuple[str, str]:
    course = ended_courses(world)[0]
    return course["ID"], course["STUDENTS"][0]["studentId"]


async def test_the_pipeline_leaves_caws_in_the_same_state_whatever_the_seed(back: Back) -> None:
    """Nothing the contract leaves open changes what reaches CELCAT: the return-attendance
    pipeline, run against CAWS sandboxes of several seeds and a plain one, leaves every
    register in the same state (marks, minutes late, setters)."""
    world = back.world
    course = ended_courses(world)[0]
    students = [e["studentId"] for e in course["STUDENTS"]]
    world.school.sign(course["ID"], students[0])
    world.school.sign(course["ID"], students[1], delay=9)
    world.school.sign(course["ID"], students[2], signed=False, absence_id="abs1")
    _, tt, ev, day = course["API_ID"].split(":")
    week = week_of(world, int(tt), int(ev), day)
    teacher_marks = int(world.school.students[students[3]]["API_ID"].split(":")[-1])
    template = back.caws

    async def final_state(quirks: Quirks) -> dict[tuple[int, int], dict[str, Any]]:
        back.caws = CawsSandbox(quirks=quirks)
        for (event, week_), register in sorted(registers_of(template).items()):
            back.caws.add_register(
                event,
                week_,
                staff_id=register["StaffId"],
                student_ids=[m["StudentId"] for m in register["StudentMarks"]],
            )
        back.caws.set_mark(int(ev), week, teacher_marks, "AUT", user="teacher.dupont")
        state = world.store.for_tenant("acme")
        for key in await state.load("mark"):
            await state.forget("mark", key)  # each CAWS server gets every mark afresh
        report = await back.run()
        assert report.outcome == "ok", (quirks, report.events[:3])
        return registers_of(back.caws)

    plain = await final_state(Quirks(None))
    marked = [m for r in plain.values() for m in r["StudentMarks"] if m["MarkId"] is not None]
    assert len(marked) > 10, "the run wrote marks"
    assert plain[(int(ev), week)] != registers_of(template)[(int(ev), week)]
    for seed in range(5):
        assert await final_state(Quirks(seed)) == plain, f"seed {seed}"


def registers_of(sandbox: CawsSandbox) -> dict[tuple[int, int], dict[str, Any]]:
    """Every register the sandbox holds, by (event, week), marks sorted by student."""
    found: dict[tuple[int, int], dict[str, Any]] = {}
    for key in sandbox.register_keys():
        register = sandbox.register(*key)
        register["StudentMarks"].sort(key=lambda m: m["StudentId"])
        found[key] = register
    return found
