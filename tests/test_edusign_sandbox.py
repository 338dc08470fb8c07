"""The Edusign v1 sandbox: its own choices, its rate limit, its faults.

The Edusign connector's tests and the demo stand on this sandbox. What the contract
requires of it is checked in tests/contract/test_edusign_v1.py, whatever the quirks' seed;
these tests check the sandbox's own choices word for word and in order (its plain
wordings, validation messages, orders, filters), so they run it with ``Quirks(None)``:
the quirks would only reword and reorder what is asserted here.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from core.sandbox.quirks import Quirks
from sinks.edusign.sandbox import ApiError, EdusignSandbox, Fault, School, serve_app
from tests.doubles import FakeTime

pytestmark = pytest.mark.anyio

KEY, OTHER_KEY = "key-acme", "key-beta"
START, END = "2025-10-21T09:00:00+02:00", "2025-10-21T11:30:00+02:00"
ID = re.compile(r"[a-z0-9]{16}")


@pytest.fixture
def sandbox() -> EdusignSandbox:
    sandbox = EdusignSandbox(quirks=Quirks(None))  # plain wordings and orders: see above
    sandbox.add_school(KEY, name="Acme Formation")
    sandbox.add_school(OTHER_KEY, name="Beta Campus")
    return sandbox


@pytest.fixture
def school(sandbox: EdusignSandbox) -> School:
    return sandbox.schools[KEY]


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
    return body["result"]


def refused(response: httpx.Response, message: str | list[str], status: int = 200) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"status": "error", "message": message}


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


# Transport: keys, schools, envelope, routes.


async def test_a_key_is_required_and_unknown_keys_are_refused(sandbox: EdusignSandbox) -> None:
    for key in (None, "wrong"):
        async with client(sandbox, key) as http:
            response = await http.get("/v1/school")
        assert (response.status_code, response.text) == (401, "Unauthorized")
        assert response.headers["content-type"].startswith("text/plain")
    async with client(sandbox, None) as http:
        basic = await http.get("/v1/school", headers={"Authorization": f"Basic {KEY}"})
    assert basic.status_code == 401


async def test_the_key_selects_the_school_and_nothing_crosses(
    sandbox: EdusignSandbox, school: School
) -> None:
    async with client(sandbox) as http:
        assert ok(await http.get("/v1/school")) == {"ID": school.id, "NAME": "Acme Formation"}
        created = ok(await http.post("/v1/student", json={"student": person(1, API_ID="s:1")}))
    async with client(sandbox, OTHER_KEY) as other:
        assert ok(await other.get("/v1/school"))["NAME"] == "Beta Campus"
        refused(await other.get(f"/v1/student/{created['ID']}"), "No student with this ID found")
        refused(await other.get("/v1/student/get-id/s:1"), "No student with this API_ID found")
        refused(
            await other.get("/v1/student/by-email/ann1@example.org"),
            "No student with this email found",
        )
        assert ok(await other.get("/v1/student")) == []
        assert ok(await other.post("/v1/student", json={"student": person(1)})), "emails per school"
    assert list(school.students) == [created["ID"]]
    assert len(sandbox.schools[OTHER_KEY].students) == 1


async def test_an_unknown_route_is_a_plain_404(sandbox: EdusignSandbox) -> None:
    async with client(sandbox) as http:
        response = await http.get("/v1/nothing-here")
        no_version = await http.get("/school")
    assert (response.status_code, response.text) == (404, "Not Found")
    assert no_version.status_code == 404


def test_ids_are_16_lowercase_alphanumerics_from_the_seed() -> None:
    made = []
    for seed in (7, 7, 8):
        school = EdusignSandbox(seed=seed).add_school(KEY)
        made.append([school.id, school.add_student(**person(1)), school.add_student(**person(2))])
    assert made[0] == made[1] != made[2]
    assert all(ID.fullmatch(i) for i in made[0] + made[2])
    assert len(set(made[0])) == 3


async def test_validation_errors_are_400_with_every_problem_listed(sandbox: EdusignSandbox) -> None:
    async with client(sandbox) as http:
        refused(
            await http.post("/v1/student", json={"student": {"PHONE": "0600"}}),
            ["FIRSTNAME is required", "LASTNAME is required", "EMAIL is required"],
            400,
        )
        bad_types = person(1, EMAIL="not-an-email", SEND_EMAIL_CREDENTIALS="yes", GROUPS=None)
        refused(
            await http.post("/v1/student", json={"student": bad_types}),
            [
                "EMAIL must be an email address",
                "SEND_EMAIL_CREDENTIALS must be a boolean",
                "GROUPS must be a list of ids",
            ],
            400,
        )
        refused(
            await http.post("/v1/student", json={"FIRSTNAME": "A"}), ["student is required"], 400
        )
        not_json = await http.post("/v1/student", content=b"{nope")
        refused(not_json, ["the body must be JSON"], 400)
        refused(await http.post("/v1/student", json=[1]), ["the body must be a JSON object"], 400)
    assert sandbox.schools[KEY].students == {}


# Students.


async def test_a_student_is_stored_with_the_contract_fields(
    sandbox: EdusignSandbox, school: School
) -> None:
    sent = person(1, PHONE="+33600000001", API_ID="celcat:student:1", API_TYPE="passerelle")
    sent |= {"SEND_EMAIL_CREDENTIALS": False, "MISSPELT_FIELD": 1}
    async with client(sandbox) as http:
        result = ok(await http.post("/v1/student", json={"student": sent}))
        assert set(result) == {"ID"}
        shown = ok(await http.get(f"/v1/student/{result['ID']}"))
    stored = school.students[result["ID"]]
    assert stored["ID"] == result["ID"]
    expected = {k: v for k, v in sent.items() if k != "MISSPELT_FIELD"}
    assert {k: stored[k] for k in expected} == expected
    assert "MISSPELT_FIELD" not in stored, "unknown fields are ignored"
    assert (stored["GROUPS"], stored["TAGS"], stored["HIDDEN"]) == ([], [], 0)
    assert set(shown) == {
        "ID", "FIRSTNAME", "LASTNAME", "EMAIL", "PHONE", "GROUPS", "API_ID", "API_TYPE",
        "SEND_EMAIL_CREDENTIALS", "NEW_PASSWORD_NEEDED", "FILE_NUMBER", "TAGS", "HIDDEN",
    }  # fmt: skip


async def test_students_are_found_by_api_id_email_and_ids(
    sandbox: EdusignSandbox, school: School
) -> None:
    first = school.add_student(**person(1, EMAIL="Ann.Lee+cours@Example.org", API_ID="c:s:1"))
    second = school.add_student(**person(2))
    async with client(sandbox) as http:
        assert ok(await http.get("/v1/student/get-id/c:s:1")) == {"id": first}
        refused(await http.get("/v1/student/get-id/c:s:404"), "No student with this API_ID found")
        email = quote("ann.lee+COURS@example.ORG", safe="")
        assert ok(await http.get(f"/v1/student/by-email/{email}"))["ID"] == first
        refused(
            await http.get("/v1/student/by-email/nobody%40example.org"),
            "No student with this email found",
        )
        many = ok(await http.post("/v1/student/by-ids", json={"studentIds": [second, "x", first]}))
        assert [s["ID"] for s in many] == [second, first]
        refused(await http.post("/v1/student/by-ids", json={}), ["studentIds is required"], 400)
    assert school.find("student", "c:s:1") == school.students[first]
    assert school.find("student", "c:s:404") is None


async def test_a_student_email_is_unique_per_school_whatever_its_case(
    sandbox: EdusignSandbox, school: School
) -> None:
    school.add_student(**person(1))
    async with client(sandbox) as http:
        twin = person(9, EMAIL="ANN1@example.org")
        refused(
            await http.post("/v1/student", json={"student": twin}),
            "Student already exists in this school",
        )
    with pytest.raises(ApiError, match="already exists"):
        school.add_student(**twin)
    assert len(school.students) == 1


async def test_a_student_patch_needs_its_names_and_keeps_other_fields(
    sandbox: EdusignSandbox, school: School
) -> None:
    first = school.add_student(**person(1, PHONE="0601"))
    school.add_student(**person(2))
    async with client(sandbox) as http:
        refused(
            await http.patch("/v1/student", json={"student": {"ID": first, "PHONE": "0602"}}),
            ["FIRSTNAME is required", "LASTNAME is required"],
            400,
        )
        changed = {"ID": first, "FIRSTNAME": "Anne", "LASTNAME": "LEE", "EMAIL": "anne@x.org"}
        assert ok(await http.patch("/v1/student", json={"student": changed})) is None
        result = ok(await http.get(f"/v1/student/{first}"))
        taken = changed | {"EMAIL": "ANN2@example.org"}
        refused(
            await http.patch("/v1/student", json={"student": taken}),
            "Another student already has this email",
        )
        unknown = changed | {"ID": "x" * 16}
        refused(
            await http.patch("/v1/student", json={"student": unknown}),
            "No student with this ID found",
        )
    assert (result["FIRSTNAME"], result["EMAIL"], result["PHONE"]) == ("Anne", "anne@x.org", "0601")
    assert school.students[first]["EMAIL"] == "anne@x.org"


async def test_a_student_is_archived_and_restored(sandbox: EdusignSandbox, school: School) -> None:
    student = school.add_student(**person(1))
    async with client(sandbox) as http:
        assert ok(await http.delete(f"/v1/student/{student}")) is None, "no result promised"
        assert ok(await http.get("/v1/student")) == [], "lists hide archived students"
        assert ok(await http.get("/v1/student/by-email/ann1@example.org"))["HIDDEN"] == 1
        assert ok(await http.get(f"/v1/student/{student}"))["HIDDEN"] == 1
        refused(
            await http.post("/v1/student", json={"student": person(1)}),
            "Student already exists in this school",
        )
        assert ok(await http.get(f"/v1/student/restore/{student}")) is None
        assert ok(await http.get(f"/v1/student/{student}"))["HIDDEN"] == 0
        assert [s["ID"] for s in ok(await http.get("/v1/student"))] == [student]
    assert school.students[student]["HIDDEN"] == 0


async def test_students_page_by_limit_search_and_update_time(
    sandbox: EdusignSandbox, school: School
) -> None:
    ids = [school.add_student(**person(n)) for n in range(5)]
    school.add_student(**person(5, FIRSTNAME="Zoé", EMAIL="zoe@campus.fr"))
    async with client(sandbox) as http:
        pages = [
            ok(await http.get("/v1/student", params={"page": p, "limit": 2})) for p in range(4)
        ]
        assert [len(p) for p in pages] == [2, 2, 2, 0]
        assert [s["ID"] for p in pages for s in p][:5] == ids
        assert len(ok(await http.get("/v1/student"))) == 6, "100 by default"
        found = ok(await http.get("/v1/student", params={"search": "ZOÉ"}))
        assert [s["EMAIL"] for s in found] == ["zoe@campus.fr"]
        by_email = ok(await http.get("/v1/student", params={"search": "@CAMPUS"}))
        assert len(by_email) == 1
        now = ok(await http.get("/v1/student", params={"updatedAfter": "2000-01-01T00:00:00Z"}))
        assert len(now) == 6
        school.students[ids[0]]["_updated"] = school.students[ids[0]]["_updated"].replace(year=2001)
        later = await http.get("/v1/student", params={"updatedAfter": "2002-01-01T00:00:00+00:00"})
        assert len(ok(later)) == 5
        refused(
            await http.get("/v1/student", params={"page": "-1"}),
            ["page must be a non-negative integer"],
            400,
        )
        refused(
            await http.get("/v1/student", params={"updatedAfter": "2025-10-21"}),
            ["updatedAfter must be an ISO 8601 date-time with an offset"],
            400,
        )


async def test_students_limit_is_capped_at_1000(sandbox: EdusignSandbox, school: School) -> None:
    for n in range(1001):
        school.add_student(**person(n))
    async with client(sandbox) as http:
        first = ok(await http.get("/v1/student", params={"limit": 5000}))
        second = ok(await http.get("/v1/student", params={"limit": 5000, "page": 1}))
    assert (len(first), len(second)) == (1000, 1)


# Professors.


async def test_dont_send_credentials_is_recorded_where_it_was_sent(
    sandbox: EdusignSandbox, school: School
) -> None:
    bodies = [
        {"professor": person(1), "dontSendCredentials": True},
        {"professor": person(2, dontSendCredentials=True)},
        {"professor": person(3), "dontSendCredentials": False},
        {"professor": person(4, dontSendCredentials=True), "dontSendCredentials": False},
        {"professor": person(5)},
    ]
    async with client(sandbox) as http:
        ids = [ok(await http.post("/v1/professor", json=body))["ID"] for body in bodies]
        refused(
            await http.post(
                "/v1/professor", json={"professor": person(6), "dontSendCredentials": "yes"}
            ),
            ["dontSendCredentials must be a boolean"],
            400,
        )
        shown = ok(await http.get(f"/v1/professor/{ids[0]}"))
    records = [school.professors[i] for i in ids]
    assert [r["_dontSendCredentials"] for r in records] == [True, True, False, False, None]
    assert [r["_dontSendCredentialsFrom"] for r in records] == [
        {"top": True},
        {"inside": True},
        {"top": False},
        {"top": False, "inside": True},
        {},
    ]
    assert [r["_credentialsSent"] for r in records] == [False, False, True, True, True]
    assert not any(k.startswith("_") or k == "dontSendCredentials" for k in shown)


async def test_a_professor_email_twice_is_refused_with_the_exact_message(
    sandbox: EdusignSandbox, school: School
) -> None:
    school.add_professor(**person(1))
    async with client(sandbox) as http:
        twin = {"professor": person(2, EMAIL="Ann1@Example.org"), "dontSendCredentials": True}
        response = await http.post("/v1/professor", json=twin)
    assert response.status_code == 200
    assert response.json() == {
        "status": "error",
        "message": "Professor already exists in this school",
    }
    assert len(school.professors) == 1


async def test_professors_page_by_100_and_the_page_is_required(
    sandbox: EdusignSandbox, school: School
) -> None:
    for n in range(150):
        school.add_professor(**person(n, API_ID=f"celcat:staff:{n}"))
    async with client(sandbox) as http:
        refused(await http.get("/v1/professor"), ["page is required"], 400)
        pages = [ok(await http.get("/v1/professor", params={"page": p})) for p in range(2)]
        one = pages[0][0]
        assert ok(await http.get("/v1/professor/get-id/celcat:staff:149")) == {
            "id": pages[1][-1]["ID"]
        }
        assert (
            ok(await http.get("/v1/professor/by-email/ANN7%40example.org"))["API_ID"]
            == "celcat:staff:7"
        )
    assert [len(p) for p in pages] == [100, 50]
    assert (one["HIDDEN"], one["SCHOOL_ID"]) == ([0], [school.id]), "arrays"
    assert school.professors[one["ID"]]["HIDDEN"] == 0


async def test_a_professor_is_updated_and_archived(sandbox: EdusignSandbox, school: School) -> None:
    first = school.add_professor(**person(1))
    school.add_professor(**person(2))
    async with client(sandbox) as http:
        partial = {"ID": first, "FIRSTNAME": "Bob", "LASTNAME": "KING"}
        refused(
            await http.patch("/v1/professor", json={"professor": partial}),
            ["EMAIL is required"],
            400,
        )
        taken = partial | {"EMAIL": "ann2@example.org"}
        refused(
            await http.patch("/v1/professor", json={"professor": taken}),
            "Another professor already has this email",
        )
        updated = await http.patch(
            "/v1/professor",
            json={"professor": partial | {"EMAIL": "b@k.fr", "SPECIALITY": "Maths"}},
        )
        assert ok(updated) is None
        changed = ok(await http.get(f"/v1/professor/{first}"))
        assert ok(await http.delete(f"/v1/professor/{first}")) is None
        archived = ok(await http.get(f"/v1/professor/{first}"))
        listed = ok(await http.get("/v1/professor", params={"page": 0}))
    assert (changed["FIRSTNAME"], changed["SPECIALITY"]) == ("Bob", "Maths")
    assert archived["HIDDEN"] == [1]
    assert first not in [p["ID"] for p in listed]
    assert len(listed) == 1


# Groups.


async def test_groups_are_created_listed_replaced_and_deleted(
    sandbox: EdusignSandbox, school: School
) -> None:
    students = [school.add_student(**person(n)) for n in range(3)]
    async with client(sandbox) as http:
        body = {"NAME": "L1 Info", "STUDENTS": students[:2], "API_ID": "celcat:group:12"}
        group = ok(await http.post("/v1/group", json={"group": body}))["ID"]
        child = school.add_group(NAME="L1 Info TD1", PARENT=group)
        assert ok(await http.get("/v1/group/get-id/celcat:group:12")) == {"id": group}
        assert [g["ID"] for g in ok(await http.get("/v1/group"))] == [group, child]
        replaced = {"ID": group, "STUDENTS": [students[2], students[2]]}
        assert ok(await http.patch("/v1/group", json={"group": replaced})) is None
        shown = ok(await http.get(f"/v1/group/{group}"))
        assert (shown["NAME"], shown["STUDENTS"]) == ("L1 Info", [students[2]])
        unknown = {"ID": group, "STUDENTS": ["nobody"]}
        refused(
            await http.patch("/v1/group", json={"group": unknown}), "No student with this ID found"
        )
        refused(
            await http.post("/v1/group", json={"group": {"STUDENTS": []}}),
            ["NAME is required"],
            400,
        )
        assert ok(await http.delete(f"/v1/group/{group}")) is None
        refused(await http.get(f"/v1/group/{group}"), "No group with this ID found")
    assert list(school.groups) == [child]


# Courses.


async def test_a_course_is_answered_with_attendance_and_utc_dates(
    sandbox: EdusignSandbox, school: School
) -> None:
    professors = [school.add_professor(**person(n)) for n in range(2)]
    students = [school.add_student(**person(n)) for n in range(2)]
    group = school.add_group(NAME="L1")
    sent = course(
        professors[0],
        PROFESSOR_2=professors[1],
        CLASSROOM="A101, A102",
        SCHOOL_GROUP=[group],
        STUDENTS=[{"studentId": s} for s in students],
        API_ID="celcat:3:5120:2025-10-21",
        API_TYPE="passerelle",
    )
    async with client(sandbox) as http:
        created = ok(await http.post("/v1/course", json={"course": sent}))["ID"]
        shown = ok(await http.get(f"/v1/course/{created}"))
        assert ok(await http.get("/v1/course/get-id/celcat:3:5120:2025-10-21")) == {"id": created}
    assert (shown["START"], shown["END"]) == (
        "2025-10-21T07:00:00.000Z",
        "2025-10-21T09:30:00.000Z",
    )
    assert school.courses[created]["START"] == START, "stored as given"
    assert (shown["LOCKED"], shown["PROFESSOR_SIGNATURE"], shown["PROFESSOR_SIGNATURE_2"]) == (
        0,
        None,
        None,
    )
    assert (shown["PROFESSOR_2"], shown["CLASSROOM"], shown["SCHOOL_GROUP"]) == (
        professors[1],
        "A101, A102",
        [group],
    )
    assert shown["STUDENTS"] == [
        {
            "studentId": s,
            "state": False,
            "timestamp": None,
            "signature": None,
            "signatureEmail": None,
            "delay": 0,
            "earlyDeparture": None,
            "absenceId": None,
            "excluded": False,
            "comment": None,
        }
        for s in students
    ]


async def test_a_course_refuses_missing_fields_bad_dates_and_unknown_references(
    sandbox: EdusignSandbox, school: School
) -> None:
    professor = school.add_professor(**person(1))
    async with client(sandbox) as http:

        async def post(**fields: Any) -> httpx.Response:
            return await http.post("/v1/course", json={"course": fields})

        refused(
            await post(NAME="x"),
            [
                "START is required",
                "END is required",
                "PROFESSOR is required",
                "NEED_STUDENTS_SIGNATURE is required",
            ],
            400,
        )
        naive = course(professor, START="2025-10-21T09:00:00")
        refused(await post(**naive), ["START must be an ISO 8601 date-time with an offset"], 400)
        refused(await post(**course(professor, END=START)), ["END must be after START"], 400)
        refused(
            await post(**course(professor, STUDENTS=["s1"])),
            ['STUDENTS must be a list of {"studentId": id}'],
            400,
        )
        refused(await post(**course("nobody")), "No professor with this ID found")
        refused(
            await post(**course(professor, PROFESSOR_7="nobody")), "No professor with this ID found"
        )
        refused(await post(**course(professor, SCHOOL_GROUP=["g"])), "No group with this ID found")
        refused(
            await post(**course(professor, STUDENTS=[{"studentId": "s"}])),
            "No student with this ID found",
        )
        refused(await http.get("/v1/course/nope"), "No course with this ID found")
        refused(await http.get("/v1/course/get-id/nope"), "No course with this API_ID found")
    assert school.courses == {}


async def test_courses_page_by_40_in_start_order(sandbox: EdusignSandbox, school: School) -> None:
    professor = school.add_professor(**person(1))
    for n in reversed(range(90)):
        day = f"2025-10-{1 + n // 3:02d}T{8 + n % 3:02d}:00:00+02:00"
        school.add_course(
            **course(professor, NAME=f"c{n}", START=day, END=day.replace(":00:00", ":45:00"))
        )
    async with client(sandbox) as http:
        pages = [ok(await http.get("/v1/course", params={"page": p})) for p in range(4)]
        first = ok(await http.get("/v1/course"))
    assert [len(p) for p in pages] == [40, 40, 10, 0]
    assert [c["NAME"] for p in pages for c in p] == [f"c{n}" for n in range(90)]
    assert first == pages[0], "page 0 by default"


async def test_courses_filter_on_start_within_90_days(
    sandbox: EdusignSandbox, school: School
) -> None:
    professor = school.add_professor(**person(1))
    for start in ("2025-09-30T23:00:00+00:00", "2025-10-01T08:00:00+02:00", "2025-12-29T08:00:00Z"):
        school.add_course(**course(professor, START=start, END="2026-01-31T00:00:00Z"))
    async with client(sandbox) as http:
        window = {"start": "2025-10-01T00:00:00+02:00", "end": "2025-12-29T23:00:00+01:00"}
        inside = ok(await http.get("/v1/course", params=window))
        assert [c["START"] for c in inside] == [
            "2025-09-30T23:00:00.000Z",
            "2025-10-01T06:00:00.000Z",
            "2025-12-29T08:00:00.000Z",
        ]
        too_wide = window | {"end": "2025-12-30T00:00:00+01:00"}
        refused(
            await http.get("/v1/course", params=too_wide),
            "start and end must be at most 90 days apart",
        )
        backwards = {"start": window["end"], "end": window["start"]}
        refused(await http.get("/v1/course", params=backwards), "end must not be before start")
        only_start = {"start": window["start"]}
        refused(await http.get("/v1/course", params=only_start), ["start and end go together"], 400)
        later = {"start": "2025-10-01T00:00:00Z", "end": "2025-12-29T07:59:59Z"}
        assert len(ok(await http.get("/v1/course", params=later))) == 1


async def test_courses_filter_on_group_student_and_professor(
    sandbox: EdusignSandbox, school: School
) -> None:
    professors = [school.add_professor(**person(n)) for n in range(2)]
    student = school.add_student(**person(1))
    group = school.add_group(NAME="G")
    plain = school.add_course(**course(professors[0]))
    rich = school.add_course(
        **course(
            professors[0],
            PROFESSOR_2=professors[1],
            SCHOOL_GROUP=[group],
            STUDENTS=[{"studentId": student}],
        )
    )
    async with client(sandbox) as http:
        for name, value in (
            ("groupId", group),
            ("studentId", student),
            ("professorId", professors[1]),
        ):
            assert [c["ID"] for c in ok(await http.get("/v1/course", params={name: value}))] == [
                rich
            ]
        both = ok(await http.get("/v1/course", params={"professorId": professors[0]}))
    assert [c["ID"] for c in both] == [plain, rich]


async def test_attendance_entries_after_signing(sandbox: EdusignSandbox, school: School) -> None:
    professor = school.add_professor(**person(1))
    students = [school.add_student(**person(n)) for n in range(4)]
    sheet = school.add_course(**course(professor, STUDENTS=[{"studentId": s} for s in students]))
    school.sign(sheet, students[0])
    school.sign(sheet, students[1], delay=12)
    school.sign(sheet, students[2], absence_id="abs-1", signed=False)
    school.sign_professor(sheet)
    with pytest.raises(ValueError, match="not in the list"):
        school.sign(sheet, "nobody")
    with pytest.raises(ValueError, match="PROFESSOR_2"):
        school.sign_professor(sheet, 2)
    async with client(sandbox) as http:
        shown = ok(await http.get(f"/v1/course/{sheet}"))
    entries = {e["studentId"]: e for e in shown["STUDENTS"]}
    signed, late, excused, absent = (entries[s] for s in students)
    assert signed["state"] is True
    assert signed["signature"].startswith("https://")
    assert signed["timestamp"] == "2025-10-21T07:00:00.000Z"
    assert (late["state"], late["delay"]) == (True, 12)
    assert (excused["state"], excused["signature"], excused["absenceId"]) == (False, None, "abs-1")
    assert (absent["state"], absent["signature"], absent["delay"], absent["absenceId"]) == (
        False,
        None,
        0,
        None,
    )
    assert shown["PROFESSOR_SIGNATURE"].startswith("https://")


async def test_attendance_adds_and_removes_one_student(
    sandbox: EdusignSandbox, school: School
) -> None:
    professor = school.add_professor(**person(1))
    students = [school.add_student(**person(n)) for n in range(2)]
    sheet = school.add_course(**course(professor, STUDENTS=[{"studentId": students[0]}]))
    path = f"/v1/course/attendance/{sheet}"
    async with client(sandbox) as http:
        assert ok(await http.put(path, json={"studentId": students[1]})) is None
        added = ok(await http.get(f"/v1/course/{sheet}"))
        assert [e["studentId"] for e in added["STUDENTS"]] == students
        refused(
            await http.put(path, json={"studentId": students[1]}), "Student already in the list"
        )
        refused(await http.put(path, json={"studentId": "nobody"}), "No student with this ID found")
        refused(await http.put(path, json={}), ["studentId is required"], 400)
        refused(
            await http.put("/v1/course/attendance/nope", json={"studentId": students[1]}),
            "No course with this ID found",
        )
        assert ok(await http.request("DELETE", path, json={"studentId": students[0]})) is None
        removed = ok(await http.get(f"/v1/course/{sheet}"))
        assert [e["studentId"] for e in removed["STUDENTS"]] == [students[1]]
        again = await http.request("DELETE", path, json={"studentId": students[0]})
        refused(again, "Student not in the list")
    assert [e["studentId"] for e in school.courses[sheet]["STUDENTS"]] == [students[1]]


async def test_presential_states_set_absent_and_delay(
    sandbox: EdusignSandbox, school: School
) -> None:
    professor = school.add_professor(**person(1))
    student = school.add_student(**person(1))
    sheet = school.add_course(**course(professor, STUDENTS=[{"studentId": student}]))
    school.sign(sheet, student)
    base = "/v1/presential-states"
    async with client(sandbox) as http:
        set_absent = f"{base}/set-absent/{sheet}/{student}"
        assert ok(await http.patch(set_absent, json={"comment": "ill"})) is None
        absent = ok(await http.get(f"/v1/course/{sheet}"))
        set_delay = f"{base}/set-delay/{sheet}/{student}"
        assert ok(await http.patch(set_delay, json={"delay": 15})) is None
        late = ok(await http.get(f"/v1/course/{sheet}"))
        refused(
            await http.patch(f"{base}/set-delay/{sheet}/{student}", json={"delay": "15"}),
            ["delay must be a non-negative integer"],
            400,
        )
        refused(
            await http.patch(f"{base}/set-absent/{sheet}/nobody", json={}),
            "Student not in the list",
        )
    entry = absent["STUDENTS"][0]
    assert (entry["state"], entry["signature"], entry["comment"]) == (False, None, "ill")
    assert late["STUDENTS"][0]["delay"] == 15


async def test_a_patch_changes_fields_and_keeps_attendance(
    sandbox: EdusignSandbox, school: School
) -> None:
    professors = [school.add_professor(**person(n)) for n in range(3)]
    student = school.add_student(**person(1))
    sheet = school.add_course(
        **course(professors[0], PROFESSOR_2=professors[1], STUDENTS=[{"studentId": student}])
    )
    school.sign(sheet, student)
    change = {
        "ID": sheet,
        "NAME": "Algèbre 2",
        "START": "2025-10-22T10:00:00+02:00",
        "END": "2025-10-22T12:00:00+02:00",
        "CLASSROOM": "B2",
        "PROFESSOR_2": None,
        "PROFESSOR_3": professors[2],
    }
    async with client(sandbox) as http:
        patched = await http.patch("/v1/course", json={"course": change, "editSurveys": False})
        assert ok(patched) is None
        shown = ok(await http.get(f"/v1/course/{sheet}"))
        refused(
            await http.patch("/v1/course", json={"course": {"ID": sheet, "STUDENTS": []}}),
            ["STUDENTS cannot be changed by PATCH: use /v1/course/attendance"],
            400,
        )
        refused(
            await http.patch("/v1/course", json={"course": {"NAME": "x"}}), ["ID is required"], 400
        )
        refused(
            await http.patch("/v1/course", json={"course": {"ID": sheet, "NAME": None}}),
            ["NAME is required"],
            400,
        )
        backwards = {"ID": sheet, "END": "2025-10-22T09:00:00+02:00"}
        refused(
            await http.patch("/v1/course", json={"course": backwards}),
            ["END must be after START"],
            400,
        )
        refused(
            await http.patch("/v1/course", json={"course": {"ID": "nope"}}),
            "No course with this ID found",
        )
    assert (shown["NAME"], shown["CLASSROOM"], shown["START"]) == (
        "Algèbre 2",
        "B2",
        "2025-10-22T08:00:00.000Z",
    )
    assert (shown["PROFESSOR"], shown["PROFESSOR_2"], shown["PROFESSOR_3"]) == (
        professors[0],
        None,
        professors[2],
    )
    assert shown["PROFESSOR_SIGNATURE_3"] is None
    assert shown["STUDENTS"][0]["state"] is True, "attendance kept"
    assert school.courses[sheet]["NEED_STUDENTS_SIGNATURE"] is True


async def test_a_locked_course_cannot_be_locked_again_nor_changed(
    sandbox: EdusignSandbox, school: School
) -> None:
    professor = school.add_professor(**person(1))
    student = school.add_student(**person(1))
    sheet = school.add_course(**course(professor))
    async with client(sandbox) as http:
        assert ok(await http.get(f"/v1/course/lock/{sheet}")) is None
        assert ok(await http.get(f"/v1/course/{sheet}"))["LOCKED"] == 1
        refused(await http.get(f"/v1/course/lock/{sheet}"), "Course already locked")
        for response in (
            await http.patch("/v1/course", json={"course": {"ID": sheet, "NAME": "x"}}),
            await http.put(f"/v1/course/attendance/{sheet}", json={"studentId": student}),
            await http.delete(f"/v1/course/{sheet}"),
        ):
            refused(response, "Course is locked")
    assert school.courses[sheet]["NAME"] == "Algèbre"


async def test_a_course_is_deleted(sandbox: EdusignSandbox, school: School) -> None:
    sheet = school.add_course(**course(school.add_professor(**person(1))))
    other = school.add_course(**course(school.add_professor(**person(2))))
    school.lock(other)
    school.lock(other)
    async with client(sandbox) as http:
        assert ok(await http.delete(f"/v1/course/{sheet}")) is None
        refused(await http.get(f"/v1/course/{sheet}"), "No course with this ID found")
        refused(await http.delete(f"/v1/course/{sheet}"), "No course with this ID found")
    assert list(school.courses) == [other]


# The rate limit's slow-down.


async def test_past_480_a_minute_requests_are_slowed_not_refused() -> None:
    fake = FakeTime()
    sandbox = EdusignSandbox(clock=fake.clock, sleep=fake.sleep)
    sandbox.add_school(KEY)
    sandbox.add_school(OTHER_KEY)
    async with client(sandbox) as http, client(sandbox, OTHER_KEY) as other:
        for _ in range(480):
            ok(await http.get("/v1/school"))
        assert (fake.sleeps, sandbox.slowed[KEY]) == ([], 0)
        for _ in range(3):
            ok(await http.get("/v1/school"))
        ok(await other.get("/v1/school"))
        assert fake.sleeps == pytest.approx([0.1, 0.2, 0.3]), "+100 ms, growing"
        assert sandbox.slowed == {KEY: 3}, "per key"
        times = sandbox.request_times[KEY]
        assert times[480:] == pytest.approx([0.0, 0.1, 0.3]), "arrivals, before the delay"
        assert sandbox.busiest_minute(KEY) == 483
        assert sandbox.busiest_minute(OTHER_KEY) == 1
        fake.now = 59.9
        ok(await http.get("/v1/school"))
        assert fake.sleeps[3:] == pytest.approx([0.4]), "the burst is still within 60 s"
        fake.now = 60.05
        ok(await http.get("/v1/school"))
        assert len(fake.sleeps) == 4, "60 s after the burst, the window is clear"
    assert sandbox.busiest_minute("nobody") == 0


async def test_the_clock_and_sleep_can_be_replaced_later() -> None:
    fake = FakeTime()
    sandbox = EdusignSandbox()
    sandbox.add_school(KEY)
    sandbox.clock, sandbox.sleep = fake.clock, fake.sleep
    sandbox.rate_limit_per_minute = 1
    async with client(sandbox) as http:
        for _ in range(3):
            ok(await http.get("/v1/school"))
    assert (sandbox.clock, sandbox.sleep) == (fake.clock, fake.sleep)
    assert sandbox.request_times[KEY] == pytest.approx([0.0, 0.0, 0.1])
    assert fake.sleeps == pytest.approx([0.1, 0.2])


async def test_the_limit_is_configurable_and_the_default_sleep_is_real() -> None:
    sandbox = EdusignSandbox()
    sandbox.add_school(KEY)
    sandbox.rate_limit_per_minute = 1
    async with client(sandbox) as http:
        ok(await http.get("/v1/school"))
        started = time.monotonic()
        ok(await http.get("/v1/school"))
    assert time.monotonic() - started >= 0.09
    assert sandbox.slowed[KEY] == 1
    assert sandbox.request_times[KEY][1] >= sandbox.request_times[KEY][0]


# Faults, calls, a real port.


async def test_faults_apply(sandbox: EdusignSandbox) -> None:
    sandbox.faults = [
        Fault(path=r"^/v1/course$", status=500, times=1),
        Fault(method="POST", path="/v1/student", status=429, retry_after=3, times=1),
    ]
    async with client(sandbox) as http:
        failed = await http.get("/v1/course")
        limited = await http.post("/v1/student", json={"student": person(1)})
        after = [
            await http.get("/v1/course"),
            await http.post("/v1/student", json={"student": person(1)}),
        ]
    assert (failed.status_code, failed.text) == (500, "Internal Server Error")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
    assert [ok(r) is not None for r in after] == [True, True]
    assert [f.fired for f in sandbox.faults] == [1, 1]


async def test_calls_are_counted_per_route_template(
    sandbox: EdusignSandbox, school: School
) -> None:
    sheets = [school.add_course(**course(school.add_professor(**person(n)))) for n in range(2)]
    async with client(sandbox, None) as anonymous:
        await anonymous.get("/v1/school")
    async with client(sandbox) as http:
        for sheet in sheets:
            await http.get(f"/v1/course/{sheet}")
        await http.get("/v1/course/get-id/celcat:1:2:2025-10-21")
        await http.post("/v1/student/by-ids", json={"studentIds": []})
    assert sandbox.calls == {
        "GET /v1/school": 1,
        "GET /v1/course/{id}": 2,
        "GET /v1/course/get-id/{api_id}": 1,
        "POST /v1/student/by-ids": 1,
    }
    assert sandbox.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert sandbox.requests[1].path == f"/v1/course/{sheets[0]}"
    sandbox.reset_counts()
    assert (sandbox.calls, sandbox.requests, sandbox.slowed) == ({}, [], {})
    assert len(sandbox.request_times[KEY]) == 4, "arrivals are the rate limit's memory"


def test_a_school_key_is_given_once(sandbox: EdusignSandbox) -> None:
    with pytest.raises(ValueError, match="already"):
        sandbox.add_school(KEY)


async def test_served_on_a_real_port(sandbox: EdusignSandbox, school: School) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    professor = school.add_professor(**person(1))
    async with serve_app(sandbox.app) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=2) as http:
            sheet = ok(await http.post("/v1/course", json={"course": course(professor)}))["ID"]
            assert ok(await http.get(f"/v1/course/{sheet}"))["START"] == "2025-10-21T07:00:00.000Z"
            refused(await http.get("/v1/course/nope"), "No course with this ID found")
            unauthorized = await http.get("/v1/school", headers={"Authorization": "Bearer no"})
            assert unauthorized.status_code == 401
            sandbox.faults = [Fault(body="reset", times=1)]
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get("/v1/school")
            assert ok(await http.get("/v1/school"))["ID"] == school.id
