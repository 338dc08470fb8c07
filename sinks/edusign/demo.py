"""The Edusign sandbox in ``passerelle demo``: one school, and students who sign."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from core import DemoSettings
from core.sandbox import serve_app
from sinks.edusign.sandbox import EdusignSandbox, School

API_KEY = "demo-edusign-key"


class EdusignDemo:
    def __init__(self, school: School, url: str) -> None:
        self._school = school
        # A sandbox has no rate limit to respect: the demo must finish in seconds.
        self.options: dict[str, Any] = {
            "url": url,
            "api_key": API_KEY,
            "requests_per_minute": 60000,
        }

    async def change(self) -> list[str]:
        return []

    async def attend(self, now: datetime) -> list[str]:
        """Most students sign; every fifth is late, every seventh excused, some absent."""
        sheets = signed = late = excused = 0
        for course in self._school.courses.values():
            end = datetime.fromisoformat(str(course["END"]).replace("Z", "+00:00"))
            if end > now:
                continue
            sheets += 1
            for n, entry in enumerate(course["STUDENTS"]):
                student = entry["studentId"]
                if n % 5 == 4:
                    self._school.sign(course["ID"], student, delay=5 + n)
                    late += 1
                elif n % 7 == 6:
                    self._school.sign(course["ID"], student, signed=False, absence_id="justif")
                    excused += 1
                elif n % 9 != 8:
                    self._school.sign(course["ID"], student)
                    signed += 1
        return [
            f"{sheets} sheet(s) ended: {signed} signatures, {late} late, "
            f"{excused} justified absences, the others absent"
        ]

    def received(self) -> list[str]:
        ours = [c for c in self._school.courses.values() if c.get("API_TYPE") == "passerelle"]
        return [f"the school holds {len(ours)} sheet(s) and {len(self._school.students)} students"]


@asynccontextmanager
async def edusign_demo(settings: DemoSettings) -> AsyncIterator[EdusignDemo]:
    sandbox = EdusignSandbox(seed=settings.seed)
    sandbox.rate_limit_per_minute = 1_000_000  # nor does the demo's server slow it down
    school = sandbox.add_school(API_KEY, name="Demo school")
    async with serve_app(sandbox.app) as url:
        yield EdusignDemo(school, url)
