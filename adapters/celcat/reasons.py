"""The reason codes the CELCAT plugin emits, beside the core's (``core.Reason``)."""

from __future__ import annotations

import enum

from core import ReasonCode


class CelcatReason(enum.StrEnum):
    UNKNOWN_TIMETABLE = "unknown_timetable"
    MARK_KEPT = "mark_kept"
    REGISTER_MISSING = "register_missing"
    STUDENT_NOT_ON_REGISTER = "student_not_on_register"


REASONS: tuple[ReasonCode, ...] = (
    ReasonCode(
        CelcatReason.UNKNOWN_TIMETABLE,
        "failed",
        "`timetable_ids` names a timetable CELCAT does not list",
        "update `timetable_ids` (yearly timetables change ids)",
    ),
    ReasonCode(
        CelcatReason.MARK_KEPT,
        "skipped",
        "a mark set in CELCAT by someone else is kept",
        "nothing; change it in CELCAT if it is wrong",
    ),
    ReasonCode(
        CelcatReason.REGISTER_MISSING,
        "failed",
        "CAWS has no register for the session (event and week)",
        "create it in CELCAT; the next run sends the marks",
    ),
    ReasonCode(
        CelcatReason.STUDENT_NOT_ON_REGISTER,
        "skipped",
        "the student is on the attendance sheet but not on CELCAT's register",
        "check the enrolment in CELCAT",
    ),
)
