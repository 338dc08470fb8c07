"""What a report says an update changes: by meaning, not by how either side writes it."""

from __future__ import annotations

from sinks.edusign.changes import field_changes, student_changes


def test_an_instant_is_the_same_in_utc_and_with_its_local_offset() -> None:
    before = {"START": "2025-10-21T07:00:00.000Z", "NAME": "Maths"}
    after = {"START": "2025-10-21T09:00:00+02:00", "NAME": "Maths"}
    assert field_changes(before, after) == []


def test_a_changed_field_is_said_with_both_values() -> None:
    before = {"START": "2025-10-21T07:00:00.000Z", "CLASSROOM": "A101"}
    after = {"START": "2025-10-21T09:15:00+02:00", "CLASSROOM": "B2"}
    assert field_changes(before, after) == [
        "CLASSROOM: 'A101' -> 'B2'",
        "START: '2025-10-21T07:00:00.000Z' -> '2025-10-21T09:15:00+02:00'",
    ]


def test_only_what_the_update_sends_can_change() -> None:
    """Fields Edusign holds that the update does not send (attendance, flags, fields of a
    newer server version) are not changes; an emptied professor slot is."""
    before = {"STUDENTS": [{"studentId": "s1"}], "LOCKED": 0, "PROFESSOR_2": "p2", "extra": 1}
    after = {"PROFESSOR_2": None, "API_ID": "celcat:1:2:2025-10-21"}
    assert field_changes(before, after) == ["PROFESSOR_2: 'p2' -> (none)"]


def test_nothing_is_nothing_and_lists_have_no_order() -> None:
    assert (
        field_changes(
            {"CLASSROOM": None, "SCHOOL_GROUP": ["b", "a"]},
            {
                "CLASSROOM": "",
                "SCHOOL_GROUP": ["a", "b"],
            },
        )
        == []
    )


def test_students_added_and_removed_are_counted() -> None:
    assert student_changes({"a", "b", "c"}, ["b", "c", "d", "e"]) == ["students: +2 -1"]
    assert student_changes({"a"}, ["a"]) == []
