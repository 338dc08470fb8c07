"""Edusign's attendance of the sheets this connector wrote, as ``Mark`` records.

The return-attendance pipeline's source. It reads the sheets the state store knows (the
connector's own, and no other) whose day is in the run's window and that have ended, and
says, for each student on them, what Edusign holds: late (``delay > 0``, with minutes),
present (signed), excused (a justified absence), or absent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

from core import Mark, Presence, Reason, RunContext, TransientError
from sinks.edusign import mapping
from sinks.edusign.client import EdusignClient, EdusignError, NotFound


class EdusignAttendance:
    def __init__(self, client: EdusignClient) -> None:
        self._client = client

    async def check(self) -> list[str]:
        school = await self._client.call("GET", mapping.SCHOOL)
        name = school.get(mapping.SCHOOL_NAME) if isinstance(school, dict) else None
        return [f"school: {name or '?'}"]

    async def read(self, ctx: RunContext) -> AsyncIterator[Mark]:
        students = {s.remote_id: key for key, s in (await ctx.state.load("student")).items()}
        for key, synced in sorted((await ctx.state.load("session")).items()):
            day = synced.data.get("date")
            if not isinstance(day, str) or date.fromisoformat(day) not in ctx.window:
                continue
            try:
                course = await self._client.call("GET", mapping.path("course", synced.remote_id))
            except NotFound:
                continue  # deleted in Edusign: no attendance to send
            except (EdusignError, TransientError) as exc:
                ctx.report.fail("session", Reason.SERVER_ERROR, key=key, detail=str(exc))
                continue
            if not _ended(course, ctx.now):
                continue
            for entry in mapping.attendance_entries(course):
                student = students.get(str(entry.get("studentId")))
                if student is not None:
                    presence, late = presence_of(entry)
                    yield Mark(session=key, student=student, presence=presence, minutes_late=late)


def presence_of(entry: dict[str, Any]) -> tuple[Presence, int]:
    """What one attendance entry says [seen: Edusign's reading of its own entries]."""
    delay = entry.get("delay")
    if isinstance(delay, int) and not isinstance(delay, bool) and delay > 0:
        return Presence.LATE, delay
    if entry.get("signature") or entry.get("state"):
        return Presence.PRESENT, 0
    if entry.get("absenceId"):
        return Presence.EXCUSED, 0
    return Presence.ABSENT, 0


def _ended(course: dict[str, Any], now: datetime) -> bool:
    end = course.get("END")
    try:
        return isinstance(end, str) and datetime.fromisoformat(end.replace("Z", "+00:00")) <= now
    except ValueError:
        return False
