"""The CAWS sandbox: a Starlette app serving registers and marks as the contract says.

Where the contract (celcat-webapi.md, "CAWS") is silent, the choices are:

- Paths match case-insensitively (calls are counted under the lower-case template, e.g.
  ``GET /registers/{id}``); form field and JSON field names are matched exactly, so that a
  client's typo fails here rather than on a real server.
- A token is valid for ``token_lifetime`` seconds of ``clock()`` after its grant, until
  ``expire_tokens()``; a refused one answers 401 with ``WWW-Authenticate: Bearer``.
- The token check runs in each endpoint, so an unknown route is a 404 and a wrong verb a
  405 even without a token.
- ``PUT /Registers/{id}`` validates every modified mark before storing any: a refused PUT
  changes nothing. ``MarkId`` must name a mark definition (null is refused: the connector
  never clears a mark).
- ``POST /Registers`` creates a register that does not exist yet (201), from its
  ``EventId``, ``Week``, ``StaffId`` and the ``StudentId`` of each ``StudentMarks`` row.
- Requests pass, in order: recording (every request is counted, even a refused one),
  fault injection, then the routes.
"""

from __future__ import annotations

import copy
import hmac
import json
import secrets
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core.sandbox.faults import Fault, FaultInjector
from core.sandbox.recording import Recorded, Recording, RequestLog

Json = dict[str, Any]


class MarkDefinition(NamedTuple):
    """One of the institution's marks, its fields named as CAWS serves them."""

    MarkId: int
    Name: str
    Abbreviation: str


DEFAULT_MARKS = (
    MarkDefinition(1, "Present", "P"),
    MarkDefinition(2, "Absent", "A"),
    MarkDefinition(3, "Late", "L"),
    MarkDefinition(4, "Excused", "E"),
    # Starts with "A" like Absent: a client matching abbreviations loosely picks the wrong one.
    MarkDefinition(5, "Authorised", "AUT"),
)


def register_id(event_id: int, week: int) -> str:
    """CAWS's register id: the event id followed by (week + 1) as two digits."""
    if not 0 <= week <= 98:
        raise ValueError(f"week {week} does not fit the register id's two digits")
    return f"{event_id}{week + 1:02d}"


class _Token(NamedTuple):
    username: str
    issued: float


class CawsSandbox(Recorded):
    """A stateful fake CAWS server, granting tokens to one user of one timetable and role.

    ``clock`` (default ``anyio.current_time``) dates the tokens: a test passes a fake one
    to expire them without waiting. ``faults`` is consulted in order on every request (see
    ``Fault``); it may be changed, or replaced, at any time. ``marks`` may be edited too.
    """

    def __init__(
        self,
        *,
        username: str = "passerelle",
        password: str = "pw",
        timetable: str = "TT2025",
        role: str = "Admin",
        token_lifetime: float = 3600.0,
        clock: Callable[[], float] | None = None,
        keep_requests: int = 10_000,
    ) -> None:
        self.username, self.password = username, password
        self.timetable, self.role = timetable, role
        self.token_lifetime = token_lifetime
        self.clock = clock or anyio.current_time
        self.faults: list[Fault] = []
        self.marks: dict[int, MarkDefinition] = {m.MarkId: m for m in DEFAULT_MARKS}
        self.puts: list[tuple[str, Json]] = []
        self._registers: dict[str, Json] = {}
        self._tokens: dict[str, _Token] = {}
        self._log = RequestLog(limit=keep_requests)
        routes = self._routes()
        self.app = Starlette(
            routes=routes,
            middleware=[
                Middleware(Recording, log=self._log, routes=routes, fold_case=True),
                Middleware(FaultInjector, faults=lambda: self.faults),
            ],
        )

    def add_register(self, event_id: int, week: int, staff_id: int, student_ids: list[int]) -> str:
        """Open the register of (event, week), every student unmarked; returns its id."""
        rid = register_id(event_id, week)
        if rid in self._registers:
            raise ValueError(f"register {rid} exists already")
        self._registers[rid] = {
            "Id": rid,
            "EventId": event_id,
            "Week": week,
            "StaffId": staff_id,
            "Closed": False,
            "StudentMarks": [
                {
                    "StudentId": student,
                    "MarkId": None,
                    "MinsLate": 0,
                    "Comments": None,
                    "Source": None,
                    "UserId": None,
                    "Modified": False,
                }
                for student in student_ids
            ],
        }
        return rid

    def register(self, event_id: int, week: int) -> Json:
        """A copy of the stored register of (event, week), as ``GET /Registers`` serves it."""
        return copy.deepcopy(self._registers[register_id(event_id, week)])

    def set_mark(
        self, event_id: int, week: int, student_id: int, abbreviation: str, *, user: str
    ) -> None:
        """A mark set by someone else (a teacher in CELCAT): it records ``user`` as its setter,
        which the connector must then leave alone."""
        mark = next((m for m in self.marks.values() if m.Abbreviation == abbreviation), None)
        if mark is None:
            raise KeyError(f"no mark definition abbreviated {abbreviation!r}")
        row = _row(self._registers[register_id(event_id, week)], student_id)
        if row is None:
            raise KeyError(f"student {student_id} is not on that register")
        row.update(MarkId=mark.MarkId, Source=user, UserId=user)

    def expire_tokens(self) -> None:
        """Invalidate every token issued so far, as an expiry in the middle of a run."""
        self._tokens.clear()

    def _routes(self) -> list[BaseRoute]:
        return [
            Route("/token", self._token, methods=["POST"]),
            Route("/markdefinitions", self._mark_definitions, methods=["GET"]),
            Route("/registers", self._registers_list, methods=["GET"]),
            Route("/registers", self._register_create, methods=["POST"]),
            Route("/registers/{id}", self._register_put, methods=["PUT"]),
            Route("/studentmarks", self._read_only),
            Route("/studentmarks/{rest:path}", self._read_only),
        ]

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        if form.get("grant_type") != "password":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        expected = {
            "username": self.username,
            "password": self.password,
            "Timetable": self.timetable,
            "Role": self.role,
        }
        if not all(
            hmac.compare_digest(form.get(name, "").encode(), value.encode())
            for name, value in expected.items()
        ):
            return JSONResponse({"error": "invalid_grant"}, 400)
        token = secrets.token_urlsafe(24)
        self._tokens[token] = _Token(self.username, self.clock())
        return JSONResponse(
            {"access_token": token, "token_type": "bearer", "expires_in": int(self.token_lifetime)}
        )

    def _user(self, request: Request) -> str:
        """The user of the request's bearer token; 401 when it is missing, unknown or old."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        found = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if found is None or self.clock() >= found.issued + self.token_lifetime:
            denied = "Authorization has been denied for this request."
            raise HTTPException(401, denied, headers={"WWW-Authenticate": "Bearer"})
        return found.username

    async def _mark_definitions(self, request: Request) -> Response:
        self._user(request)
        return JSONResponse([m._asdict() for m in self.marks.values()])

    async def _registers_list(self, request: Request) -> Response:
        self._user(request)
        query = {name.lower(): value for name, value in request.query_params.items()}
        if "jsonparam" not in query:
            raise HTTPException(400, "a jsonparam filter is required")
        try:
            param = json.loads(query["jsonparam"])
            if not isinstance(param["EventIds"], list) or not isinstance(param["Weeks"], list):
                raise TypeError("not lists")
            events, weeks = set(param["EventIds"]), set(param["Weeks"])
        except (ValueError, TypeError, KeyError):
            raise HTTPException(400, "jsonparam must hold EventIds and Weeks lists") from None
        found = [
            r for r in self._registers.values() if r["EventId"] in events and r["Week"] in weeks
        ]
        found.sort(key=lambda r: (r["EventId"], r["Week"]))
        return JSONResponse(found)

    async def _register_create(self, request: Request) -> Response:
        self._user(request)
        body = await _json_object(request)
        try:
            event, week, staff = int(body["EventId"]), int(body["Week"]), int(body["StaffId"])
            students = [int(row["StudentId"]) for row in body.get("StudentMarks") or []]
            rid = register_id(event, week)
        except (ValueError, TypeError, KeyError):
            raise HTTPException(400, "EventId, Week, StaffId and StudentIds required") from None
        if rid in self._registers:
            raise HTTPException(409, "duplicate")
        self.add_register(event, week, staff, students)
        return JSONResponse(self._registers[rid], 201)

    async def _register_put(self, request: Request) -> Response:
        user = self._user(request)
        rid = request.path_params["id"]
        stored = self._registers.get(rid)
        if stored is None:
            raise HTTPException(404, f"register {rid} not found")
        body = await _json_object(request)
        if str(body.get("Id")) != rid:
            raise HTTPException(400, "the body's Id is not the path's")
        rows = body.get("StudentMarks")
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise HTTPException(400, "StudentMarks must be a list of marks")
        changes = [(self._checked(stored, r), r) for r in rows if r.get("Modified") is True]
        for row, change in changes:
            row.update(
                MarkId=change["MarkId"],
                MinsLate=change.get("MinsLate") or 0,
                Comments=change.get("Comments"),
                Source=user,
                UserId=user,
            )
        self.puts.append((rid, copy.deepcopy(body)))
        return JSONResponse(stored)

    def _checked(self, register: Json, change: Json) -> Json:
        """The stored row a modified mark changes; 400 when the change cannot be stored."""
        row = _row(register, change.get("StudentId"))
        if row is None:
            raise HTTPException(400, f"student {change.get('StudentId')} is not on the register")
        mark = change.get("MarkId")
        if isinstance(mark, bool) or not isinstance(mark, int) or mark not in self.marks:
            raise HTTPException(400, f"unknown MarkId {mark!r}")
        late = change.get("MinsLate")
        if late is not None and (isinstance(late, bool) or not isinstance(late, int) or late < 0):
            raise HTTPException(400, "MinsLate must be a whole number of minutes")
        if not isinstance(change.get("Comments"), str | None):
            raise HTTPException(400, "Comments must be text")
        return row

    async def _read_only(self, request: Request) -> Response:
        self._user(request)
        raise HTTPException(405, "StudentMarks is read only: PUT the register")


def _row(register: Json, student_id: object) -> Json | None:
    rows: list[Json] = register["StudentMarks"]
    return next((r for r in rows if r["StudentId"] == student_id), None)


async def _json_object(request: Request) -> Json:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body
