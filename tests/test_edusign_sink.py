"""CELCAT sandbox -> engine -> Edusign sandbox: every rule of "What is written" and
"Changes, deletions, idempotency" in sync-rules.md, with its reason code."""

from __future__ import annotations

import functools
from collections import Counter
from datetime import date, time

import httpx
import pytest

import tests.worlds
from adapters.celcat.sandbox import CelcatSandbox, Institution, generate_institution
from core import Reason, StreamEnd
from core.context import Window
from core.errors import RunFailed
from core.http import Pacer, RetryPolicy
from core.report import RunReport
from core.sandbox.quirks import Quirks
from core.state import open_state
from sinks.edusign.client import EdusignClient
from sinks.edusign.sandbox import EdusignSandbox, Fault
from sinks.edusign.sink import EdusignSink
from tests.doubles import PARIS, context, instructor, session
from tests.worlds import KEY, NOW, FakeClock, World

pytestmark = pytest.mark.anyio


def events(report: RunReport, reason: str) -> set[str | None]:
    return {e.key for e in report.events if e.reason == reason}


def synced_keys(report: RunReport) -> int:
    return report.counts["session"].created


async def test_first_sync_writes_sheets_people_and_nothing_else(world: World) -> None:
    report = await world.sync()
    assert report.outcome == "ok", report.events[:3]
    courses = world.ours("course")
    assert len(courses) == report.counts["session"].created > 0
    assert len(world.school.courses) == len(courses), "nothing but the connector's sheets"
    some = courses[0]
    assert some["API_ID"].startswith("celcat:")
    assert some["NEED_STUDENTS_SIGNATURE"] is True
    session_students = {e["studentId"] for c in courses for e in c["STUDENTS"]}
    professors = {
        c[k]
        for c in courses
        for k in c
        if k == "PROFESSOR" or (k.startswith("PROFESSOR_") and k[10:].isdigit() and c[k])
    }
    assert {s["ID"] for s in world.ours("student")} == session_students, (
        "students are created only when they have a synced sheet"
    )
    assert {p["ID"] for p in world.ours("professor")} == professors
    for student in world.ours("student"):
        assert student["API_ID"].startswith("celcat:student:")
        assert student["SEND_EMAIL_CREDENTIALS"] is False
    for professor in world.ours("professor"):
        assert professor["_dontSendCredentials"] is True
    assert report.counts["student"].created == len(world.ours("student"))
    assert report.calls["edusign"] == sum(world.edusign.calls.values())


async def test_a_sheet_carries_name_times_room_and_instructors(world: World) -> None:
    staff = valid_people(world.inst, "staff", 2)
    students = valid_people(world.inst, "student", 3)
    room = next(iter(world.inst.rooms))
    event = world.inst.add_event(
        1,
        name="Droit civil",
        category_id=next(iter(world.inst.categories)),
        dates={date(2025, 10, 27)},
        start=time(9, 0),
        end=time(10, 30),
        staff=staff,
        students=students,
        rooms=[room],
    )
    await world.sync()
    course = world.course(f"celcat:1:{event}:2025-10-27")
    assert course is not None
    assert course["NAME"] == "Droit civil"
    assert course["START"] == "2025-10-27T09:00:00+01:00"  # local time, winter offset
    assert course["END"] == "2025-10-27T10:30:00+01:00"
    assert course["CLASSROOM"] == world.inst.rooms[room].name
    assert course["PROFESSOR"]
    assert course["PROFESSOR_2"]
    assert len(course["STUDENTS"]) == 3


async def test_a_second_run_with_nothing_changed_writes_nothing(world: World) -> None:
    await world.sync()
    world.edusign.reset_counts()
    report = await world.sync()
    assert world.writes() == Counter()
    assert sum(world.edusign.calls.values()) == 0, "not even a read: the state store knows"
    assert report.counts["session"].unchanged > 0
    assert report.counts["session"].created == report.counts["session"].updated == 0


async def test_changes_in_celcat_update_the_sheets(world: World) -> None:
    await world.sync()
    course = world.ours("course")[0]
    _, timetable, event, _day = course["API_ID"].split(":")
    tt, ev = int(timetable), int(event)
    world.inst.rename_event(tt, ev, "Nouveau nom")
    world.inst.set_times(tt, ev, time(14, 0), time(16, 0))
    new_student = next(
        s
        for s in world.inst.students
        if f"student:{s}" not in set().union(*world.inst.planted.values())
        and s not in world.inst.event(tt, ev).students
    )
    world.inst.add_student_to_event(tt, ev, new_student)
    world.edusign.reset_counts()
    report = await world.sync()
    updated = world.course(course["API_ID"])
    assert updated is not None
    assert updated["ID"] == course["ID"]
    assert updated["NAME"] == "Nouveau nom"
    assert updated["START"][11:] in ("14:00:00+02:00", "14:00:00+01:00")
    added = world.school.find("student", f"celcat:student:{new_student}")
    assert added is not None
    assert added["ID"] in {e["studentId"] for e in updated["STUDENTS"]}
    assert report.counts["session"].updated >= 1
    assert world.writes()["POST /v1/course"] == 0, "updated in place, not recreated"


async def test_a_person_whose_data_changed_is_updated(world: World) -> None:
    await world.sync()
    student = world.ours("student")[0]
    celcat_id = int(student["API_ID"].split(":")[-1])
    world.inst.set_person("student", celcat_id, email="nouvelle.adresse@etu.example.fr")
    report = await world.sync()
    assert world.school.students[student["ID"]]["EMAIL"] == "nouvelle.adresse@etu.example.fr"
    assert report.counts["student"].updated == 1
    assert len(world.ours("student")) == len({s["API_ID"] for s in world.ours("student")})


async def test_vanished_sessions_are_deleted_and_moved_ones_recreated(world: World) -> None:
    await world.sync()
    courses = world.ours("course")
    removed, moved, suspended = courses[0], courses[1], courses[2]
    _, tt, ev, day = removed["API_ID"].split(":")
    world.inst.remove_occurrence(int(tt), int(ev), date.fromisoformat(day))
    _, tt2, ev2, day2 = moved["API_ID"].split(":")
    world.inst.move_event(int(tt2), int(ev2), date.fromisoformat(day2), date(2025, 11, 2))
    _, tt3, ev3, _ = suspended["API_ID"].split(":")
    world.inst.suspend_event(int(tt3), int(ev3))
    report = await world.sync()
    assert world.course(removed["API_ID"]) is None
    assert world.course(moved["API_ID"]) is None
    assert world.course(f"celcat:{tt2}:{ev2}:2025-11-02") is not None
    assert world.course(suspended["API_ID"]) is None
    assert suspended["API_ID"] in events(report, "event_suspended")
    assert report.counts["session"].deleted >= 3


async def test_a_lost_state_store_duplicates_nothing(world: World) -> None:
    await world.sync()
    before = {
        kind: sorted(r["ID"] for r in world.ours(kind))
        for kind in ("course", "student", "professor")
    }
    world.edusign.reset_counts()
    async with open_state("sqlite://") as empty:
        report = await world.sync(store=empty)
    after = {
        kind: sorted(r["ID"] for r in world.ours(kind))
        for kind in ("course", "student", "professor")
    }
    assert after == before
    assert report.counts["session"].created == 0
    assert world.writes()["POST /v1/course"] == 0
    assert world.writes()["POST /v1/student"] == 0
    listed = sum(
        n
        for k, n in world.edusign.calls.items()
        if k in ("GET /v1/student", "GET /v1/professor", "GET /v1/course")
    )
    assert listed <= 20, "found in bulk lists, not one lookup per object"


async def test_what_was_made_by_hand_is_never_touched(world: World) -> None:
    teacher = world.school.add_professor(FIRSTNAME="Anne", LASTNAME="Main", EMAIL="a@x.example")
    hand_course = world.school.add_course(
        NAME="Réunion parents",
        START="2025-10-22T08:00:00Z",
        END="2025-10-22T09:00:00Z",
        PROFESSOR=teacher,
        NEED_STUDENTS_SIGNATURE=False,
    )
    first = await world.sync()
    assert first.outcome == "ok"
    # A student CELCAT knows, made by hand in Edusign before the second run's lookup.
    celcat_student = next(iter(world.ours("student")))
    world.school.students.pop(celcat_student["ID"])
    hand_id = world.school.add_student(
        FIRSTNAME="Marie", LASTNAME="Manuelle", EMAIL=celcat_student["EMAIL"]
    )
    async with open_state("sqlite://") as empty:
        report = await world.sync(store=empty)
    assert world.school.courses[hand_course]["NAME"] == "Réunion parents"
    assert world.school.students[hand_id]["LASTNAME"] == "Manuelle", "never modified"
    assert world.school.students[hand_id].get("API_TYPE") != "passerelle"
    assert celcat_student["API_ID"] in events(report, "person_not_managed")
    linked = [c for c in world.ours("course") if hand_id in {e["studentId"] for e in c["STUDENTS"]}]
    assert linked, "the hand-made person is put on the sheets as is"


def valid_people(inst: Institution, kind: str, n: int) -> list[int]:
    planted = set().union(*inst.planted.values())
    pool = inst.staff if kind == "staff" else inst.students
    return [i for i in pool if f"{kind}:{i}" not in planted][:n]


async def test_a_professor_made_by_hand_is_linked_not_duplicated(world: World) -> None:
    inst = world.inst
    (staff_id,) = valid_people(inst, "staff", 1)
    event = inst.add_event(
        2,
        name="Algèbre",
        category_id=next(iter(inst.categories)),
        dates={date(2025, 10, 28)},
        start=time(8, 0),
        end=time(9, 0),
        staff=[staff_id],
        students=valid_people(inst, "student", 2),
    )
    email = inst.staff[staff_id].email
    hand = world.school.add_professor(FIRSTNAME="Prof", LASTNAME="Manuel", EMAIL=email.upper())
    report = await world.sync()
    same_email = [
        p["ID"]
        for p in world.school.professors.values()
        if p["EMAIL"].casefold() == email.casefold()
    ]
    assert same_email == [hand]
    assert world.school.professors[hand]["LASTNAME"] == "Manuel"
    course = world.course(f"celcat:2:{event}:2025-10-28")
    assert course is not None
    assert course["PROFESSOR"] == hand
    assert f"celcat:staff:{staff_id}" in events(report, "person_not_managed")


async def test_a_locked_or_signed_sheet_is_never_rewritten_nor_deleted(world: World) -> None:
    await world.sync()
    locked, signed, other = world.ours("course")[:3]
    world.school.lock(locked["ID"])
    student = signed["STUDENTS"][0]["studentId"]
    world.school.sign(signed["ID"], student)
    for course in (locked, signed, other):
        _, tt, ev, _ = course["API_ID"].split(":")
        world.inst.rename_event(int(tt), int(ev), f"Renamed {ev}")
    report = await world.sync()
    assert world.school.courses[locked["ID"]]["NAME"] == locked["NAME"]
    assert world.school.courses[signed["ID"]]["NAME"] == signed["NAME"]
    assert {locked["API_ID"], signed["API_ID"]} <= events(report, "sheet_locked")
    for course in (locked, signed):
        _, tt, ev, _ = course["API_ID"].split(":")
        world.inst.remove_event(int(tt), int(ev))
    report = await world.sync()
    assert locked["ID"] in world.school.courses
    assert signed["ID"] in world.school.courses
    assert {locked["API_ID"], signed["API_ID"]} <= events(report, "sheet_locked")


async def test_send_credentials_and_groups(world: World) -> None:
    world.sink_options = {"send_credentials": True, "sync_groups": True}
    report = await world.sync()
    assert all(s["SEND_EMAIL_CREDENTIALS"] is True for s in world.ours("student"))
    assert all(p["_dontSendCredentials"] is False for p in world.ours("professor"))
    groups = world.ours("group")
    assert groups
    assert report.counts["group"].created == len(groups)
    students = {s["ID"] for s in world.ours("student")}
    for group in groups:
        assert set(group["STUDENTS"]) <= students, "only members that exist in Edusign"
        assert group["NAME"] == world.inst.groups[int(group["API_ID"].split(":")[-1])].name
    with_group = [c for c in world.ours("course") if c.get("SCHOOL_GROUP")]
    assert with_group
    world.edusign.reset_counts()
    await world.sync()
    assert world.writes() == Counter(), "groups too are left alone when unchanged"


async def test_dry_run_plans_and_writes_nothing(world: World) -> None:
    plan = await world.sync(dry_run=True)
    assert world.writes() == Counter()
    assert not world.school.courses
    assert not world.school.students
    assert plan.counts["session"].created > 0
    assert plan.counts["student"].created > 0
    real = await world.sync()
    assert real.counts["session"].created == plan.counts["session"].created
    assert real.counts["student"].created == plan.counts["student"].created


async def test_pacing_never_exceeds_480_in_any_minute(world: World) -> None:
    """About 1,000 writes; the sandbox's clock is the test's, so no real time passes."""
    inst = generate_institution(
        seed=9,
        start=date(2025, 10, 21),
        days=14,
        students=500,
        staff=40,
        groups=20,
        timetables=2,
        occurrences=520,
        bad_records=False,
    )
    world.inst, world.celcat = inst, CelcatSandbox(inst, api_code="c")
    report = await world.sync()  # at the default pace: 450 a minute, a margin under 480
    writes = sum(world.writes().values())
    assert writes >= 1000
    busiest = world.edusign.busiest_minute(KEY)
    assert busiest <= 480
    assert busiest >= 440, "and the budget is used, not wasted"
    assert world.edusign.slowed[KEY] == 0, "never slowed down by the server"
    assert report.outcome == "ok"


async def test_faults_on_edusign_are_retried_without_duplicates(world: World) -> None:
    """A create whose answer is lost (the body cut short after Edusign did it) is looked
    up before it is tried again; 429 and 5xx are retried."""
    clean = await world.sync(dry_run=True)
    world.edusign.faults += [
        Fault(
            method="POST",
            path="^/v1/(course|student|professor)$",
            body="truncated",
            rate=0.3,
            seed=1,
        ),
        Fault(method="POST", path="^/v1/course$", status=503, rate=0.2, seed=2),
        Fault(path="^/v1/", status=429, retry_after=2, rate=0.05, seed=3),
    ]
    report = await world.sync()
    assert report.outcome == "ok", [e for e in report.events if e.status == "failed"][:3]
    assert all(f.fired for f in world.edusign.faults)
    for kind in ("course", "student", "professor"):
        api_ids = [r["API_ID"] for r in world.ours(kind)]
        assert len(api_ids) == len(set(api_ids)), f"no duplicate {kind}"
    assert len(world.ours("course")) == clean.counts["session"].created
    assert 2.0 in world.clock.slept


async def test_a_create_that_failed_before_reaching_edusign_is_retried_not_refused(
    world: World,
) -> None:
    """Issue 13, point 3. The first creates fail before Edusign sees them (503), so the
    retry asks get-id first; Edusign answers "unknown" in words of its own (the contract
    quotes none for get-id). Any error from get-id means unknown: the object is created,
    once, and nothing is refused."""
    clean = await world.sync(dry_run=True)
    kinds = ("student", "professor", "course")
    for kind in kinds:
        unknown = {"status": "error", "message": f"No {kind} found with this API_ID"}
        world.edusign.faults.append(
            Fault(method="GET", path=f"^/v1/{kind}/get-id/", body="document", document=unknown)
        )
    # Four 503s per kind: fewer than the five tries one create gets, so none is lost.
    world.edusign.faults += [
        Fault(method="POST", path=f"^/v1/{kind}$", status=503, times=4) for kind in kinds
    ]
    report = await world.sync()
    refused = [e.detail for e in report.events if e.reason == "write_refused"]
    assert not refused, refused[:3]
    assert report.outcome == "ok"
    assert [f.fired for f in world.edusign.faults] == [4] * 6, "each retry asked get-id"
    counts = {"course": "session", "student": "student", "professor": "instructor"}
    for kind, counted in counts.items():
        api_ids = [r["API_ID"] for r in world.ours(kind)]
        assert len(api_ids) == len(set(api_ids)), f"no {kind} twice"
        assert len(api_ids) == clean.counts[counted].created, f"every {kind} created"


async def test_a_student_create_refused_in_other_words_is_looked_up_by_email(
    world: World,
) -> None:
    """A student archived by hand is left out of the lists, so a lost store makes the
    sink create it again: Edusign refuses (the email is taken) in words the contract does
    not quote. The sink asks by email whatever was said, and links what it finds."""
    await world.sync()
    archived = world.ours("student")[:3]
    for student in archived:
        world.school.students[student["ID"]]["HIDDEN"] = 1
    taken = {"status": "error", "message": "Cette adresse e-mail est déjà utilisée"}
    world.edusign.faults.append(
        Fault(method="POST", path="^/v1/student$", body="document", document=taken)
    )
    async with open_state("sqlite://") as empty:
        report = await world.sync(store=empty)
    refused = [e.detail for e in report.events if e.reason == "write_refused"]
    assert not refused, refused[:3]
    assert world.edusign.faults[-1].fired == len(archived), "only the archived were tried"
    assert report.outcome == "ok"
    for student in archived:
        same = [s for s in world.school.students.values() if s["EMAIL"] == student["EMAIL"]]
        assert [s["ID"] for s in same] == [student["ID"]], "never a second account"
        sheets = [c for c in world.ours("course") if student["ID"] in _students_of(c)]
        assert sheets, "still on its sheets"


async def test_a_student_taken_off_a_sheet_twice_is_no_failure(world: World) -> None:
    """The DELETE that takes a student off a sheet is done, but its answer is lost; the
    retry is refused ("not on the sheet"), in words the contract does not quote. The sheet
    says the student is off it: done, not refused."""
    students = valid_people(world.inst, "student", 2)
    event = world.inst.add_event(
        1,
        name="Droit civil",
        category_id=next(iter(world.inst.categories)),
        dates={date(2025, 10, 27)},
        start=time(9, 0),
        end=time(10, 30),
        staff=valid_people(world.inst, "staff", 1),
        students=students,
    )
    await world.sync()
    sheet = world.course(f"celcat:1:{event}:2025-10-27")
    leaving = world.school.find("student", f"celcat:student:{students[0]}")
    assert sheet is not None
    assert leaving is not None
    assert leaving["ID"] in _students_of(sheet)
    world.inst.remove_student_from_event(1, event, students[0])
    path = f"^/v1/course/attendance/{sheet['ID']}$"
    gone = {"status": "error", "message": "Cet étudiant n'est pas inscrit à ce cours"}
    world.edusign.faults += [
        Fault(method="DELETE", path=path, body="truncated", times=1),
        Fault(method="DELETE", path=path, body="document", document=gone, times=1),
    ]
    report = await world.sync()
    refused = [e.detail for e in report.events if e.reason == "write_refused"]
    assert not refused, refused[:3]
    assert [f.fired for f in world.edusign.faults] == [1, 1]
    assert leaving["ID"] not in _students_of(world.school.courses[sheet["ID"]])


async def test_a_refused_delete_of_a_sheet_gone_already_is_forgotten(world: World) -> None:
    """The DELETE of a vanished session's sheet is done, but its answer is lost; the retry
    is refused in words of the server's own (the contract quotes "No course with this ID
    found" for GET only). GET then says the sheet is gone: forgotten, not failed."""
    await world.sync()
    sheet = world.ours("course")[0]
    _, tt, ev, day = sheet["API_ID"].split(":")
    world.inst.remove_occurrence(int(tt), int(ev), date.fromisoformat(day))
    path = f"^/v1/course/{sheet['ID']}$"
    gone = {"status": "error", "message": "Ce cours n'existe plus"}
    world.edusign.faults += [
        Fault(method="DELETE", path=path, body="truncated", times=1),
        Fault(method="DELETE", path=path, body="document", document=gone, times=1),
    ]
    report = await world.sync()
    failed = [e.detail for e in report.events if e.status == "failed"]
    assert not failed, failed[:3]
    assert [f.fired for f in world.edusign.faults] == [1, 1]
    assert sheet["ID"] not in world.school.courses
    assert sheet["API_ID"] not in await world.store.load("acme", "session"), "forgotten"


def _students_of(course: dict[str, object]) -> set[str]:
    entries = course["STUDENTS"]
    assert isinstance(entries, list)
    return {e["studentId"] for e in entries}


def edusign_client(sandbox: EdusignSandbox, http: httpx.AsyncClient) -> EdusignClient:
    clock = FakeClock()
    return EdusignClient(
        http,
        tenant="acme",
        retry=RetryPolicy(),
        pacer=Pacer(60_000, monotonic=clock, sleep=clock.sleep),
        sleep=clock.sleep,
    )


def edusign_http(sandbox: EdusignSandbox) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app),
        base_url="http://edusign",
        headers={"Authorization": f"Bearer {KEY}"},
    )


@pytest.mark.parametrize("seed", range(4))
async def test_students_are_listed_to_the_end_when_pages_hold_fewer_than_asked(
    seed: int,
) -> None:
    """No cap on the students' ``limit`` is documented: a server serving fewer rows than
    asked is legal, so a page shorter than the limit does not end the list."""
    sandbox = EdusignSandbox(quirks=Quirks(seed))
    school = sandbox.add_school(KEY)
    made = {
        school.add_student(FIRSTNAME=f"Ann{n}", LASTNAME="LEE", EMAIL=f"ann{n}@example.org")
        for n in range(95)
    }
    async with edusign_http(sandbox) as http:
        listed = [row async for row in edusign_client(sandbox, http).pages("student", 10)]
    assert sorted(row["ID"] for row in listed) == sorted(made)
    assert sandbox.requests[0].query == {"page": "0", "limit": "10"}
    assert sandbox.calls["GET /v1/student"] > 10, "the server served fewer than 10 a page"


async def test_a_list_that_never_ends_is_an_error_not_a_hang() -> None:
    """A server that ignored ``page`` would serve its first page forever: the client sees
    the second page repeat the first and fails the run there, a page later, not
    ``MAX_PAGES`` pages later."""
    sandbox = EdusignSandbox()
    sandbox.add_school(KEY)
    same = {"status": "success", "result": [{"ID": "a" * 16}]}
    sandbox.faults.append(Fault(method="GET", path="^/v1/student$", body="document", document=same))
    async with edusign_http(sandbox) as http:
        client = edusign_client(sandbox, http)
        with pytest.raises(RunFailed, match="page 2 is the page before it again"):
            _ = [row async for row in client.pages("student", 1000)]
    assert sandbox.calls["GET /v1/student"] == 2


async def test_a_90_day_window_across_the_clock_change_is_listed_in_slices(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Edusign lists courses over at most 90 days. A 90-day window from midnight to
    midnight spans 90 days and an hour when the clocks go back (October 26th): read as
    one range, the listing is refused and no sheet can be looked up."""
    window = Window.starting_after(NOW, PARIS, 90)
    monkeypatch.setattr(tests.worlds, "context", functools.partial(context, window=window))
    first = await world.sync()
    assert first.outcome == "ok", [e.detail for e in first.events if e.status == "failed"][:3]
    async with open_state("sqlite://") as empty:
        again = await world.sync(store=empty)
    assert again.outcome == "ok"
    assert again.counts["session"].created == 0, "every sheet found by listing them"
    ranges = {
        (r.query.get("start"), r.query.get("end"))
        for r in world.edusign.requests
        if (r.method, r.path) == ("GET", "/v1/course")
    }
    assert len(ranges) == 2, ranges


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
async def test_of_two_sheets_sharing_an_api_id_the_same_one_is_adopted_whatever_the_order(
    world: World, seed: int
) -> None:
    """v1 does not make an API_ID unique and lists in no promised order: which record a
    lost store adopts must not depend on the order of the listing."""
    await world.sync()
    original = dict(min(world.ours("course"), key=lambda c: c["API_ID"]))
    twin = world.school.insert("course", {k: v for k, v in original.items() if k != "ID"})
    _, timetable, event, _ = original["API_ID"].split(":")
    world.inst.timetables[int(timetable)].events[int(event)].name = "Renamed in CELCAT"
    world.edusign.quirks = Quirks(seed)
    async with open_state("sqlite://") as empty:
        await world.sync(store=empty)
    adopted = min(original["ID"], twin)
    left = max(original["ID"], twin)
    assert world.school.courses[adopted]["NAME"] == "Renamed in CELCAT"
    # The other is a duplicate, unsigned: deleted (tests/test_edusign_shared.py).
    assert left not in world.school.courses


@pytest.mark.parametrize("trimmed", [False, True])
async def test_the_deletion_guard_counts_from_the_sink_not_the_report(trimmed: bool) -> None:
    """The guard counts the sheets held before this run's writes: the sheets created this
    run are left out, and which those are is the sink's to know. The report is for people:
    its list of actions trimmed, or never kept, must not change the verdict (here: 6 of
    the 10 sheets held would go, too many; counting the 10 new ones as held, 6 of 20
    would pass)."""
    sandbox = EdusignSandbox()
    school = sandbox.add_school(KEY)
    sessions = [session(n, instructors=[instructor(1)]) for n in range(20)]
    old, new = sessions[:10], sessions[10:]
    async with edusign_http(sandbox) as http, open_state("sqlite://") as store:
        client = edusign_client(sandbox, http)
        for records in (old, old[6:] + new):
            sink = EdusignSink(client, send_credentials=False, sync_groups=False, tenant="acme")
            ctx = context(store)
            for record in records:
                await sink.write(record, ctx)
            if trimmed:
                ctx.report.report.actions.clear()
            await sink.finish(ctx, StreamEnd(complete=True))
    guarded = [e.ids for e in ctx.report.report.events if e.reason == Reason.DELETIONS_GUARDED]
    assert guarded == [{"would_delete": "6", "held": "10"}]
    assert len(school.courses) == 20, "nothing deleted"
