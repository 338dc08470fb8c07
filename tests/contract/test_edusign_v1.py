"""The Edusign v1 sandbox held to the Edusign v1 contract, one requirement at a time.

Each test's docstring quotes the line it checks, under the contract's section (Transport,
External ids, Students, Professors, Groups, Courses, Attendance; docs/edusign-v1.md
restates them in the repository). The sandbox runs quirky, over several seeds: what the
contract does not quote (error wordings), promise (an order, the students' page size, what
a write other than a creation answers) or name (fields beyond its own) must be needed by
no one, so these tests assert only what the contract says. The last tests show the quirks
vary by seed, and that a sync ends with the same Edusign content whatever the seed.

Not enforced here, being the client's part: pacing itself under the rate limit, treating
429 and 5xx as retryable, looking a student up by email before creating, and never
touching a resource without the connector's ``API_TYPE`` (tests/test_edusign_sink.py).

    .venv/bin/pytest tests/contract/test_edusign_v1.py -q
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from core.sandbox.quirks import Quirks
from core.state import open_state
from sinks.edusign.sandbox import EdusignSandbox, Fault, School
from tests.doubles import FakeTime
from tests.test_faults import snapshot
from tests.worlds import new_world

pytestmark = pytest.mark.anyio

KEY, OTHER_KEY = "key-acme", "key-beta"
SEEDS = (0, 1, 2)
START, END = "2025-10-21T09:00:00+02:00", "2025-10-21T11:30:00+02:00"
ID = re.compile(r"[a-z0-9]{16}")
ENTRY_FIELDS = {
    "studentId", "state", "timestamp", "signature", "signatureEmail", "delay",
    "earlyDeparture", "absenceId", "excluded", "comment",
}  # fmt: skip
QUOTED = (
    "Professor already exists in this school",
    "Student already in the list",
    "Course already locked",
    "No course with this ID found",
)


@pytest.fixture(params=SEEDS, ids=lambda seed: f"seed{seed}")
def sandbox(request: pytest.FixtureRequest) -> EdusignSandbox:
    sandbox = EdusignSandbox(quirks=Quirks(request.param))
    sandbox.add_school(KEY, name="Acme Formation")
    sandbox.add_school(OTHER_KEY, name="Beta Campus")
    return sandbox


@pytest.fixture
def school(sandbox: EdusignSandbox) -> School:
    return sandbox.schools[KEY]


@pytest.fixture
async def http(sandbox: EdusignSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with client(sandbox) as made:
        yield made


def client(sandbox: EdusignSandbox, key: str | None = KEY) -> httpx.AsyncClient:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app), base_url="http://edusign", headers=headers
    )


def ok(response: httpx.Response) -> Any:
    """The result of a successful answer."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success", body
    return body.get("result")


def refused(response: httpx.Response) -> str | list[str]:
    """The message of an error answer, whatever its words."""
    body = response.json()
    assert body["status"] == "error", body
    message = body["message"]
    if isinstance(message, list):
        assert all(isinstance(m, str) for m in message), message
        return [str(m) for m in message]
    assert isinstance(message, str), message
    return message


def person(n: int, **fields: Any) -> dict[str, Any]:
    return {"FIRSTNAME": f"Ann{n}", "LASTNAME": f"LEE{n}", "EMAIL": f"ann{n}@example.org"} | fields


def course(professor: str, **fields: Any) -> dict[str, Any]:
    return {
        "NAME": "Algèbre",
        "START": START,
        "END": END,
        "PROFESSOR": professor,
        "NEED_STUDENTS_SIGNATURE": True,
    } | fields


async def all_pages(http: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every row of a list, page after page until an empty one (whatever a page holds)."""
    rows: list[dict[str, Any]] = []
    for page in range(1000):
        got = ok(await http.get(path, params={**params, "page": page}))
        if not got:
            return rows
        rows += got
    raise AssertionError("the list does not end")


# Transport


async def test_every_path_is_under_v1(http: httpx.AsyncClient) -> None:
    """Transport: "Base URL `https://ext.edusign.fr`, every path under `/v1/`." """
    assert ok(await http.get("/v1/school"))
    for outside in ("/school", "/v2/school", "/student"):
        response = await http.get(outside)
        assert (response.status_code, response.text) == (404, "Not Found")


async def test_the_key_goes_in_a_bearer_header(sandbox: EdusignSandbox) -> None:
    """Transport: "Auth: header `Authorization: Bearer <API key>`." """
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}):
        async with client(sandbox, None) as anonymous:
            response = await anonymous.get("/v1/school", headers=headers)
        assert (response.status_code, response.text) == (401, "Unauthorized")
    async with client(sandbox, None) as keyed:
        assert ok(await keyed.get("/v1/school", headers={"Authorization": f"Bearer {KEY}"}))


async def test_one_key_is_one_school_with_no_school_parameter(sandbox: EdusignSandbox) -> None:
    """Transport: "One key belongs to one school (one "company"); there is no school id
    parameter." """
    async with client(sandbox) as acme, client(sandbox, OTHER_KEY) as beta:
        made = ok(await acme.post("/v1/student", json={"student": person(1, API_ID="s:1")}))
        acme_school = ok(await acme.get("/v1/school"))
        beta_school = ok(await beta.get("/v1/school", params={"schoolId": acme_school["ID"]}))
        assert beta_school["ID"] != acme_school["ID"], "a parameter does not pick the school"
        refused(await beta.get(f"/v1/student/{made['ID']}"))
        refused(await beta.get("/v1/student/get-id/s:1"))
        assert ok(await beta.get("/v1/student")) == []


async def test_get_school_returns_the_school_of_the_key(
    http: httpx.AsyncClient, school: School
) -> None:
    """Transport: "`GET /v1/school` returns the school and is the cheapest way to check a
    key." """
    shown = ok(await http.get("/v1/school"))
    assert (shown["ID"], shown["NAME"]) == (school.id, "Acme Formation")


async def test_every_json_answer_is_the_envelope(http: httpx.AsyncClient, school: School) -> None:
    """Transport: "JSON everywhere. Envelope: `{"status": "success" | "error", "result":
    ..., "message": ...}`." """
    professor = school.add_professor(**person(1))
    sheet = school.add_course(**course(professor))
    answers = [
        await http.get("/v1/school"),
        await http.get("/v1/student"),
        await http.get(f"/v1/course/{sheet}"),
        await http.get("/v1/course/get-id/nothing"),
        await http.post("/v1/student", json={"student": {}}),
        await http.post("/v1/professor", json={"professor": person(1)}),
        await http.patch("/v1/course", json={"course": {"ID": sheet, "NAME": "B"}}),
        await http.get(f"/v1/course/lock/{sheet}"),
        await http.get(f"/v1/course/lock/{sheet}"),
    ]
    for response in answers:
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["status"] in ("success", "error"), body
        assert ("result" in body) if body["status"] == "success" else ("message" in body)
    assert {r.json()["status"] for r in answers} == {"success", "error"}


async def test_a_validation_message_is_a_list_of_strings(http: httpx.AsyncClient) -> None:
    """Transport: "`message` may be a string or a list of strings (validation)." """
    message = refused(await http.post("/v1/student", json={"student": {"PHONE": "0600"}}))
    assert isinstance(message, list)
    assert len(message) == 3, "one per missing mandatory field"


async def test_some_failures_are_plain_text(sandbox: EdusignSandbox) -> None:
    """Transport: "Some failures are plain text bodies (`Unauthorized`, `Not Found`,
    `Internal Server Error`)." """
    sandbox.faults = [Fault(path="^/v1/student$", status=500, times=1)]
    async with client(sandbox) as http, client(sandbox, "nobody") as stranger:
        answers = [
            await stranger.get("/v1/school"),
            await http.get("/v1/nothing-here"),
            await http.get("/v1/student"),
        ]
    assert [(r.status_code, r.text) for r in answers] == [
        (401, "Unauthorized"),
        (404, "Not Found"),
        (500, "Internal Server Error"),
    ]
    assert all(r.headers["content-type"].startswith("text/plain") for r in answers)


async def test_a_business_error_comes_back_with_http_200(
    http: httpx.AsyncClient, school: School
) -> None:
    """Transport: "A client must read `status` even on HTTP 200: an error can come back
    with 200." """
    school.add_professor(**person(1))
    for response in (
        await http.post("/v1/professor", json={"professor": person(1)}),
        await http.get("/v1/course/nope"),
        await http.get("/v1/student/get-id/nobody"),
    ):
        assert response.status_code == 200
        refused(response)


async def test_past_480_requests_a_minute_the_server_delays_rather_than_rejects() -> None:
    """Transport: "Rate limit: 480 requests/minute per key. Past it, the server *delays*
    each request (+100 ms, growing) rather than rejecting it." """
    fake = FakeTime()
    sandbox = EdusignSandbox(clock=fake.clock, sleep=fake.sleep)
    sandbox.add_school(KEY)
    async with client(sandbox) as http:
        for _ in range(483):
            ok(await http.get("/v1/school"))
    assert fake.sleeps == pytest.approx([0.1, 0.2, 0.3])
    assert sandbox.slowed[KEY] == 3


async def test_dates_go_with_an_offset_and_come_back_in_utc(
    http: httpx.AsyncClient, school: School
) -> None:
    """Transport: "Dates: ISO 8601. Send with an explicit offset or `Z`; the server answers
    in UTC (`...000Z`)." """
    professor = school.add_professor(**person(1))
    naive = course(professor, START="2025-10-21T09:00:00", END="2025-10-21T10:00:00")
    refused(await http.post("/v1/course", json={"course": naive}))
    zulu = course(professor, START="2025-10-21T07:00:00Z", END="2025-10-21T08:00:00Z")
    for sent in (course(professor), zulu):
        made = ok(await http.post("/v1/course", json={"course": sent}))
        shown = ok(await http.get(f"/v1/course/{made['ID']}"))
        assert shown["START"] == "2025-10-21T07:00:00.000Z"


async def test_ids_are_16_lowercase_alphanumerics(http: httpx.AsyncClient, school: School) -> None:
    """Transport: "Ids: 16-char lowercase alphanumeric strings." """
    made = [
        ok(await http.post("/v1/student", json={"student": person(1)}))["ID"],
        ok(await http.post("/v1/professor", json={"professor": person(1)}))["ID"],
        ok(await http.post("/v1/group", json={"group": {"NAME": "G"}}))["ID"],
        school.id,
    ]
    assert all(ID.fullmatch(i) for i in made), made


async def test_courses_come_40_a_page_from_page_0_and_a_short_page_is_the_last(
    http: httpx.AsyncClient, school: School
) -> None:
    """Transport: "Paging: `page` starts at 0. Courses: 40 per page. ... A short page is
    the last page." """
    professor = school.add_professor(**person(1))
    made = {school.add_course(**course(professor, NAME=f"c{n}")) for n in range(85)}
    pages = [ok(await http.get("/v1/course", params={"page": p})) for p in range(3)]
    assert [len(p) for p in pages] == [40, 40, 5]
    assert sorted(c["ID"] for p in pages for c in p) == sorted(made), "each once"


async def test_professors_come_100_a_page_and_the_page_is_required(
    http: httpx.AsyncClient, school: School
) -> None:
    """Transport: "Professors: 100 per page, `page` required." """
    made = {school.add_professor(**person(n)) for n in range(150)}
    refused(await http.get("/v1/professor"))
    pages = [ok(await http.get("/v1/professor", params={"page": p})) for p in range(2)]
    assert [len(p) for p in pages] == [100, 50]
    assert sorted(p["ID"] for page in pages for p in page) == sorted(made)


async def test_students_take_page_limit_updated_after_and_search(
    http: httpx.AsyncClient, school: School
) -> None:
    """Transport: "Students: `page`, `limit`, `updatedAfter`, `search`." """
    made = {school.add_student(**person(n)) for n in range(30)}
    zoe = school.add_student(**person(99, FIRSTNAME="Zoé", EMAIL="zoe@campus.fr"))
    for page in range(3):
        assert len(ok(await http.get("/v1/student", params={"page": page, "limit": 7}))) <= 7
    listed = await all_pages(http, "/v1/student", limit=7)
    assert sorted(s["ID"] for s in listed) == sorted(made | {zoe})
    assert [s["ID"] for s in ok(await http.get("/v1/student", params={"search": "zoé"}))] == [zoe]
    future = {"updatedAfter": "2999-01-01T00:00:00Z"}
    assert ok(await http.get("/v1/student", params=future)) == []
    past = {"updatedAfter": "2000-01-01T00:00:00Z", "limit": 1000}
    assert len(await all_pages(http, "/v1/student", **past)) == 31


# External ids


async def test_every_resource_keeps_its_api_id_and_api_type(
    http: httpx.AsyncClient, school: School
) -> None:
    """External ids: "Every resource accepts `API_ID` (the connector's own id for it) and
    `API_TYPE` (a connector name)." """
    mark = {"API_ID": "ours:1", "API_TYPE": "passerelle"}
    professor = ok(await http.post("/v1/professor", json={"professor": person(1, **mark)}))["ID"]
    bodies = {
        "student": {"student": person(1, **mark)},
        "group": {"group": {"NAME": "G", **mark}},
        "course": {"course": course(professor, **mark)},
    }
    made = {"professor": professor}
    for kind, body in bodies.items():
        made[kind] = ok(await http.post(f"/v1/{kind}", json=body))["ID"]
    for kind, remote_id in made.items():
        shown = ok(await http.get(f"/v1/{kind}/{remote_id}"))
        assert (shown["API_ID"], shown["API_TYPE"]) == ("ours:1", "passerelle"), kind


async def test_get_id_answers_the_id_in_result(http: httpx.AsyncClient, school: School) -> None:
    """External ids: "`GET /v1/{student|professor|course|group}/get-id/{API_ID}` answers
    `{"id": "<edusign id>"}` in `result`." """
    professor = school.add_professor(**person(1, API_ID="x:professor"))
    made = {
        "professor": professor,
        "student": school.add_student(**person(1, API_ID="x:student")),
        "group": school.add_group(NAME="G", API_ID="x:group"),
        "course": school.add_course(**course(professor, API_ID="x:course")),
    }
    for kind, remote_id in made.items():
        assert ok(await http.get(f"/v1/{kind}/get-id/x:{kind}")) == {"id": remote_id}


async def test_get_id_of_an_unknown_api_id_is_an_error(http: httpx.AsyncClient) -> None:
    """External ids: "... or an error when unknown. The wording of that error is not
    documented and differs between resources." """
    for kind in ("student", "professor", "group", "course"):
        response = await http.get(f"/v1/{kind}/get-id/nobody:1")
        assert response.status_code == 200
        refused(response)


async def test_there_is_no_upsert_by_api_id(http: httpx.AsyncClient) -> None:
    """External ids: "There is no upsert by `API_ID` in v1: clients do get-id, then PATCH if
    found, else POST." """
    first = ok(await http.post("/v1/student", json={"student": person(1, API_ID="s:1")}))
    second = ok(await http.post("/v1/student", json={"student": person(2, API_ID="s:1")}))
    assert first["ID"] != second["ID"], "a second POST creates a second student"


# Students


async def test_students_are_listed(http: httpx.AsyncClient, school: School) -> None:
    """Students: "`GET /v1/student?page=&limit=&updatedAfter=&search=` | list" """
    made = {school.add_student(**person(n)) for n in range(3)}
    listed = ok(await http.get("/v1/student"))
    assert sorted(s["ID"] for s in listed) == sorted(made)
    assert all(s["EMAIL"] for s in listed)


async def test_a_student_is_read_by_id(http: httpx.AsyncClient, school: School) -> None:
    """Students: "`GET /v1/student/{id}` | one" """
    student = school.add_student(**person(1))
    shown = ok(await http.get(f"/v1/student/{student}"))
    assert (shown["ID"], shown["EMAIL"]) == (student, "ann1@example.org")
    refused(await http.get(f"/v1/student/{'z' * 16}"))


async def test_a_student_is_read_by_urlencoded_email_archived_ones_with_hidden_1(
    http: httpx.AsyncClient, school: School
) -> None:
    """Students: "`GET /v1/student/by-email/{urlencoded email}` | one; archived ones come
    back with `HIDDEN: 1`" """
    student = school.add_student(**person(1, EMAIL="ann.lee+cours@example.org"))
    path = f"/v1/student/by-email/{quote('ann.lee+cours@example.org', safe='')}"
    assert ok(await http.get(path))["ID"] == student
    ok(await http.delete(f"/v1/student/{student}"))
    shown = ok(await http.get(path))
    assert (shown["ID"], shown["HIDDEN"]) == (student, 1)
    refused(await http.get("/v1/student/by-email/nobody%40example.org"))


async def test_students_are_read_by_ids(http: httpx.AsyncClient, school: School) -> None:
    """Students: "`POST /v1/student/by-ids` `{"studentIds": [...]}` | many by id" """
    made = [school.add_student(**person(n)) for n in range(3)]
    many = ok(await http.post("/v1/student/by-ids", json={"studentIds": made[:2]}))
    assert sorted(s["ID"] for s in many) == sorted(made[:2])


async def test_creating_a_student_answers_its_id(http: httpx.AsyncClient, school: School) -> None:
    """Students: "`POST /v1/student` `{"student": {...}}` | `{"ID"}`" """
    result = ok(await http.post("/v1/student", json={"student": person(1)}))
    assert set(result) == {"ID"}
    assert school.students[result["ID"]]["EMAIL"] == "ann1@example.org"


async def test_a_student_patch_needs_id_first_and_last_name(
    http: httpx.AsyncClient, school: School
) -> None:
    """Students: "`PATCH /v1/student` `{"student": {"ID", ...}}` | update; `ID`,
    `FIRSTNAME`, `LASTNAME` required" """
    student = school.add_student(**person(1, PHONE="0601"))
    whole = {"ID": student, "FIRSTNAME": "Anne", "LASTNAME": "LEE", "PHONE": "0602"}
    for missing in ("ID", "FIRSTNAME", "LASTNAME"):
        lacking = {k: v for k, v in whole.items() if k != missing}
        refused(await http.patch("/v1/student", json={"student": lacking}))
    assert school.students[student]["PHONE"] == "0601", "nothing changed"
    ok(await http.patch("/v1/student", json={"student": whole}))
    shown = ok(await http.get(f"/v1/student/{student}"))
    assert (shown["FIRSTNAME"], shown["PHONE"]) == ("Anne", "0602")


async def test_deleting_a_student_archives_it_and_restore_brings_it_back(
    http: httpx.AsyncClient, school: School
) -> None:
    """Students: "`DELETE /v1/student/{id}` | archive (`HIDDEN` = 1)"; "`GET
    /v1/student/restore/{id}` | un-archive" """
    student = school.add_student(**person(1))
    ok(await http.delete(f"/v1/student/{student}"))
    assert ok(await http.get(f"/v1/student/{student}"))["HIDDEN"] == 1
    ok(await http.get(f"/v1/student/restore/{student}"))
    assert ok(await http.get(f"/v1/student/{student}"))["HIDDEN"] == 0


async def test_a_student_needs_first_name_last_name_and_email(
    http: httpx.AsyncClient, school: School
) -> None:
    """Students: "Student fields: `FIRSTNAME`*, `LASTNAME`*, `EMAIL`* ... (* mandatory)" """
    for missing in ("FIRSTNAME", "LASTNAME", "EMAIL"):
        lacking = {k: v for k, v in person(1).items() if k != missing}
        refused(await http.post("/v1/student", json={"student": lacking}))
    assert school.students == {}


async def test_a_student_holds_the_contract_fields(http: httpx.AsyncClient) -> None:
    """Students: "`PHONE`, `GROUPS` (list of group ids), `API_ID`, `API_TYPE`,
    `SEND_EMAIL_CREDENTIALS` (bool ...), `NEW_PASSWORD_NEEDED`, `FILE_NUMBER`, `TAGS`,
    `HIDDEN`." """
    group = ok(await http.post("/v1/group", json={"group": {"NAME": "G"}}))["ID"]
    given = person(
        1,
        PHONE="+33600000001",
        GROUPS=[group],
        SEND_EMAIL_CREDENTIALS=False,
        NEW_PASSWORD_NEEDED=True,
        FILE_NUMBER="F-1",
        TAGS=["alternance"],
    )
    made = ok(await http.post("/v1/student", json={"student": given}))["ID"]
    shown = ok(await http.get(f"/v1/student/{made}"))
    assert {k: shown[k] for k in given} == given
    assert shown["HIDDEN"] == 0


async def test_a_second_student_with_an_email_whatever_its_case_is_an_error(
    http: httpx.AsyncClient, school: School
) -> None:
    """Students: "Email is unique per school, case-insensitively; a second create with the
    same email is an error. [assumed]" (its words are not quoted)"""
    school.add_student(**person(1))
    refused(await http.post("/v1/student", json={"student": person(2, EMAIL="ANN1@Example.org")}))
    assert len(school.students) == 1


# Professors


async def test_a_professor_is_read_by_id_email_and_api_id(
    http: httpx.AsyncClient, school: School
) -> None:
    """Professors: "`GET /v1/professor/{id}`, `/by-email/{email}`, `/get-id/{API_ID}` |
    one" """
    professor = school.add_professor(**person(1, API_ID="x:p"))
    assert ok(await http.get(f"/v1/professor/{professor}"))["ID"] == professor
    by_email = await http.get(f"/v1/professor/by-email/{quote('ann1@example.org', safe='')}")
    assert ok(by_email)["ID"] == professor
    assert ok(await http.get("/v1/professor/get-id/x:p")) == {"id": professor}
    refused(await http.get("/v1/professor/by-email/nobody%40example.org"))


async def test_creating_a_professor_answers_its_id_with_dont_send_credentials_anywhere(
    http: httpx.AsyncClient, school: School
) -> None:
    """Professors: "`POST /v1/professor` `{"professor": {...}, "dontSendCredentials":
    bool}` | `{"ID"}`"; "one official client puts it inside `professor`. ... a simulator
    accepts both." """
    top = {"professor": person(1), "dontSendCredentials": True}
    inside = {"professor": person(2, dontSendCredentials=True)}
    made = [ok(await http.post("/v1/professor", json=body)) for body in (top, inside)]
    assert [set(m) for m in made] == [{"ID"}, {"ID"}]
    assert [school.professors[m["ID"]]["_credentialsSent"] for m in made] == [False, False]


async def test_a_professor_is_updated(http: httpx.AsyncClient, school: School) -> None:
    """Professors: "`PATCH /v1/professor` `{"professor": {"ID", "FIRSTNAME", "LASTNAME",
    "EMAIL", ...}}` | update" """
    professor = school.add_professor(**person(1))
    change = {"ID": professor, "FIRSTNAME": "Bob", "LASTNAME": "KING", "EMAIL": "b@k.fr"}
    ok(await http.patch("/v1/professor", json={"professor": change | {"SPECIALITY": "Maths"}}))
    shown = ok(await http.get(f"/v1/professor/{professor}"))
    assert (shown["FIRSTNAME"], shown["EMAIL"], shown["SPECIALITY"]) == ("Bob", "b@k.fr", "Maths")


async def test_deleting_a_professor_archives_it(http: httpx.AsyncClient, school: School) -> None:
    """Professors: "`DELETE /v1/professor/{id}` | archive" """
    professor = school.add_professor(**person(1))
    ok(await http.delete(f"/v1/professor/{professor}"))
    assert ok(await http.get(f"/v1/professor/{professor}"))["HIDDEN"] == [1]


async def test_a_professor_needs_first_name_last_name_and_email(
    http: httpx.AsyncClient, school: School
) -> None:
    """Professors: "Fields: `FIRSTNAME`*, `LASTNAME`*, `EMAIL`*" """
    for missing in ("FIRSTNAME", "LASTNAME", "EMAIL"):
        lacking = {k: v for k, v in person(1).items() if k != missing}
        refused(await http.post("/v1/professor", json={"professor": lacking}))
    assert school.professors == {}


async def test_a_professor_holds_the_contract_fields(http: httpx.AsyncClient) -> None:
    """Professors: "Fields: ... `PHONE`, `SPECIALITY`, `API_ID`, `API_TYPE`, `TAGS`." """
    given = person(1, PHONE="0601", SPECIALITY="Maths", API_ID="x:1", API_TYPE="t", TAGS=["a"])
    made = ok(await http.post("/v1/professor", json={"professor": given}))["ID"]
    shown = ok(await http.get(f"/v1/professor/{made}"))
    assert {k: shown[k] for k in given} == given


async def test_a_second_professor_with_an_email_is_refused_in_the_quoted_words(
    http: httpx.AsyncClient, school: School
) -> None:
    """Professors: "Creating a professor whose email already exists in the school fails
    with `status: error`, message `Professor already exists in this school`." """
    school.add_professor(**person(1))
    response = await http.post("/v1/professor", json={"professor": person(2, EMAIL="ANN1@x.org")})
    ok(response)  # another email: fine
    twin = await http.post("/v1/professor", json={"professor": person(3, EMAIL="Ann1@Example.org")})
    assert twin.json() == {"status": "error", "message": "Professor already exists in this school"}


async def test_a_professor_has_hidden_and_school_id_as_arrays(
    http: httpx.AsyncClient, school: School
) -> None:
    """Professors: "A returned professor has `HIDDEN` and `SCHOOL_ID` as arrays (one
    account can span schools)." """
    professor = school.add_professor(**person(1))
    for shown in (
        ok(await http.get(f"/v1/professor/{professor}")),
        ok(await http.get("/v1/professor", params={"page": 0}))[0],
    ):
        assert (shown["HIDDEN"], shown["SCHOOL_ID"]) == ([0], [school.id])


# Groups


async def test_groups_are_listed_read_and_found_by_api_id(
    http: httpx.AsyncClient, school: School
) -> None:
    """Groups: "`GET /v1/group`, `GET /v1/group/{id}`, `GET /v1/group/get-id/{API_ID}`" """
    made = [school.add_group(NAME=f"G{n}", API_ID=f"g:{n}") for n in range(3)]
    assert sorted(g["ID"] for g in ok(await http.get("/v1/group"))) == sorted(made)
    assert ok(await http.get(f"/v1/group/{made[1]}"))["NAME"] == "G1"
    assert ok(await http.get("/v1/group/get-id/g:2")) == {"id": made[2]}


async def test_creating_a_group_answers_its_id(http: httpx.AsyncClient, school: School) -> None:
    """Groups: "`POST /v1/group` `{"group": {"NAME", "DESCRIPTION", "STUDENTS": [ids],
    "PARENT", "API_ID", "API_TYPE"}}` | `{"ID"}`" """
    students = [school.add_student(**person(n)) for n in range(2)]
    parent = school.add_group(NAME="L1")
    given = {
        "NAME": "L1 TD1",
        "DESCRIPTION": "Travaux dirigés",
        "STUDENTS": students,
        "PARENT": parent,
        "API_ID": "g:1",
        "API_TYPE": "passerelle",
    }
    result = ok(await http.post("/v1/group", json={"group": given}))
    assert set(result) == {"ID"}
    shown = ok(await http.get(f"/v1/group/{result['ID']}"))
    assert {k: sorted(v) if k == "STUDENTS" else v for k, v in shown.items() if k in given} == {
        **given,
        "STUDENTS": sorted(students),
    }


async def test_a_group_patch_replaces_its_students(http: httpx.AsyncClient, school: School) -> None:
    """Groups: "`PATCH /v1/group` `{"group": {"ID", "NAME", "STUDENTS": [...]}}` |
    `STUDENTS` replaces the list" """
    students = [school.add_student(**person(n)) for n in range(3)]
    group = school.add_group(NAME="G", STUDENTS=students[:2])
    ok(
        await http.patch(
            "/v1/group", json={"group": {"ID": group, "NAME": "G", "STUDENTS": [students[2]]}}
        )
    )
    assert ok(await http.get(f"/v1/group/{group}"))["STUDENTS"] == [students[2]]


async def test_a_group_is_deleted(http: httpx.AsyncClient, school: School) -> None:
    """Groups: "`DELETE /v1/group/{id}`" """
    group = school.add_group(NAME="G")
    ok(await http.delete(f"/v1/group/{group}"))
    refused(await http.get(f"/v1/group/{group}"))


# Courses


async def test_courses_are_listed_over_at_most_90_days(
    http: httpx.AsyncClient, school: School
) -> None:
    """Courses: "`GET /v1/course?page=&start=&end=...` | list, 40 a page; `start`..`end`
    at most 90 days" """
    professor = school.add_professor(**person(1))
    inside = school.add_course(**course(professor))
    school.add_course(**course(professor, START="2026-03-01T09:00:00Z", END="2026-03-01T10:00Z"))
    ninety = {"start": "2025-10-01T00:00:00Z", "end": "2025-12-30T00:00:00Z"}
    assert [c["ID"] for c in ok(await http.get("/v1/course", params=ninety))] == [inside]
    wider = ninety | {"end": "2025-12-30T00:00:01Z"}
    refused(await http.get("/v1/course", params=wider))


async def test_a_course_is_read_by_id_and_an_unknown_one_in_the_quoted_words(
    http: httpx.AsyncClient, school: School
) -> None:
    """Courses: "`GET /v1/course/{id}` | one, with attendance (below); unknown id: `No
    course with this ID found`" """
    professor = school.add_professor(**person(1))
    student = school.add_student(**person(1))
    sheet = school.add_course(**course(professor, STUDENTS=[{"studentId": student}]))
    shown = ok(await http.get(f"/v1/course/{sheet}"))
    assert [e["studentId"] for e in shown["STUDENTS"]] == [student]
    unknown = await http.get(f"/v1/course/{'z' * 16}")
    assert unknown.json() == {"status": "error", "message": "No course with this ID found"}


async def test_creating_a_course_answers_its_id_and_needs_its_mandatory_fields(
    http: httpx.AsyncClient, school: School
) -> None:
    """Courses: "`POST /v1/course` `{"course": {...}}` | `{"ID"}`"; "Course fields:
    `NAME`*, `START`*, `END`*, `PROFESSOR`* (id), ... `NEED_STUDENTS_SIGNATURE`* (bool)" """
    professor = school.add_professor(**person(1))
    whole = course(professor)
    for missing in whole:
        lacking = {k: v for k, v in whole.items() if k != missing}
        refused(await http.post("/v1/course", json={"course": lacking}))
    assert school.courses == {}
    result = ok(await http.post("/v1/course", json={"course": whole}))
    assert set(result) == {"ID"}


async def test_a_course_patch_needs_only_its_id(http: httpx.AsyncClient, school: School) -> None:
    """Courses: "`PATCH /v1/course` `{"course": {"ID", ...}, "editSurveys": false}` |
    update; only `ID` required" """
    sheet = school.add_course(**course(school.add_professor(**person(1))))
    refused(await http.patch("/v1/course", json={"course": {"NAME": "B"}}))
    patch = {"course": {"ID": sheet, "CLASSROOM": "B2"}, "editSurveys": False}
    ok(await http.patch("/v1/course", json=patch))
    assert ok(await http.get(f"/v1/course/{sheet}"))["CLASSROOM"] == "B2"


async def test_a_course_is_deleted(http: httpx.AsyncClient, school: School) -> None:
    """Courses: "`DELETE /v1/course/{id}` | delete / cancel" """
    sheet = school.add_course(**course(school.add_professor(**person(1))))
    ok(await http.delete(f"/v1/course/{sheet}"))
    gone = await http.get(f"/v1/course/{sheet}")
    assert gone.json() == {"status": "error", "message": "No course with this ID found"}


async def test_attendance_adds_one_student_and_twice_is_refused_in_the_quoted_words(
    http: httpx.AsyncClient, school: School
) -> None:
    """Courses: "`PUT /v1/course/attendance/{courseId}` `{"studentId"}` | add one student;
    `Student already in the list` if present" """
    sheet = school.add_course(**course(school.add_professor(**person(1))))
    student = school.add_student(**person(1))
    path = f"/v1/course/attendance/{sheet}"
    ok(await http.put(path, json={"studentId": student}))
    assert [e["studentId"] for e in ok(await http.get(f"/v1/course/{sheet}"))["STUDENTS"]] == [
        student
    ]
    twice = await http.put(path, json={"studentId": student})
    assert twice.json() == {"status": "error", "message": "Student already in the list"}


async def test_attendance_removes_one_student(http: httpx.AsyncClient, school: School) -> None:
    """Courses: "`DELETE /v1/course/attendance/{courseId}` `{"studentId"}` | remove one
    student" """
    students = [school.add_student(**person(n)) for n in range(2)]
    sheet = school.add_course(
        **course(school.add_professor(**person(1)), STUDENTS=[{"studentId": s} for s in students])
    )
    path = f"/v1/course/attendance/{sheet}"
    ok(await http.request("DELETE", path, json={"studentId": students[0]}))
    left = ok(await http.get(f"/v1/course/{sheet}"))["STUDENTS"]
    assert [e["studentId"] for e in left] == [students[1]]
    refused(await http.request("DELETE", path, json={"studentId": students[0]}))


async def test_a_course_is_locked_and_a_second_lock_in_the_quoted_words(
    http: httpx.AsyncClient, school: School
) -> None:
    """Courses: "`GET /v1/course/lock/{id}` | lock the sheet; `Course already locked`" """
    sheet = school.add_course(**course(school.add_professor(**person(1))))
    ok(await http.get(f"/v1/course/lock/{sheet}"))
    assert ok(await http.get(f"/v1/course/{sheet}"))["LOCKED"] == 1
    again = await http.get(f"/v1/course/lock/{sheet}")
    assert again.json() == {"status": "error", "message": "Course already locked"}


async def test_a_course_takes_any_number_of_professors(
    http: httpx.AsyncClient, school: School
) -> None:
    """Courses: "`PROFESSOR_2`, `PROFESSOR_3`, ... (`PROFESSOR_N`, no fixed limit)" """
    professors = [school.add_professor(**person(n)) for n in range(12)]
    others = {f"PROFESSOR_{n}": professors[n - 1] for n in range(2, 13)}
    made = ok(await http.post("/v1/course", json={"course": course(professors[0], **others)}))
    shown = ok(await http.get(f"/v1/course/{made['ID']}"))
    assert {k: shown[k] for k in others} == others


async def test_a_course_holds_the_contract_fields(http: httpx.AsyncClient, school: School) -> None:
    """Courses: "`DESCRIPTION`, `CLASSROOM` (free text), `SCHOOL_GROUP` (list of group ids),
    `STUDENTS` (at creation: list of `{"studentId"}`), `MAX_STUDENTS`, `API_ID`,
    `API_TYPE`, `TRAINING_ID`." """
    student = school.add_student(**person(1))
    group = school.add_group(NAME="G")
    given = {
        "DESCRIPTION": "TD",
        "CLASSROOM": "A101, A102",
        "SCHOOL_GROUP": [group],
        "MAX_STUDENTS": 30,
        "API_ID": "c:1",
        "API_TYPE": "passerelle",
        "TRAINING_ID": "T-1",
    }
    body = course(school.add_professor(**person(1)), STUDENTS=[{"studentId": student}], **given)
    made = ok(await http.post("/v1/course", json={"course": body}))["ID"]
    shown = ok(await http.get(f"/v1/course/{made}"))
    assert {k: shown[k] for k in given} == given
    assert [e["studentId"] for e in shown["STUDENTS"]] == [student]


async def test_a_returned_course_has_locked_signatures_and_attendance_entries(
    http: httpx.AsyncClient, school: School
) -> None:
    """Courses: "Returned course: the same plus `LOCKED` (0/1), `PROFESSOR_SIGNATURE[_N]`
    (set once signed), `STUDENTS` as attendance entries." """
    professors = [school.add_professor(**person(n)) for n in range(2)]
    student = school.add_student(**person(1))
    sheet = school.add_course(
        **course(professors[0], PROFESSOR_2=professors[1], STUDENTS=[{"studentId": student}])
    )
    before = ok(await http.get(f"/v1/course/{sheet}"))
    assert (before["LOCKED"], before["PROFESSOR_SIGNATURE"], before["PROFESSOR_SIGNATURE_2"]) == (
        0,
        None,
        None,
    )
    school.sign_professor(sheet, 2)
    after = ok(await http.get(f"/v1/course/{sheet}"))
    assert after["PROFESSOR_SIGNATURE_2"]
    assert not after["PROFESSOR_SIGNATURE"]
    assert set(after["STUDENTS"][0]) >= ENTRY_FIELDS


async def test_an_attendance_entry_says_what_happened(
    http: httpx.AsyncClient, school: School
) -> None:
    """Attendance: "`studentId`, `state` (bool: signed/present), `timestamp` (when signed),
    `signature` (URL or null), ... `delay` (minutes late, int), ... `absenceId` (a
    justified absence: excused)" """
    students = [school.add_student(**person(n)) for n in range(4)]
    sheet = school.add_course(
        **course(school.add_professor(**person(1)), STUDENTS=[{"studentId": s} for s in students])
    )
    school.sign(sheet, students[0])
    school.sign(sheet, students[1], delay=12)
    school.sign(sheet, students[2], absence_id="abs-1", signed=False)
    entries = {e["studentId"]: e for e in ok(await http.get(f"/v1/course/{sheet}"))["STUDENTS"]}
    signed, late, excused, absent = (entries[s] for s in students)
    assert signed["state"] is True
    assert signed["signature"]
    assert signed["timestamp"] == "2025-10-21T07:00:00.000Z"
    assert (late["delay"], excused["absenceId"]) == (12, "abs-1")
    assert (absent["state"], absent["signature"], absent["delay"], absent["absenceId"]) == (
        False,
        None,
        0,
        None,
    )


async def test_presential_states_set_absent_and_delay(
    http: httpx.AsyncClient, school: School
) -> None:
    """Attendance: "Writes: `PATCH /v1/presential-states/set-absent/{courseId}/{studentId}`
    `{"comment"}`, `.../set-delay/{courseId}/{studentId}` `{"delay"}`." """
    student = school.add_student(**person(1))
    sheet = school.add_course(
        **course(school.add_professor(**person(1)), STUDENTS=[{"studentId": student}])
    )
    school.sign(sheet, student)
    base = "/v1/presential-states"
    ok(await http.patch(f"{base}/set-absent/{sheet}/{student}", json={"comment": "ill"}))
    ok(await http.patch(f"{base}/set-delay/{sheet}/{student}", json={"delay": 15}))
    entry = ok(await http.get(f"/v1/course/{sheet}"))["STUDENTS"][0]
    assert (entry["state"], entry["signature"], entry["comment"], entry["delay"]) == (
        False,
        None,
        "ill",
        15,
    )


# What the contract does not promise is not given, and the quirks vary by seed


async def test_a_write_other_than_a_creation_promises_no_result(
    http: httpx.AsyncClient, school: School
) -> None:
    """The contract gives a creation's answer (`{"ID"}`) and no other write's: none is
    given."""
    student = school.add_student(**person(1))
    professor = school.add_professor(**person(2))
    sheet = school.add_course(**course(professor))
    names = {"FIRSTNAME": "A", "LASTNAME": "B"}
    writes = [
        await http.patch("/v1/student", json={"student": {"ID": student, **names}}),
        await http.put(f"/v1/course/attendance/{sheet}", json={"studentId": student}),
        await http.patch("/v1/course", json={"course": {"ID": sheet, "NAME": "X"}}),
        await http.get(f"/v1/course/lock/{sheet}"),
        await http.delete(f"/v1/student/{student}"),
    ]
    assert [ok(response) for response in writes] == [None] * len(writes)


async def messages(seed: int | None) -> dict[str, str | list[str]]:
    """What one sandbox says to a few refused requests, by request."""
    sandbox = EdusignSandbox(quirks=Quirks(seed))
    school = sandbox.add_school(KEY)
    student = school.add_student(**person(1))
    professor = school.add_professor(**person(1))
    sheet = school.add_course(**course(professor))
    school.lock(sheet)
    said: dict[str, str | list[str]] = {}
    async with client(sandbox) as http:
        for kind in ("student", "professor", "group", "course"):
            said[f"get-id {kind}"] = refused(await http.get(f"/v1/{kind}/get-id/nobody"))
        said["by-email"] = refused(await http.get("/v1/student/by-email/nobody%40x.org"))
        said["email taken"] = refused(await http.post("/v1/student", json={"student": person(1)}))
        said["not on sheet"] = refused(
            await http.request(
                "DELETE", f"/v1/course/attendance/{sheet}", json={"studentId": student}
            )
        )
        said["locked"] = refused(await http.delete(f"/v1/course/{sheet}"))
        said["professor taken"] = refused(
            await http.post("/v1/professor", json={"professor": person(1)})
        )
        said["course unknown"] = refused(await http.get(f"/v1/course/{'z' * 16}"))
        said["locked twice"] = refused(await http.get(f"/v1/course/lock/{sheet}"))
    return said


async def test_unquoted_messages_vary_by_seed_and_quoted_ones_never() -> None:
    """External ids: "The wording of that error is not documented and differs between
    resources"; every message the contract does not quote is the server's choice."""
    said = {seed: await messages(seed) for seed in (None, *range(6))}
    unquoted = [
        k for k in said[None] if k not in ("professor taken", "course unknown", "locked twice")
    ]
    for key in unquoted:
        assert len({str(said[seed][key]) for seed in said}) >= 3, key
    for seed in range(6):
        assert said[seed] == await messages(seed), "the same seed, the same words"
        assert {said[seed]["professor taken"], said[seed]["course unknown"]} <= set(QUOTED)
        assert said[seed]["locked twice"] == "Course already locked"
        get_ids = {str(said[seed][f"get-id {k}"]) for k in ("student", "professor", "group")}
        assert len(get_ids) > 1, "differs between resources"
    for seed in said:
        for key in unquoted:
            message = str(said[seed][key]).casefold()
            assert not any(q.casefold() in message for q in QUOTED[:3]), (seed, key)


async def test_records_carry_unknown_fields_that_vary_by_seed() -> None:
    """Where the contract is silent a newer server may add fields: records carry some the
    contract never names, different ones by seed, none with ``Quirks(None)``."""
    extras: dict[int | None, set[str]] = {}
    for seed in (None, *range(6)):
        sandbox = EdusignSandbox(quirks=Quirks(seed))
        school = sandbox.add_school(KEY)
        student = school.add_student(**person(1))
        async with client(sandbox) as http:
            shown = ok(await http.get(f"/v1/student/{student}"))
        extras[seed] = set(shown) - set(school.students[student])
    assert extras[None] == set()
    assert all(extras[seed] for seed in range(6))
    assert len({frozenset(extras[seed]) for seed in range(6)}) > 1


async def test_list_order_varies_by_seed_and_stays_put_across_pages() -> None:
    """Nothing promises an order: lists come in one of the seed's own, the same for every
    page of one list."""
    orders = []
    for seed in (None, *range(4)):
        sandbox = EdusignSandbox(quirks=Quirks(seed))
        school = sandbox.add_school(KEY)
        made = [school.add_professor(**person(n)) for n in range(150)]
        async with client(sandbox) as http:
            pages = [ok(await http.get("/v1/professor", params={"page": p})) for p in (0, 1, 0)]
        assert pages[0] == pages[2], "a page read again is the same page"
        listed = [p["ID"] for page in pages[:2] for p in page]
        assert sorted(listed) == sorted(made)
        orders.append(listed == made)
    assert orders[0], "Quirks(None): the plain order"
    assert not all(orders[1:]), "some seed orders differently"


async def test_a_students_page_may_hold_fewer_than_the_limit_asked() -> None:
    """Transport: "Students: `page`, `limit`": no cap is documented, so a server may serve
    fewer rows than the limit; the rows of all pages are every student, once."""
    sizes = set()
    for seed in range(4):
        sandbox = EdusignSandbox(quirks=Quirks(seed))
        school = sandbox.add_school(KEY)
        made = {school.add_student(**person(n)) for n in range(60)}
        async with client(sandbox) as http:
            first = ok(await http.get("/v1/student", params={"page": 0, "limit": 50}))
            listed = await all_pages(http, "/v1/student", limit=50)
        sizes.add(len(first))
        assert sorted(s["ID"] for s in listed) == sorted(made)
    assert max(sizes) < 50, "fewer than asked"


@pytest.mark.slow  # whole syncs, one per seed
@pytest.mark.parametrize("seed", range(5))
async def test_a_sync_ends_with_the_same_edusign_content_whatever_the_seed(seed: int) -> None:
    """What the connector writes does not depend on anything the contract leaves open: the
    same world synced against a plain sandbox and a quirky one ends the same, and a second
    sync with a lost store (every lookup by listing, by get-id, by email) changes nothing."""
    async with new_world() as plain:
        plain.edusign.quirks = Quirks(None)
        plain.sink_options = {"sync_groups": True}
        await plain.sync()
        expected = snapshot(plain.school)
    async with new_world() as quirky:
        quirky.edusign.quirks = Quirks(seed)
        quirky.sink_options = {"sync_groups": True}
        first = await quirky.sync()
        assert first.outcome == "ok", [e.detail for e in first.events if e.status == "failed"]
        assert snapshot(quirky.school) == expected
        quirky.edusign.reset_counts()
        async with open_state("sqlite://") as empty:
            again = await quirky.sync(store=empty)
        assert again.outcome == "ok"
        assert snapshot(quirky.school) == expected
        posts = [k for k, n in quirky.edusign.calls.items() if k.startswith("POST") and n]
        assert posts == [], "nothing created twice"
