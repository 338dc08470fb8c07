"""Reason codes: stable strings, part of the public interface.

Integrators script against them and customers read them in reports, so a code is never
renamed. Each code is owned by the part that emits it: these are the core's (its rules,
its guard, and what any source or sink may report); a plugin registers its own with
``passerelle_register_reasons``. Every registered code carries what it means and what the
customer does about it: the README's table and ``passerelle explain`` read them from here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

Status = Literal["skipped", "failed"]


@dataclass(frozen=True, slots=True)
class ReasonCode:
    """One reason code as people read it.

    ``status``: ``skipped`` when a rule said no (the normal life of a timetable: the run
    stays ``ok``), ``failed`` when something broke (the run ends ``partial``).
    ``meaning`` says what happened; ``action`` what the customer does about it.
    """

    code: str
    status: Status
    meaning: str
    action: str


class Reason(enum.StrEnum):
    """The core's codes, for the core's own use and for any source or sink."""

    # A rule said no (``skipped``).
    OUTSIDE_WINDOW = "outside_window"
    CATEGORY_FILTERED = "category_filtered"
    EVENT_SUSPENDED = "event_suspended"
    NO_INSTRUCTOR = "no_instructor"
    INVALID_INSTRUCTOR = "invalid_instructor"
    DUPLICATE_INSTRUCTOR_EMAIL = "duplicate_instructor_email"
    INVALID_STUDENT = "invalid_student"
    DUPLICATE_STUDENT_EMAIL = "duplicate_student_email"
    NO_VALID_STUDENT = "no_valid_student"
    MALFORMED_RECORD = "malformed_record"
    DELETIONS_POSTPONED = "deletions_postponed"
    # Something broke (``failed``): the run ends ``partial``.
    WRITE_REFUSED = "write_refused"
    SERVER_ERROR = "server_error"
    UNEXPECTED_ERROR = "unexpected_error"
    DELETIONS_GUARDED = "deletions_guarded"


CORE_REASONS: tuple[ReasonCode, ...] = (
    ReasonCode(
        Reason.OUTSIDE_WINDOW,
        "skipped",
        "the session is today or earlier, or after the window",
        "nothing: a session today or earlier is never synced; a later one comes when its "
        "date enters the window",
    ),
    ReasonCode(
        Reason.CATEGORY_FILTERED,
        "skipped",
        "the session's category is excluded, or not included, by the tenant's filters",
        "change the tenant's category filters if the session should come down",
    ),
    ReasonCode(
        Reason.EVENT_SUSPENDED,
        "skipped",
        "the event is suspended in the ERP",
        "nothing: un-suspend it in the ERP if it should take place",
    ),
    ReasonCode(
        Reason.NO_INSTRUCTOR,
        "skipped",
        "the session has no instructor",
        "give the session an instructor in the ERP",
    ),
    ReasonCode(
        Reason.INVALID_INSTRUCTOR,
        "skipped",
        "an instructor has no usable first name, last name or email",
        "fix the instructor's first name, last name or email in the ERP (the detail says which)",
    ),
    ReasonCode(
        Reason.DUPLICATE_INSTRUCTOR_EMAIL,
        "skipped",
        "two staff records share an email: the lowest id keeps it",
        "fix the other record in the ERP",
    ),
    ReasonCode(
        Reason.INVALID_STUDENT,
        "skipped",
        "a student has no usable name or email",
        "fix the student's name or email in the ERP; the sheet comes down without them meanwhile",
    ),
    ReasonCode(
        Reason.DUPLICATE_STUDENT_EMAIL,
        "skipped",
        "two student records share an email: the lowest id keeps it",
        "fix the higher-id record in the ERP",
    ),
    ReasonCode(
        Reason.NO_VALID_STUDENT,
        "skipped",
        "the session has no valid student",
        "add or fix its students in the ERP",
    ),
    ReasonCode(
        Reason.MALFORMED_RECORD,
        "skipped",
        "a record could not be read (the detail says which field); what it held is kept",
        "fix it in the ERP",
    ),
    ReasonCode(
        Reason.DELETIONS_POSTPONED,
        "skipped",
        "a part of the source could not be read, so nothing was deleted this run",
        "nothing: the next complete run catches up",
    ),
    ReasonCode(
        Reason.WRITE_REFUSED,
        "failed",
        "the target refused a write (the detail says why)",
        "fix the data the detail names; the next run retries",
    ),
    ReasonCode(
        Reason.SERVER_ERROR,
        "failed",
        "a call kept failing after the retries",
        "nothing: the next run tries again (its objects are kept meanwhile)",
    ),
    ReasonCode(
        Reason.UNEXPECTED_ERROR,
        "failed",
        "a bug in passerelle or a plugin cost this one object",
        "send the report and the log to the platform team",
    ),
    ReasonCode(
        Reason.DELETIONS_GUARDED,
        "failed",
        "the run would have deleted more than the deletion guard allows "
        "(`max_deletion_share` of the objects in the window, above `deletion_guard_floor`; "
        "the detail and `ids` give the counts), so it deleted none",
        "check the source: if those objects really are gone (a timetable closed, a term "
        "moved), confirm with `passerelle sync TENANT --allow-mass-deletion`; if not, fix "
        "the source or the tenant's configuration",
    ),
)
