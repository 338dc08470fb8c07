"""Edusign sandbox -> return-attendance pipeline -> CAWS sandbox: every rule of
"The return-attendance pipeline" in sync-rules.md."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.celcat import mapping
from adapters.celcat.caws_sandbox import CawsSandbox, Fault, MarkDefinition, Quirks
from adapters.celcat.plugin import CelcatOptions
from adapters.celcat.return_attendance import ReturnAttendanceOptions, caws_sink
from core.config import load_config
from core.context import Window
from core.errors import ConfigError, RunFailed
from core.plugins import load_registry
from core.protocols import Pipeline, Seams, Setup
from core.report import RunReport
from core.runner import plan_for
from core.scheduler import pipelines_of
from core.stream import run_pipeline
from sinks.edusign.plugin import EdusignOptions, open_attendance
from tests.doubles import PARIS, context
from tests.worlds import KEY, World

pytestmark = pytest.mark.anyio

LATER = datetime(2025, 10, 24, 18, 0, tzinfo=UTC)  # 20:00 in Paris: Oct 21..24 have ended
P, A, L, E = 1, 2, 3, 4  # the CAWS sandbox's MarkIds


def caws_options(**extra: Any) -> ReturnAttendanceOptions:
    """The options the CAWS sandbox's defaults accept."""
    return ReturnAttendanceOptions.model_validate(
        {
            "caws_url": "http://caws",
            "username": "passerelle",
            "password": "pw",
            "timetable_alias": "TT2025",
            "role": "Admin",
            **extra,
        }
    )


@dataclass
class Back:
    """The return trip: the world of the timetable sync, plus CAWS."""

    world: World
    caws: CawsSandbox
    transport: httpx.AsyncBaseTransport | None = None
    timetable_id: int | None = 1
    caws_url: str = "http://caws"

    async def run(self, *, now: datetime = LATER, dry_run: bool = False) -> RunReport:
        ctx = context(
            self.world.store, now=now, dry_run=dry_run, window=Window.ending_on(now, PARIS, 7)
        )
        options = caws_options(timetable_id=self.timetable_id, caws_url=self.caws_url)
        edusign = EdusignOptions.model_validate({"url": "http://edusign", "api_key": KEY})
        celcat = CelcatOptions.model_validate({"url": "http://celcat", "api_code": "c"})
        seams = self.world.seams()  # the world's sandboxes and clock, and CAWS beside them
        caws = self.transport or httpx.ASGITransport(self.caws.app)
        seams = replace(seams, transports={**seams.transports, "caws": caws})
        async with (
            open_attendance(Setup("acme", PARIS, edusign, ctx.report.call, seams=seams)) as marks,
            caws_sink(Setup("acme", PARIS, options, ctx.report.call, seams=seams), celcat) as sink,
        ):
            await run_pipeline(Pipeline(marks, sink, concurrency=1), ctx)
        return ctx.report.finish(now)


def week_of(world: World, timetable: int, event: int, day: str) -> int:
    """The week CELCAT gives the occurrence of ``event`` on ``day`` (``week`` of
    ``GET /api/events?date=``), from the institution the CELCAT sandbox serves."""
    found = world.inst.timetables[timetable]
    assert day in {d.isoformat() for d in found.events[event].dates}
    return found.week_of(date.fromisoformat(day))


@pytest.fixture
async def back(world: World) -> Back:
    return await synced_back(world)


async def synced_back(world: World) -> Back:
    """The world synced to Edusign, and a CAWS with a register for every sheet of
    timetable 1 that has ended by LATER."""
    await world.sync()
    caws = CawsSandbox()
    # A register for every sheet that has ended by LATER, with its students.
    created: set[tuple[int, int]] = set()
    for course in ended_courses(world):
        _, tt, ev, day = course["API_ID"].split(":")
        week = week_of(world, int(tt), int(ev), day)
        students = [
            int(world.school.students[e["studentId"]]["API_ID"].split(":")[-1])
            for e in course["STUDENTS"]
        ]
        if (int(ev), week) not in created:
            created.add((int(ev), week))
            caws.add_register(int(ev), week, staff_id=1, student_ids=students)
    return Back(world, caws)


def ended_courses(world: World) -> list[dict[str, Any]]:
    return sorted(
        (
            c
            for c in world.ours("course")
            if c["API_ID"].split(":")[-1] <= "2025-10-24" and c["API_ID"].split(":")[1] == "1"
        ),
        key=lambda c: c["API_ID"],
    )


async def test_signed_late_excused_and_absent_go_back_to_celcat(back: Back) -> None:
    world = back.world
    course = ended_courses(world)[0]
    entries = [e["studentId"] for e in course["STUDENTS"]]
    assert len(entries) >= 3, "a session with several students"
    signed, late, excused = entries[:3]
    world.school.sign(course["ID"], signed)
    world.school.sign(course["ID"], late, delay=12)
    world.school.sign(course["ID"], excused, signed=False, absence_id="abs1")
    report = await back.run()
    assert report.outcome == "ok", report.events[:3]
    _, tt, ev, day = course["API_ID"].split(":")
    register = back.caws.register(int(ev), week_of(world, int(tt), int(ev), day))
    marks = {m["StudentId"]: m for m in register["StudentMarks"]}

    def celcat_id(edusign_id: str) -> int:
        return int(world.school.students[edusign_id]["API_ID"].split(":")[-1])

    assert marks[celcat_id(signed)]["MarkId"] == P
    assert (marks[celcat_id(late)]["MarkId"], marks[celcat_id(late)]["MinsLate"]) == (L, 12)
    assert marks[celcat_id(excused)]["MarkId"] == E
    for other in entries[3:]:
        assert marks[celcat_id(other)]["MarkId"] == A, "untouched students are absent"
    assert all(m["Source"] == "passerelle" for m in marks.values())
    assert report.counts["mark"].updated >= len(entries)


async def test_a_second_run_sends_nothing(back: Back) -> None:
    first = await back.run()
    puts = len(back.caws.puts)
    assert puts > 0
    second = await back.run()
    assert len(back.caws.puts) == puts
    assert second.counts["mark"].unchanged == first.counts["mark"].updated


async def test_a_change_in_edusign_is_sent_once(back: Back) -> None:
    await back.run()
    course = ended_courses(back.world)[0]
    student = course["STUDENTS"][0]["studentId"]
    back.world.school.sign(course["ID"], student)
    puts = len(back.caws.puts)
    report = await back.run()
    assert len(back.caws.puts) == puts + 1
    assert report.counts["mark"].updated == 1


async def test_a_mark_set_by_someone_else_is_kept(back: Back) -> None:
    course = ended_courses(back.world)[0]
    _, tt, ev, day = course["API_ID"].split(":")
    week = week_of(back.world, int(tt), int(ev), day)
    student_api_id = back.world.school.students[course["STUDENTS"][0]["studentId"]]["API_ID"]
    student = int(student_api_id.split(":")[-1])
    back.caws.set_mark(int(ev), week, student, "AUT", user="teacher.dupont")
    report = await back.run()
    marks = {m["StudentId"]: m for m in back.caws.register(int(ev), week)["StudentMarks"]}
    assert marks[student]["MarkId"] == 5
    assert marks[student]["Source"] == "teacher.dupont"
    assert f"{course['API_ID']}/{student_api_id}" in {
        e.key for e in report.events if e.reason == "mark_kept"
    }


async def test_a_token_that_expires_mid_run_is_renewed(back: Back) -> None:
    inner = httpx.ASGITransport(back.caws.app)

    class ExpiresAtFirstRegisters(httpx.AsyncBaseTransport):
        expired = False

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.lower() == "/registers" and not self.expired:
                self.expired = True
                back.caws.expire_tokens()
            return await inner.handle_async_request(request)

    back.transport = ExpiresAtFirstRegisters()
    report = await back.run()
    assert report.outcome == "ok", report.events[:3]
    assert back.caws.calls["POST /token"] == 2
    assert back.caws.puts


async def test_a_missing_register_is_reported_not_fatal(back: Back) -> None:
    course = ended_courses(back.world)[0]
    back.caws = CawsSandbox()  # no register at all
    report = await back.run()
    assert report.outcome == "partial"
    assert course["API_ID"] in {e.key for e in report.events if e.reason == "register_missing"}


def test_a_tenant_without_the_plugin_never_calls_caws() -> None:
    """Nothing can even be planned for it: no pipeline, so no CAWS client."""
    example = Path(__file__).parents[1] / "plugins.toml"
    registry = load_registry()
    tenant = load_config(example, registry).tenant("acme")
    assert "return-attendance" not in tenant.settings.plugins
    with pytest.raises(ConfigError, match="pipeline 'return-attendance' is not enabled"):
        plan_for(tenant, "return-attendance", registry)
    assert "return-attendance" not in pipelines_of(tenant, registry)


async def test_only_sheets_that_ended_within_the_lookback_are_read(back: Back) -> None:
    course = ended_courses(back.world)[0]
    back.world.school.sign(course["ID"], course["STUDENTS"][0]["studentId"])
    # Nine days later, the week of Oct 21 is out of the 7-day lookback.
    report = await back.run(now=datetime(2025, 11, 2, 18, 0, tzinfo=UTC))
    assert back.caws.puts == []
    days = {e.key.split(":")[-1] for e in report.events if e.key}
    assert days, "the sessions of the lookback were read (they have no register here)"
    assert min(days) >= "2025-10-26", "nothing older than the lookback"
    # The evening before it starts, a sheet has not ended: nothing to say about it yet.
    report = await back.run(now=datetime(2025, 10, 20, 18, 0, tzinfo=UTC))
    assert back.caws.puts == []


async def test_dry_run_reads_but_sends_nothing(back: Back) -> None:
    plan = await back.run(dry_run=True)
    assert back.caws.puts == []
    assert plan.counts["mark"].updated > 0
    assert await back.world.store.load("acme", "mark") == {}


async def test_the_token_is_renewed_before_it_expires() -> None:
    now = [0.0]
    # Plain answers: this is about a lifetime the server states (``expires_in``), which
    # a quirky one sometimes leaves out (see the test below).
    caws = CawsSandbox(token_lifetime=120.0, clock=lambda: now[0], quirks=Quirks(None))
    options = caws_options()
    celcat = CelcatOptions.model_validate({"url": "http://celcat"})
    seams = Seams(transports={"caws": httpx.ASGITransport(caws.app)}, monotonic=lambda: now[0])
    async with caws_sink(Setup("acme", PARIS, options, seams=seams), celcat) as sink:
        assert await sink.check() == ["5 mark definitions"]
        now[0] = 70.0  # 50 s left: inside the minute before expiry
        assert await sink.check() == ["5 mark definitions"]
    assert caws.calls["POST /token"] == 2
    assert caws.calls["GET /MarkDefinitions"] == 2, "no call was refused on the way"


def without_expires_in() -> Quirks:
    """The quirks of a CAWS server that states no lifetime with its first two tokens."""
    return next(
        Quirks(seed)
        for seed in range(200)
        if not any(Quirks(seed).header("expires_in", grant) for grant in (1, 2))
    )


async def test_a_token_without_a_stated_lifetime_is_renewed_early_and_on_a_401() -> None:
    """``expires_in`` is assumed, not seen: without it, the client takes a short
    lifetime of its own (mapping.CAWS_ASSUMED_LIFETIME), and a 401 still renews it."""
    now = [0.0]
    caws = CawsSandbox(token_lifetime=100.0, clock=lambda: now[0], quirks=without_expires_in())
    celcat = CelcatOptions.model_validate({"url": "http://celcat"})
    seams = Seams(transports={"caws": httpx.ASGITransport(caws.app)}, monotonic=lambda: now[0])
    async with caws_sink(Setup("acme", PARIS, caws_options(), seams=seams), celcat) as sink:
        assert await sink.check() == ["5 mark definitions"]
        now[0] = 150.0  # the server's token has expired; ours, assumed, has not
        assert await sink.check() == ["5 mark definitions"]
        assert caws.calls["POST /token"] == 2, "renewed on the 401"
        assert caws.calls["GET /MarkDefinitions"] == 3, "the refused call, then again"
        caws.reset_counts()
        now[0] = 150.0 + mapping.CAWS_ASSUMED_LIFETIME - 30  # inside the renewal minute
        await sink.check()
        assert caws.calls["POST /token"] == 1, "renewed before the assumed lifetime ends"
        assert caws.calls["GET /MarkDefinitions"] == 1


class WithoutRegisterIds(httpx.AsyncBaseTransport):
    """CAWS as the contract describes it: a register read carries no id of its own (the
    client derives it from ``EventId`` and ``Week``). Strips any ``Id`` a server adds."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app)
        self.put_paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "PUT":
            self.put_paths.append(request.url.path)
        if request.method != "GET" or request.url.path.lower() != "/registers":
            return response
        await response.aread()
        registers = [
            {k: v for k, v in r.items() if k != "Id"} for r in json.loads(response.content)
        ]
        return httpx.Response(response.status_code, json=registers)


async def test_a_register_without_an_id_is_written_under_its_derived_id(back: Back) -> None:
    """Issue 13, point 2: ``KeyError: 'Id'`` on every register. The id of
    ``PUT Registers/{id}`` is the event id followed by (week + 1) as two digits."""
    transport = WithoutRegisterIds(back.caws.app)
    back.transport = transport
    report = await back.run()
    assert report.outcome == "ok", report.events[:3]
    course = ended_courses(back.world)[0]
    _, tt, ev, day = course["API_ID"].split(":")
    week = week_of(back.world, int(tt), int(ev), day)
    derived = f"{ev}{week + 1:02d}"
    assert f"/Registers/{derived}" in transport.put_paths
    assert all(path.startswith("/Registers/") for path in transport.put_paths)
    assert derived in {rid for rid, _ in back.caws.puts}
    stored = await back.world.store.load("acme", "mark")
    mine = [s for key, s in stored.items() if key.startswith(course["API_ID"] + "/")]
    assert mine, "the session's marks are remembered"
    assert {s.remote_id for s in mine} == {derived}, "under the derived register id"


@pytest.mark.parametrize("timetable_id", [1, None])
async def test_every_celcat_call_names_its_timetable(back: Back, timetable_id: int | None) -> None:
    """Issue 13, point 1: on a CELCAT server with two timetables, the week look-up must
    send ``TimetableId`` whether or not ``return_attendance.timetable_id`` is set."""
    assert len(back.world.inst.timetables) == 2, "a server where the header is required"
    back.world.celcat.reset_counts()
    back.timetable_id = timetable_id
    await back.run()
    requests = back.world.celcat.requests
    assert requests, "the week look-up read CELCAT"
    assert all("timetableid" in r.headers for r in requests), [
        r.path for r in requests if "timetableid" not in r.headers
    ]
    named = {r.headers["timetableid"] for r in requests if r.path == "/api/events"}
    assert named == ({"1"} if timetable_id == 1 else {"1", "2"})


async def test_a_retry_after_from_caws_is_honoured(back: Back) -> None:
    """A 503 with ``Retry-After`` on a PUT: the client waits as told, then sends again."""
    back.caws.faults.append(Fault(method="PUT", path="^/Registers/", status=503, retry_after=7))
    back.caws.faults[0].times = 1
    report = await back.run()
    assert report.outcome == "ok", report.events[:3]
    assert back.caws.faults[0].fired == 1
    assert 7.0 in back.world.clock.slept
    assert back.caws.puts


async def test_an_unreadable_caws_answer_is_tried_again(back: Back) -> None:
    """A body that is not JSON (a proxy's page, a body cut short) is a passing failure,
    as on the Web API: the read is tried again, not the run given up."""
    back.caws.faults += [
        Fault(method="GET", path="^/Registers$", body="garbage", times=1),
        Fault(method="GET", path="^/MarkDefinitions$", body="truncated", times=1),
    ]
    report = await back.run()
    assert report.outcome == "ok", report.events[:3]
    assert [f.fired for f in back.caws.faults] == [1, 1]
    assert back.caws.puts


@pytest.mark.parametrize("seed", [None, 0, 1, 2, 3])
async def test_a_mark_is_matched_by_its_exact_abbreviation_first(
    back: Back, seed: int | None
) -> None:
    """Two definitions spelt "P" and "p": the one spelt as configured, whatever order
    the server lists them in (the contract promises none)."""
    back.caws.quirks = Quirks(seed)
    back.caws.marks[6] = MarkDefinition(6, "present (old scheme)", "p")
    back.world.school.sign(*first_signature(back.world))
    report = await back.run()
    assert report.outcome == "ok", report.events[:3]
    sent = {
        m["MarkId"] for _, body in back.caws.puts for m in body["StudentMarks"] if m["Modified"]
    }
    assert P in sent
    assert 6 not in sent


async def test_an_ambiguous_abbreviation_fails_the_run(back: Back) -> None:
    """Rather than let the order of the list pick one of two marks spelt alike."""
    back.caws.marks[6] = MarkDefinition(6, "Present, again", "P")
    with pytest.raises(RunFailed, match=r"'P' \(for present\) is ambiguous"):
        await back.run()
    assert back.caws.puts == []


async def test_a_mark_set_with_no_recorded_setter_is_kept(back: Back) -> None:
    """A set mark is the connector's only when it records the connector's CAWS user."""
    course = ended_courses(back.world)[0]
    _, tt, ev, day = course["API_ID"].split(":")
    week = week_of(back.world, int(tt), int(ev), day)
    student = int(
        back.world.school.students[course["STUDENTS"][0]["studentId"]]["API_ID"].split(":")[-1]
    )
    back.caws.set_mark(int(ev), week, student, "E", user="")
    report = await back.run()
    marks = {m["StudentId"]: m for m in back.caws.register(int(ev), week)["StudentMarks"]}
    assert marks[student]["MarkId"] == E
    assert any(e.reason == "mark_kept" and str(student) in (e.key or "") for e in report.events)


@pytest.mark.parametrize(
    ("recorded", "others"),
    [
        ({"Source": "CAWS", "UserId": "passerelle"}, None),
        ({"Source": "PASSERELLE", "UserId": None}, None),
        ({"Source": None, "UserId": "passerelle"}, None),
        ({"Source": "Web", "UserId": "teacher"}, "Web / teacher"),
        ({"Source": None, "UserId": None}, "an unrecorded user"),
        ({}, "an unrecorded user"),
    ],
)
def test_whose_mark_it_is(recorded: dict[str, Any], others: str | None) -> None:
    """``Source`` / ``UserId`` are assumed (docs/caws.md, "Who set a mark"): either one
    holding the connector's user makes the mark its own."""
    assert mapping.someone_elses_mark({"MarkId": 1, **recorded}, "passerelle") == others
    assert mapping.someone_elses_mark({"MarkId": None, **recorded}, "passerelle") is None


def first_signature(world: World) -> tuple[str, str]:
    course = ended_courses(world)[0]
    return course["ID"], course["STUDENTS"][0]["studentId"]


async def rekey_student(back: Back, celcat_student: str, new_key: str) -> None:
    """The state store's student ``celcat_student`` saved under ``new_key`` instead: the
    attendance source then names the student so in its marks."""
    synced = (await back.world.store.load("acme", "student"))[celcat_student]
    await back.world.store.forget("acme", "student", celcat_student)
    await back.world.store.save("acme", "student", new_key, synced)


@pytest.mark.parametrize("kind", ["staff", "other"])
async def test_a_mark_for_someone_not_a_celcat_student_sets_no_mark(back: Back, kind: str) -> None:
    """``celcat:staff:N`` (or another source's ``other:student:N``) is not CELCAT's
    student N: the register's student N keeps their mark, and the mark is reported."""
    course = ended_courses(back.world)[0]
    _, tt, ev, day = course["API_ID"].split(":")
    edusign_student = course["STUDENTS"][0]["studentId"]
    student_key = back.world.school.students[edusign_student]["API_ID"]
    number = int(student_key.split(":")[-1])
    foreign = f"celcat:staff:{number}" if kind == "staff" else f"other:student:{number}"
    await rekey_student(back, student_key, foreign)
    back.world.school.sign(course["ID"], edusign_student)
    report = await back.run()
    register = back.caws.register(int(ev), week_of(back.world, int(tt), int(ev), day))
    marks = {m["StudentId"]: m for m in register["StudentMarks"]}
    assert marks[number]["MarkId"] is None, "student N is not the one who signed"
    assert f"{course['API_ID']}/{foreign}" in {
        e.key for e in report.events if e.reason == "student_not_on_register"
    }


async def test_marks_on_a_session_the_plugin_did_not_name_are_left_alone(back: Back) -> None:
    """A session key CELCAT's source could not have built ("³" is a digit to
    ``str.isdigit``, not to ``int``) is not CELCAT's: its marks are not sent, and the run
    goes on with the others."""
    course = ended_courses(back.world)[0]
    sessions = await back.world.store.load("acme", "session")
    odd = course["API_ID"].replace("celcat:1:", "celcat:³:", 1)
    await back.world.store.forget("acme", "session", course["API_ID"])
    await back.world.store.save("acme", "session", odd, sessions[course["API_ID"]])
    report = await back.run()
    assert report.outcome == "ok", report.events[:3]
    assert back.caws.puts, "the other sessions' marks are sent"
    _, _, ev, _ = course["API_ID"].split(":")
    assert all(body["EventId"] != int(ev) for _, body in back.caws.puts)
