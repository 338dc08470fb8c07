"""The reason codes the Edusign plugin emits, beside the core's (``core.Reason``)."""

from __future__ import annotations

import enum

from core import ReasonCode


class EdusignReason(enum.StrEnum):
    SHEET_LOCKED = "sheet_locked"
    PERSON_NOT_MANAGED = "person_not_managed"
    DUPLICATE_IN_EDUSIGN = "duplicate_in_edusign"


REASONS: tuple[ReasonCode, ...] = (
    ReasonCode(
        EdusignReason.SHEET_LOCKED,
        "skipped",
        "the sheet is locked, started or signed, so the connector leaves it as it is",
        "nothing to do; change it by hand in Edusign if needed",
    ),
    ReasonCode(
        EdusignReason.PERSON_NOT_MANAGED,
        "skipped",
        "the person was made by hand in Edusign with a CELCAT person's email, or written by "
        "another tenant of the same Edusign school (the detail quotes its `API_ID`): they "
        "are used as is",
        "to let the connector manage them, delete them in Edusign (history permitting); "
        "nothing to do for another tenant's",
    ),
    ReasonCode(
        EdusignReason.DUPLICATE_IN_EDUSIGN,
        "skipped",
        "two or more of the tenant's records in Edusign hold one `API_ID` (an older "
        "version, or made by hand); `ids` names the one kept and the others. An extra sheet "
        "that is unsigned, unlocked and not started is deleted; a signed one, and every "
        "person or group, is left",
        "remove the extra one by hand if it is not wanted",
    ),
)
