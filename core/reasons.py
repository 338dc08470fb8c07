"""Reason codes: stable strings, part of the public interface.

Integrators script against them and customers read them in reports, so a code is never
renamed. Plugins may report codes of their own; these are the ones the core knows.
"""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    # A rule said no: the normal life of a timetable (``skipped``).
    OUTSIDE_WINDOW = "outside_window"
    CATEGORY_FILTERED = "category_filtered"
    EVENT_SUSPENDED = "event_suspended"
    NO_INSTRUCTOR = "no_instructor"
    INVALID_INSTRUCTOR = "invalid_instructor"
    DUPLICATE_INSTRUCTOR_EMAIL = "duplicate_instructor_email"
    INVALID_STUDENT = "invalid_student"
    DUPLICATE_STUDENT_EMAIL = "duplicate_student_email"
    NO_VALID_STUDENT = "no_valid_student"
    SHEET_LOCKED = "sheet_locked"
    PERSON_NOT_MANAGED = "person_not_managed"
    MARK_KEPT = "mark_kept"
    MALFORMED_RECORD = "malformed_record"
    DELETIONS_POSTPONED = "deletions_postponed"
    # Something broke (``failed``): the run ends ``partial``.
    WRITE_REFUSED = "write_refused"
    SERVER_ERROR = "server_error"
    UNEXPECTED_ERROR = "unexpected_error"
    DELETIONS_GUARDED = "deletions_guarded"
