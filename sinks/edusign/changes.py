"""What an update changes, in words an integrator reads in a report or a dry run.

Each change is one line, ``FIELD: before -> after``, or ``students: +N -M`` for a sheet's
attendance list. Values are compared for what they mean, not how they are written:
Edusign answers date-times in UTC where the connector sends local times with an offset,
and lists in any order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

NOT_SHOWN = frozenset({"API_ID", "API_TYPE", "ID"})
"""Identity, not content: the same on both sides whenever an update is made."""

MAX_VALUE = 60


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """One line per field written (``after``, what an update sends) whose value differs
    from ``before``'s; what the update does not send, it does not change."""
    lines = []
    for name in sorted(after.keys() - NOT_SHOWN):
        old, new = before.get(name), after[name]
        if not _same(old, new):
            lines.append(f"{name}: {_show(old)} -> {_show(new)}")
    return lines


def student_changes(before: Iterable[str], after: Iterable[str]) -> list[str]:
    """``students: +N -M`` when the sheet's list of students changes."""
    old, new = set(before), set(after)
    added, removed = len(new - old), len(old - new)
    return [f"students: +{added} -{removed}"] if added or removed else []


def _same(old: Any, new: Any) -> bool:
    if not old and not new:  # None, "" and [] all say "nothing"
        return True
    if isinstance(old, str) and isinstance(new, str):
        moments = _instant(old), _instant(new)
        if None not in moments:
            return moments[0] == moments[1]
    if isinstance(old, list) and isinstance(new, list):
        return sorted(map(str, old)) == sorted(map(str, new))
    return bool(old == new)


def _instant(text: str) -> datetime | None:
    """An ISO 8601 date-time with an offset (``Z`` included), else None."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _show(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "(none)"
    if isinstance(value, list):
        return f"{len(value)} item(s)"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"
