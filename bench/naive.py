"""A naive sync, the yardstick: what a quick in-house script does.

One call at a time; each person looked up by email before being created; every sheet
looked up and rewritten on every run; no state between runs, no pacing, no retries.
It is given every benefit of the doubt: it reads CELCAT through passerelle's own source
and rules (so both write exactly the same objects), remembers within a run whom it has
already looked up, and never deletes anything (it could not know what vanished).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx

from core import Group, Person, PersonKind, Record, RunContext, Session, StreamEnd
from sinks.edusign import mapping


class NaiveSink:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._ids: dict[str, str] = {}  # only within one run

    async def check(self) -> list[str]:
        return []

    async def finish(self, ctx: RunContext, end: StreamEnd) -> None:
        return None

    async def write(self, record: Record, ctx: RunContext) -> None:
        if not isinstance(record, Session):
            return
        professors = [await self._person(p) for p in record.instructors]
        students = [await self._person(p) for p in record.students]
        groups = [await self._group(g) for g in record.groups]
        fields = mapping.course_fields(record, professors, groups)
        found = await self._result("GET", mapping.path("course", "get-id", record.external_id))
        if found is None:
            await self._result(
                "POST", mapping.path("course"), mapping.course_create_body(fields, students)
            )
        else:
            body = mapping.course_update_body(str(found[mapping.GET_ID_KEY]), fields, 0)
            await self._result("PATCH", mapping.path("course"), body)

    async def _person(self, person: Person) -> str:
        if person.external_id in self._ids:
            return self._ids[person.external_id]
        kind: mapping.Kind = "student" if person.kind is PersonKind.STUDENT else "professor"
        found = await self._result("GET", mapping.path(kind, "by-email", quote(person.email)))
        if found is None:
            fields = (
                mapping.student_fields(person)
                if kind == "student"
                else mapping.professor_fields(person)
            )
            body = mapping.person_body(kind, fields, send_credentials=False)
            found = await self._result("POST", mapping.path(kind), body)
        self._ids[person.external_id] = str(found[mapping.RESULT_ID])
        return self._ids[person.external_id]

    async def _group(self, group: Group) -> str:
        if group.external_id in self._ids:
            return self._ids[group.external_id]
        found = await self._result("GET", mapping.path("group", "get-id", group.external_id))
        if found is None:
            members = [self._ids[m] for m in group.members if m in self._ids]
            body = {"group": mapping.group_fields(group, members)}
            created = await self._result("POST", mapping.path("group"), body)
            remote_id = str(created[mapping.RESULT_ID])
        else:
            remote_id = str(found[mapping.GET_ID_KEY])
        self._ids[group.external_id] = remote_id
        return remote_id

    async def _result(self, method: str, path: str, body: Any = None) -> Any:
        """The envelope's result; None for a business error (most often "not found")."""
        response = await self._http.request(method, path, json=body)
        response.raise_for_status()
        envelope = response.json()
        return envelope[mapping.RESULT] if envelope[mapping.STATUS] == mapping.SUCCESS else None


@asynccontextmanager
async def naive_sink(url: str, api_key: str) -> AsyncIterator[NaiveSink]:
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0) as http:
        yield NaiveSink(http)
