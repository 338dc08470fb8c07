"""The ERP-neutral rules of sync-rules.md, run as the timetable pipeline runs them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest

from core.errors import RunFailed
from core.models import Person, Record, Session
from core.protocols import Pipeline
from core.report import Event
from core.rules import CategoryFilterOptions, fold
from core.state import StateStore
from core.stream import run_pipeline
from core.timetable import session_rules
from tests.doubles import MemorySink, MemorySource, context, instructor, session, student

pytestmark = pytest.mark.anyio

T1, T2 = instructor(1), instructor(2)
S1, S2, S3 = student(11), student(12), student(13)


async def run_rules(
    store: StateStore, records: Sequence[Record], options: object = None
) -> tuple[list[Session], list[Event]]:
    sink = MemorySink()
    ctx = context(store)
    await run_pipeline(Pipeline(MemorySource(list(records)), sink, session_rules(options)), ctx)
    written = [r for r in sink.written if isinstance(r, Session)]
    assert len(written) == len(sink.written), "people of the directory never reach the sink"
    return written, ctx.report.report.events


def reasons(events: list[Event], key: str) -> list[str]:
    return [e.reason for e in events if e.key == key]


async def test_a_valid_session_passes_untouched(memory_store: StateStore) -> None:
    good = session(1, instructors=[T1], students=[S1, S2])
    written, events = await run_rules(memory_store, [T1, S1, S2, good])
    assert written == [good]
    assert events == []


async def test_outside_the_window_is_never_written(memory_store: StateStore) -> None:
    today = session(1, date(2025, 10, 20), instructors=[T1], students=[S1])
    last = session(2, date(2025, 11, 3), instructors=[T1], students=[S1])
    beyond = session(3, date(2025, 11, 4), instructors=[T1], students=[S1])
    written, events = await run_rules(memory_store, [today, last, beyond])
    assert written == [last]
    assert reasons(events, today.external_id) == ["outside_window"]
    assert reasons(events, beyond.external_id) == ["outside_window"]


@pytest.mark.parametrize(
    ("included", "excluded", "kept"),
    [
        ([], [], {"Lecture", "Exam", "Réunion"}),
        ([], ["exam", " REUNION "], {"Lecture"}),
        (["lecture"], ["Lecture"], {"Lecture"}),  # included takes precedence
        (["Réunion"], [], {"Réunion"}),
    ],
)
async def test_category_filters_fold_case_accents_and_spaces(
    memory_store: StateStore, included: list[str], excluded: list[str], kept: set[str]
) -> None:
    options = CategoryFilterOptions(
        event_category_names_included=included, event_category_names_excluded=excluded
    )
    records = [
        session(i, category=c, instructors=[T1], students=[S1])
        for i, c in enumerate(["Lecture", "Exam", "Réunion"])
    ]
    written, events = await run_rules(memory_store, records, options)
    assert {s.category for s in written} == kept
    assert {e.reason for e in events} <= {"category_filtered"}
    assert len(events) == 3 - len(kept)


def test_fold() -> None:
    assert fold("  Réunion Pédagogique ") == fold("REUNION PEDAGOGIQUE") == "reunion pedagogique"


async def test_the_first_reason_in_rank_is_the_one_reported(memory_store: StateStore) -> None:
    nameless = instructor(3, first="")
    options = CategoryFilterOptions(event_category_names_excluded=["Exam"])
    cases = {
        "category_filtered": session(1, category="Exam", suspended=True),
        "event_suspended": session(2, suspended=True),
        "no_instructor": session(3, students=[]),
        "invalid_instructor": session(4, instructors=[nameless], students=[]),
        "no_valid_student": session(5, instructors=[T1], students=[]),
    }
    written, events = await run_rules(memory_store, [T1, nameless, *cases.values()], options)
    assert written == []
    for reason, dropped in cases.items():
        assert reasons(events, dropped.external_id) == [reason]


async def test_duplicate_instructor_email_keeps_the_lowest_id(memory_store: StateStore) -> None:
    low = instructor(7, email="Same@School.example")
    high = instructor(30, email="same@school.example")
    not_teaching = instructor(40, email="SAME@school.example")
    by_low = session(1, instructors=[low], students=[S1])
    by_high = session(2, instructors=[T1, high], students=[S1])
    written, events = await run_rules(
        memory_store, [high, not_teaching, low, T1, S1, by_low, by_high]
    )
    assert written == [by_low]
    assert reasons(events, by_high.external_id) == ["duplicate_instructor_email"]
    blocked = {e.key for e in events if e.kind == "instructor"}
    assert blocked == {high.external_id, not_teaching.external_id}, "once per blocked staff"


async def test_invalid_and_duplicate_students_are_left_off(memory_store: StateStore) -> None:
    bad_email = student(20, email="not-an-email")
    twin = student(21, email=S1.email.upper())
    first = session(1, instructors=[T1], students=[S1, bad_email, twin])
    second = session(2, instructors=[T1], students=[bad_email, S2])
    only_bad = session(3, instructors=[T1], students=[bad_email, twin])
    written, events = await run_rules(
        memory_store, [T1, S1, S2, bad_email, twin, first, second, only_bad]
    )
    assert [s.students for s in written] == [(S1,), (S2,)]
    assert reasons(events, bad_email.external_id) == ["invalid_student"], "once per run"
    assert reasons(events, twin.external_id) == ["duplicate_student_email"]
    assert reasons(events, only_bad.external_id) == ["no_valid_student"]


@pytest.mark.parametrize(
    ("late", "rule"),
    [
        (instructor(5, email=T1.email), "duplicate_instructor_email"),
        (student(15, email=S1.email), "duplicate_student_email"),
    ],
    ids=["instructor", "student"],
)
async def test_a_person_after_the_first_session_fails_the_run(
    memory_store: StateStore, late: Person, rule: str
) -> None:
    """The email owners were settled at the first session: a person yielded later would
    escape the duplicate check. The run fails, naming the person and the rule."""
    first = session(1, instructors=[T1], students=[S1])
    second = session(2, instructors=[T1], students=[S1])
    sink = MemorySink()
    records: list[Record] = [T1, S1, first, late, second]
    with pytest.raises(RunFailed) as caught:
        await run_pipeline(
            Pipeline(MemorySource(records), sink, session_rules(None)), context(memory_store)
        )
    message = str(caught.value)
    assert f"{late.kind.value} {late.source_id} came after the first session" in message
    assert rule in message
    assert sink.finished == [], "a failed run deletes nothing"


async def test_people_may_follow_sessions_no_rule_looked_at(memory_store: StateStore) -> None:
    """Only the first session that reaches the duplicate rules settles the owners."""
    elsewhere = session(1, date(2025, 10, 20), instructors=[T1], students=[S1])
    good = session(2, instructors=[T1], students=[S1])
    written, events = await run_rules(memory_store, [elsewhere, T1, S1, good])
    assert written == [good]
    assert reasons(events, elsewhere.external_id) == ["outside_window"]


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("a.b@school.fr", True),
        ("a@b", False),
        ("", False),
        ("élève@école.fr", False),
        ("x@@y.fr", False),
        ("x y@z.fr", False),
    ],
)
async def test_instructor_email_must_be_valid(
    memory_store: StateStore, email: str, valid: bool
) -> None:
    teacher = instructor(5, email=email)
    written, events = await run_rules(
        memory_store, [teacher, session(1, instructors=[teacher], students=[S3])]
    )
    assert bool(written) is valid
    if not valid:
        assert [e.reason for e in events] == ["invalid_instructor"]
