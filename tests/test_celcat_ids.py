"""The CELCAT plugin's ids (adapters/celcat/ids.py): ``parse`` is the exact inverse of
``key``, and refuses (None) whatever ``key`` could not have built."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.celcat.ids import GroupId, ListedId, RoomId, SessionId, StaffId, StudentId

LISTED: tuple[type[ListedId], ...] = (StudentId, StaffId, GroupId, RoomId)
ids = st.integers(min_value=-(10**12), max_value=10**12)
sessions = st.builds(SessionId, ids, ids, st.dates())


def test_the_formats_support_reads_and_the_sheets_carry() -> None:
    """Written in the state store and in Edusign's API_ID: these never change."""
    assert SessionId(3, 5120, date(2025, 10, 21)).key() == "celcat:3:5120:2025-10-21"
    assert StudentId(7).key() == "celcat:student:7"
    assert StaffId(7).key() == "celcat:staff:7"
    assert GroupId(12).key() == "celcat:group:12"
    assert RoomId(4).key() == "celcat:room:4"


@given(sessions)
def test_a_session_id_round_trips(session: SessionId) -> None:
    assert SessionId.parse(session.key()) == session


@pytest.mark.parametrize("listed", LISTED, ids=lambda t: t.KIND)
@given(number=ids)
def test_a_listed_id_round_trips(listed: type[ListedId], number: int) -> None:
    assert listed.parse(listed(number).key()) == listed(number)


@given(st.text(alphabet=st.sampled_from("celat:student-0123456789٣²"), max_size=30) | st.text())
def test_parse_accepts_only_what_key_builds(text: str) -> None:
    """A parsed key is written back to the same text: "07", "٣" or "20251021" are not
    keys the plugin built, so they name nothing."""
    for parse in (SessionId.parse, *(t.parse for t in LISTED)):
        found = parse(text)
        assert found is None or found.key() == text


@pytest.mark.parametrize(
    "key",
    [
        "edusign:3:5120:2025-10-21",  # another source's
        "acme@celcat:3:5120:2025-10-21",  # an Edusign API_ID, scoped: not a state key
        "celcat:3:5120",
        "celcat:3:5120:2025-10-21:x",
        "celcat:x:5120:2025-10-21",
        "celcat:3:05120:2025-10-21",
        "celcat:3:5120:2025-02-30",
        "celcat:3:5120:20251021",
        "celcat:3:5120:2025-10-21T08:00",
        "celcat:³:5120:2025-10-21",
        "celcat:student:7",
        "",
    ],
)
def test_a_key_that_is_not_a_celcat_session_is_refused(key: str) -> None:
    assert SessionId.parse(key) is None


@pytest.mark.parametrize(
    "key",
    [
        "celcat:staff:7",  # a member of staff is not student 7
        "celcat:group:7",
        "other:student:7",  # another source's student 7
        "celcat:student:7:x",
        "celcat:student:",
        "celcat:student:+7",
        "celcat:student: 7",
        "celcat:3:7:2025-10-21",
        "7",
    ],
)
def test_a_key_that_is_not_a_celcat_student_is_refused(key: str) -> None:
    assert StudentId.parse(key) is None


def test_ids_of_different_kinds_are_different_ids() -> None:
    """Student 7 and staff member 7 are two people: as dict keys too."""
    same_number: set[ListedId] = {StudentId(7), StaffId(7), GroupId(7), RoomId(7)}
    assert len(same_number) == len(LISTED)
