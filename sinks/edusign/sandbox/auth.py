"""The API key: ``Authorization: Bearer <key>``, one key per school.

A missing or unknown key is answered 401 with the plain text body ``Unauthorized``, as
Edusign does, before any route: nothing of a school is reachable without its key, and
nothing of one school through another's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from sinks.edusign.sandbox.state import School

_SCHOOL = "edusign.school"  # the scope entry where the key check leaves the school


def api_key(scope: Scope) -> str | None:
    """The bearer key of a request, None without one."""
    for name, value in scope["headers"]:
        if name.lower() == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            key = key.strip()
            return key if scheme.lower() == "bearer" and key else None
    return None


def school_of(request: Request) -> School:
    """The school whose key the request carried (set by ``KeyCheck``)."""
    school: School = request.scope[_SCHOOL]
    return school


class KeyCheck:
    """ASGI middleware: 401 unless the key is a school's; else the school goes along."""

    def __init__(self, app: ASGIApp, schools: Mapping[str, School]) -> None:
        self.app, self.schools = app, schools

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            school = self.schools.get(api_key(scope) or "")
            if school is None:
                await PlainTextResponse("Unauthorized", 401)(scope, receive, send)
                return
            scope = {**scope, _SCHOOL: school}
        await self.app(scope, receive, send)
