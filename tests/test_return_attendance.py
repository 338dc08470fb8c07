"""Edusign sandbox -> return-attendance pipeline -> CAWS sandbox: every rule of
"The return-attendance pipeline" in sync-rules.md."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.celcat.caws_sandbox import CawsSandbox
from adapters.celcat.plugin import CelcatOptions
from adapters.celcat.return_attendance import ReturnAttendanceOptions, caws_sink
from core.config import load_config
from core.context import Window
from core.engine import run_pipeline
from core.errors import ConfigError
from core.plugins import load_registry
from core.protocols import Pipeline
from core.report import RunReport
from core.runner import plan_for
from core.worker import pipelines_of
from sinks.edusign.plugin import EdusignOptions, edusign_attendance
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

    async def run(self, *, now: datetime = LATER, dry_run: bool = False) -> RunReport:
        ctx = context(
            self.world.store, now=now, dry_run=dry_run, window=Window.ending_on(now, PARIS, 7)
        )
        options = caws_options(timetable_id=1)
        edusign = EdusignOptions.model_validate({"url": "http://edusign", "api_key": KEY})
        celcat = CelcatOptions.model_validate({"url": "http://celcat", "api_code": "c"})
        clock = self.world.clock
        async with (
            edusign_attendance(
                edusign,
                tenant="acme",
                meter=ctx.report.call,
                sleep=clock.sleep,
                clock=clock,
                transport=httpx.ASGITransport(self.world.edusign.app),
            ) as marks,
            caws_sink(
                options,
                celcat,
                tenant="acme",
                meter=ctx.report.call,
                sleep=clock.sleep,
                clock=lambda: clock.now,
                caws_transport=self.transport or httpx.ASGITransport(self.caws.app),
                celcat_transport=httpx.ASGITransport(self.world.celcat.app),
            ) as sink,
        ):
            await run_pipeline(Pipeline(marks, sink, concurrency=1), ctx)
        return ctx.report.finish(now)


async def week_of(world: World, timetable: int, event: int, day: str) -> int:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(world.celcat.app), base_url="http://celcat"
    ) as http:
        rows = (
            await http.get(
                "/api/events",
                params={"date": day},
                headers={"ApiCode": "c", "TimetableId": str(timetable)},
            )
        ).json()
    return int(next(r["week"] for r in rows if r["id"] == event))


@pytest.fixture
async def back(world: World) -> Back:
    await world.sync()
    caws = CawsSandbox()
    # A register for every sheet that has ended by LATER, with its students.
    created: set[tuple[int, int]] = set()
    for course in ended_courses(world):
        _, tt, ev, day = course["API_ID"].split(":")
        week = await week_of(world, int(tt), int(ev), day)
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
    register = back.caws.register(int(ev), await week_of(world, int(tt), int(ev), day))
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
    week = await week_of(back.world, int(tt), int(ev), day)
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
    caws = CawsSandbox(token_lifetime=120.0, clock=lambda: now[0])
    options = caws_options()
    celcat = CelcatOptions.model_validate({"url": "http://celcat"})
    async with caws_sink(
        options,
        celcat,
        tenant="acme",
        meter=lambda _: None,
        clock=lambda: now[0],
        caws_transport=httpx.ASGITransport(caws.app),
    ) as sink:
        assert await sink.check() == ["5 mark definitions"]
        now[0] = 70.0  # 50 s left: inside the minute before expiry
        assert await sink.check() == ["5 mark definitions"]
    assert caws.calls["POST /token"] == 2
    assert caws.calls["GET /markdefinitions"] == 2, "no call was refused on the way"
