"""The CAWS sandbox: a Starlette app serving registers and marks as the contract says, and
no more conveniently than it says (docs/caws.md lists what the contract promises).

Required, as the contract says: a token from ``POST /token``, form-encoded, with
``grant_type=password``, ``username``, ``password``, ``Timetable`` and ``Role``; then
``Authorization: Bearer <token>`` on every other call. ``GET /Registers`` without a
``jsonparam`` filter is a 400; ``StudentMarks`` is read only (405); ``PUT /Registers/{id}``
of an unknown id is a 404, a ``POST /Registers`` of an existing one a 409, a wrong verb a
405. A register as served carries no id of its own: the client derives it.

Where the contract is silent, the choices are the least convenient legal ones; those
marked (quirk) are drawn from ``quirks`` (``core.sandbox.quirks``), by seed and by
default (``Quirks(0)``), and left out with ``Quirks(None)``:

- Paths are matched exactly as the contract spells them (``/token``, ``/MarkDefinitions``,
  ``/Registers``, ``/StudentMarks``), and calls are counted under those templates (e.g.
  ``PUT /Registers/{id}``); query, form and JSON field names are matched exactly too, so
  that a client's typo fails here rather than on a real server.
- The token request must say it is form-encoded (``Content-Type:
  application/x-www-form-urlencoded``); a missing or wrong field is a 400. The answer
  holds ``access_token`` and, not always (quirk), ``expires_in``: a client must then
  guess a lifetime, and still renew on a 401.
- A token is valid for ``token_lifetime`` seconds of ``clock()`` after its grant, until
  ``expire_tokens()``; a refused one answers 401 with ``WWW-Authenticate: Bearer``.
- The token check runs in each endpoint, so an unknown route is a 404 and a wrong verb a
  405 even without a token.
- Every error text is reworded (quirk): CAWS quotes none, so no client may match one.
- Lists (mark definitions, registers, the marks of a register) come in an order of the
  seed's own (quirk); records carry unknown extra fields (quirk), as a newer server's do.
- ``GET /Registers``: ``jsonparam`` must be a JSON object holding ``EventIds`` and
  ``Weeks``, lists of integers (the one filter the contract shows); it lists the
  registers of any of those events in any of those weeks.
- ``PUT /Registers/{id}`` takes "the whole register as read": ``EventId`` and ``Week``
  must derive to the path's id, ``StaffId``, ``Closed`` and ``StudentMarks`` must be
  there, and ``StudentMarks`` must hold a row for every student of the register and no
  other (400 otherwise). Unknown fields are accepted (they are what was served). Every
  modified mark is validated before any is stored: a refused PUT changes nothing.
  ``MarkId`` must name a mark definition (null is refused: the connector never clears a
  mark). The answer is 200 with the register, or 204 with no body (quirk).
- ``StudentMarks`` is read only, but the contract describes no read of it: a GET is a
  404, any other verb a 405.
- ``POST /Registers`` creates a register that does not exist yet (201), from its
  ``EventId``, ``Week``, ``StaffId`` and the ``StudentId`` of each ``StudentMarks`` row.
- A student's mark is named by ``StudentId`` and records its setter in both ``Source``
  and ``UserId`` (the contract names both fields, assumed, without saying which holds
  what).
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
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from core.sandbox import Fault, FaultInjector, Quirks, Recorded, Recording, RequestLog

Json = dict[str, Any]

QUIRKY = Quirks(0)
"""The default: quirky, so that a test asks for plain answers (``Quirks(None)``) out loud."""

FORM = "application/x-www-form-urlencoded"
GRANT_FIELDS = ("username", "password", "Timetable", "Role")
WHOLE_REGISTER = ("EventId", "Week", "StaffId", "Closed", "StudentMarks")
"""The fields the contract lists for a register: a PUT body without one is not the whole
register as read."""


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
    """CAWS's register id: the event id followed by (week + 1) as two digits.

    Written here from the contract, apart from the client's own derivation
    (``adapters.celcat.mapping.register_id``), so that a mistake in one shows against
    the other."""
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
    ``quirks`` draws the answers the contract leaves open (see the module).
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
        quirks: Quirks = QUIRKY,
    ) -> None:
        self.username, self.password = username, password
        self.timetable, self.role = timetable, role
        self.token_lifetime = token_lifetime
        self.clock = clock or anyio.current_time
        self.quirks = quirks
        self.faults: list[Fault] = []
        self.marks: dict[int, MarkDefinition] = {m.MarkId: m for m in DEFAULT_MARKS}
        self.puts: list[tuple[str, Json]] = []
        self._registers: dict[str, Json] = {}
        self._tokens: dict[str, _Token] = {}
        self._grants = 0
        self._log = RequestLog(limit=keep_requests)
        routes = self._routes()
        self.app = Starlette(
            routes=routes,
            middleware=[
                Middleware(Recording, log=self._log, routes=routes),
                Middleware(FaultInjector, faults=lambda: self.faults),
            ],
            exception_handlers={HTTPException: self._error},
        )

    def add_register(self, event_id: int, week: int, staff_id: int, student_ids: list[int]) -> str:
        """Open the register of (event, week), every student unmarked; returns its id."""
        rid = register_id(event_id, week)
        if rid in self._registers:
            raise ValueError(f"register {rid} exists already")
        self._registers[rid] = {
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
        """A copy of the stored register of (event, week): what ``GET /Registers`` serves,
        before its quirks (order, extra fields)."""
        return copy.deepcopy(self._registers[register_id(event_id, week)])

    def register_keys(self) -> list[tuple[int, int]]:
        """(event id, week) of every register, in order."""
        return sorted((r["EventId"], r["Week"]) for r in self._registers.values())

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
            Route("/MarkDefinitions", self._mark_definitions, methods=["GET"]),
            Route("/Registers", self._registers_list, methods=["GET"]),
            Route("/Registers", self._register_create, methods=["POST"]),
            Route("/Registers/{id}", self._register_put, methods=["PUT"]),
            Route("/StudentMarks", self._student_marks, methods=["GET"]),
            Route("/StudentMarks/{rest:path}", self._student_marks, methods=["GET"]),
        ]

    async def _error(self, request: Request, exc: Exception) -> Response:
        """Every refusal, its text reworded: CAWS quotes no error text."""
        if not isinstance(exc, HTTPException):  # registered for HTTPException only
            raise exc
        text = self.quirks.reword(exc.detail, request.url.path)
        return PlainTextResponse(text, exc.status_code, headers=exc.headers)

    async def _token(self, request: Request) -> Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != FORM:
            return self._grant_error("invalid_request", "the grant must be form-encoded")
        form = dict(parse_qsl((await request.body()).decode(errors="replace")))
        if form.get("grant_type") != "password":
            return self._grant_error("unsupported_grant_type", "grant_type must be password")
        expected = {
            "username": self.username,
            "password": self.password,
            "Timetable": self.timetable,
            "Role": self.role,
        }
        if not all(
            hmac.compare_digest(form.get(name, "").encode(), expected[name].encode())
            for name in GRANT_FIELDS
        ):
            return self._grant_error("invalid_grant", "the user name or password is incorrect")
        self._grants += 1
        token = secrets.token_urlsafe(24)
        self._tokens[token] = _Token(self.username, self.clock())
        answer: Json = {"access_token": token}
        # expires_in is assumed, not seen: sometimes a server states no lifetime.
        if self.quirks.header("expires_in", self._grants):
            answer["expires_in"] = int(self.token_lifetime)
        return JSONResponse(self.quirks.decorate(answer, "token", self._grants))

    def _grant_error(self, code: str, description: str) -> Response:
        said = {"error": code, "error_description": description}
        return JSONResponse({k: self.quirks.reword(v, "token") for k, v in said.items()}, 400)

    def _user(self, request: Request) -> str:
        """The user of the request's bearer token; 401 when it is missing, unknown or old."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        # The scheme's case is HTTP's to settle, and HTTP ignores it (RFC 9110, 11.1).
        found = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if found is None or self.clock() >= found.issued + self.token_lifetime:
            denied = "Authorization has been denied for this request."
            raise HTTPException(401, denied, headers={"WWW-Authenticate": "Bearer"})
        return found.username

    async def _mark_definitions(self, request: Request) -> Response:
        self._user(request)
        served = [self.quirks.decorate(m._asdict(), "mark", m.MarkId) for m in self.marks.values()]
        return JSONResponse(self.quirks.order(served, "marks"))

    async def _registers_list(self, request: Request) -> Response:
        self._user(request)
        if "jsonparam" not in request.query_params:
            raise HTTPException(400, "a jsonparam filter is required")
        try:
            param = json.loads(request.query_params["jsonparam"])
            events, weeks = _ints(param["EventIds"]), _ints(param["Weeks"])
        except (ValueError, TypeError, KeyError):
            raise HTTPException(400, "jsonparam must hold EventIds and Weeks lists") from None
        found = [
            (rid, r)
            for rid, r in sorted(self._registers.items())
            if r["EventId"] in events and r["Week"] in weeks
        ]
        served = [self._served(rid, r) for rid, r in found]
        return JSONResponse(self.quirks.order(served, "registers", *sorted(events | weeks)))

    def _served(self, rid: str, register: Json) -> Json:
        """A register as the server answers it: marks in the seed's order, extra fields."""
        marks = [
            self.quirks.decorate(dict(row), "mark", rid, row["StudentId"])
            for row in register["StudentMarks"]
        ]
        served = {**copy.deepcopy(register), "StudentMarks": self.quirks.order(marks, rid)}
        return self.quirks.decorate(served, "register", rid)

    async def _register_create(self, request: Request) -> Response:
        self._user(request)
        body = await _json_object(request)
        try:
            event, week, staff = _int(body["EventId"]), _int(body["Week"]), _int(body["StaffId"])
            students = [_int(row["StudentId"]) for row in body.get("StudentMarks") or []]
            rid = register_id(event, week)
        except (ValueError, TypeError, KeyError):
            raise HTTPException(400, "EventId, Week, StaffId and StudentIds required") from None
        if rid in self._registers:
            raise HTTPException(409, "a register for this event and week exists already")
        self.add_register(event, week, staff, students)
        return JSONResponse(self._served(rid, self._registers[rid]), 201)

    async def _register_put(self, request: Request) -> Response:
        user = self._user(request)
        rid = request.path_params["id"]
        stored = self._registers.get(rid)
        if stored is None:
            raise HTTPException(404, f"register {rid} not found")
        body = await _json_object(request)
        missing = [name for name in WHOLE_REGISTER if name not in body]
        if missing:
            raise HTTPException(400, f"not the whole register: no {', '.join(missing)}")
        try:
            derived = register_id(_int(body["EventId"]), _int(body["Week"]))
        except (ValueError, TypeError):
            raise HTTPException(400, "EventId and Week must be whole numbers") from None
        if derived != rid:
            raise HTTPException(400, f"the body is register {derived}, not {rid}")
        rows = body["StudentMarks"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise HTTPException(400, "StudentMarks must be a list of marks")
        sent = [r.get("StudentId") for r in rows]
        on_register = [r["StudentId"] for r in stored["StudentMarks"]]
        if sorted(map(repr, sent)) != sorted(map(repr, on_register)):
            raise HTTPException(400, "StudentMarks must hold every mark of the register, once")
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
        if not self.quirks.header("put-answer", rid, len(self.puts)):
            return Response(status_code=204)  # the contract describes no answer body
        return JSONResponse(self._served(rid, stored))

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

    async def _student_marks(self, request: Request) -> Response:
        """Read only (a write is a 405, from the route's methods), but no read of it is
        described: none is served."""
        self._user(request)
        raise HTTPException(404, "StudentMarks cannot be read here: GET the registers")


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"not a whole number: {value!r}")
    return value


def _ints(value: object) -> set[int]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    return {_int(v) for v in value}


def _row(register: Json, student_id: object) -> Json | None:
    rows: list[Json] = register["StudentMarks"]
    return next(
        (r for r in rows if r["StudentId"] == student_id and not isinstance(student_id, bool)),
        None,
    )


async def _json_object(request: Request) -> Json:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body
