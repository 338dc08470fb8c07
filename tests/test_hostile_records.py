"""The hostile CELCAT records of ``tests/corpus/hostile_celcat.json``: each is reported
with its reason code, none crashes the run, none reaches the sink invalid."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.celcat.plugin import CelcatOptions, open_source
from core.models import Session
from core.people import person_problem
from core.protocols import Pipeline, Seams, Setup
from core.state import StateStore
from core.stream import run_pipeline
from core.timetable import session_rules
from tests.doubles import PARIS, MemorySink, context
from tests.test_http import FakeSleep

pytestmark = pytest.mark.anyio

CORPUS = json.loads((Path(__file__).parent / "corpus" / "hostile_celcat.json").read_text())
DAY = "2025-10-22"
STAFF = {"id": 1, "name": "CURIE, Marie", "email": "marie.curie@school.example"}
STUDENTS = [
    {"id": 1001, "name": "TURING, Alan", "email": "alan@school.example"},
    {"id": 1002, "name": "HOPPER, Grace", "email": "grace@school.example"},
]
EVENT = {
    "id": 7001,
    "name": "Physique",
    "eventCategoryId": 1,
    "start": f"{DAY}T09:00:00",
    "end": f"{DAY}T11:00:00",
    "suspended": False,
}


def server(case: dict[str, Any]) -> httpx.MockTransport:
    """A CELCAT holding one valid event, and the case's record."""
    event = case.get("event")
    if case.get("huge") and isinstance(event, dict):
        event = {**event, case["huge"]: "x" * 100_000}
    staff, students = [STAFF], list(STUDENTS)
    staff += [case["staff"]] if "staff" in case and isinstance(case["staff"], dict) else []
    students += [case["student"]] if "student" in case else []

    def assigned(event_id: str, kind: str) -> list[dict[str, Any]]:
        if kind == "staff":
            ids = [1]
            if isinstance(case.get("staff"), list):
                ids = case["staff"]
            elif isinstance(case.get("staff"), dict) and event_id == "7001":
                ids = [1, case["staff"]["id"]]
            return [{"eventId": int(event_id), "staffId": i} for i in ids]
        ids = [1001, 1002]
        if "student" in case and event_id == "7001" and "id" in case["student"]:
            ids.append(case["student"]["id"])
        return [{"eventId": int(event_id), "studentId": i} for i in ids]

    def handle(request: httpx.Request) -> httpx.Response:
        path, query = request.url.path, request.url.params
        answers: dict[str, Any] = {
            "/api/timetables": [{"id": 1, "name": "T"}],
            "/api/event-categories": [{"id": 1, "name": "Lecture"}],
            "/api/staff": staff,
            "/api/students": students,
            "/api/rooms": [],
            "/api/groups": [],
            "/api/student-membership": [],
        }
        if path in answers:
            return httpx.Response(200, json=answers[path] if query.get("page") == "0" else [])
        if path == "/api/events":
            rows = [EVENT, *([event] if event is not None else [])] if query["date"] == DAY else []
            return httpx.Response(200, json=rows if query.get("page") == "0" else [])
        kind = path.removeprefix("/api/").removesuffix("-assignments")
        if kind in ("staff", "student"):
            rows = assigned(query["eventId"], kind) if query.get("page") == "0" else []
            return httpx.Response(200, json=rows)
        return httpx.Response(404)

    return httpx.MockTransport(handle)


@pytest.mark.parametrize("case", CORPUS["cases"], ids=[c["name"] for c in CORPUS["cases"]])
async def test_each_hostile_record_is_reported_and_stopped(
    memory_store: StateStore, case: dict[str, Any]
) -> None:
    options = CelcatOptions.model_validate({"url": "http://celcat"})
    ctx = context(memory_store)
    sink = MemorySink()
    seams = Seams(transports={"celcat": server(case)}, sleep=FakeSleep())
    async with open_source(Setup("acme", PARIS, options, seams=seams)) as source:
        await run_pipeline(Pipeline(source, sink, session_rules(options)), ctx)
    reasons = Counter(e.reason for e in ctx.report.report.events)
    assert reasons[case["expect"]] >= 1, (case["name"], dict(reasons))
    assert not [e for e in ctx.report.report.events if e.status == "failed"]
    for session in (r for r in sink.written if isinstance(r, Session)):
        assert isinstance(session.name, str)
        assert len(session.name) < 500
        for person in (*session.instructors, *session.students):
            assert person_problem(person) is None, (case["name"], person)
