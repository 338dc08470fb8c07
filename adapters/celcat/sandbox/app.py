"""The CELCAT Web API sandbox: a Starlette app serving an ``Institution`` as the contract says.

Where the contract is silent, the choices are:

- Paths match case-insensitively, and so do query parameter names (ASP.NET binds them
  so). A query parameter the route does not know is refused (400): a client's typo must
  fail loudly here rather than fetch an unfiltered list.
- ``pageSize`` defaults to 50 and is capped at 1000; ``page`` counts from 0.
- ``GET /api/events`` without ``date`` lists every event of the timetable, each as for
  ``GET /api/events/{id}``: for its first occurrence (earliest date), with null
  ``start``, ``end``, ``week`` and ``dayOfWeek`` when it has none left.
- ``week``: the timetable's week number, week 1 holding the Monday of the week of
  September 1st of the academic year. ``dayOfWeek``: 0 for Monday .. 6 for Sunday.
- Requests pass, in order: recording (every request is counted, even a refused one),
  fault injection, the ``ApiCode`` check, then the routes.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from math import ceil
from typing import TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.celcat.sandbox import render
from adapters.celcat.sandbox.state import Event, Institution, Json, Timetable
from core.sandbox.faults import Fault, FaultInjector
from core.sandbox.recording import Recorded, Recording, RequestLog

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_PAGING = frozenset({"page", "pagesize", "detail"})
_DETAILS = frozenset({"terse", "normal", "extended"})
_ASSIGNMENTS = {"staff": "staffId", "student": "studentId", "room": "roomId", "group": "groupId"}
T = TypeVar("T")


class CelcatSandbox(Recorded):
    """A stateful fake CELCAT server over ``institution``.

    ``api_code`` None: no ``ApiCode`` check. ``faults`` is consulted in order on every
    request (see ``Fault``); it may be changed, or replaced, at any time.
    """

    def __init__(
        self, institution: Institution, api_code: str | None = None, *, keep_requests: int = 10_000
    ) -> None:
        self.institution = institution
        self.api_code = api_code
        self.faults: list[Fault] = []
        self._log = RequestLog(limit=keep_requests)
        routes = _Routes(self).routes()
        self.app = Starlette(
            routes=routes,
            middleware=[
                Middleware(Recording, log=self._log, routes=routes, fold_case=True),
                Middleware(FaultInjector, faults=lambda: self.faults),
                Middleware(_ApiCodeCheck, code=lambda: self.api_code),
            ],
        )


class _ApiCodeCheck:
    """Every call carries ``ApiCode: <code>`` when the server has one; else 401."""

    def __init__(self, app: ASGIApp, code: Callable[[], str | None]) -> None:
        self.app, self.code = app, code

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        expected = self.code()
        if scope["type"] == "http" and expected is not None:
            given = dict(scope["headers"]).get(b"apicode", b"")
            if not hmac.compare_digest(given, expected.encode()):
                await PlainTextResponse("Unauthorized", 401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Routes:
    """The endpoints, reading the sandbox's institution at each request (tests change it)."""

    def __init__(self, sandbox: CelcatSandbox) -> None:
        self.sandbox = sandbox

    @property
    def inst(self) -> Institution:
        return self.sandbox.institution

    def routes(self) -> list[BaseRoute]:
        assignments = [
            Route(f"/api/{kind}-assignments", self._assignments(kind), methods=["GET"])
            for kind in _ASSIGNMENTS
        ]
        return [
            Route("/api/timetables", self.timetables, methods=["GET"]),
            Route("/api/event-categories", self.categories, methods=["GET"]),
            Route("/api/events", self.events, methods=["GET"]),
            Route("/api/events/{id}", self.event, methods=["GET"]),
            *assignments,
            Route("/api/students", self.students, methods=["GET"]),
            Route("/api/students/{id}", self.student, methods=["GET"]),
            Route("/api/staff", self.staff_list, methods=["GET"]),
            Route("/api/staff/{id}", self.staff_member, methods=["GET"]),
            Route("/api/rooms", self.rooms, methods=["GET"]),
            Route("/api/groups", self.groups, methods=["GET"]),
            Route("/api/student-membership", self.memberships, methods=["GET"]),
        ]

    async def timetables(self, request: Request) -> Response:
        _query(request)
        rows = sorted(self.inst.timetables.values(), key=lambda t: t.id)
        return _page(request, rows, lambda t: render.named(t.id, t.name))

    async def categories(self, request: Request) -> Response:
        _query(request)
        rows = sorted(self.inst.categories.values(), key=lambda c: c.id)
        return _page(request, rows, lambda c: render.named(c.id, c.name))

    async def events(self, request: Request) -> Response:
        timetable = self._timetable(request)
        query = _query(request, "date")
        if "date" not in query:
            rows = sorted(timetable.events.values(), key=lambda e: e.id)
            return _page(request, rows, lambda e: _event(timetable, e))
        day = _date(query["date"])
        on_day = [e for e in timetable.events.values() if day in e.dates]
        on_day.sort(key=lambda e: (e.start, e.id))
        return _page(request, on_day, lambda e: render.event(timetable, e, day), filtered=True)

    async def event(self, request: Request) -> Response:
        timetable = self._timetable(request)
        _query(request)
        found = timetable.events.get(_id(request.path_params["id"]))
        if found is None:
            raise HTTPException(404)
        return JSONResponse(_event(timetable, found))

    def _assignments(self, kind: str) -> Callable[[Request], Awaitable[Response]]:
        """``GET /api/{kind}-assignments[?eventId=]``: the selected timetable's."""
        field = _ASSIGNMENTS[kind]

        async def endpoint(request: Request) -> Response:
            timetable = self._timetable(request)
            query = _query(request, "eventid")
            events = sorted(timetable.events.values(), key=lambda e: e.id)
            if "eventid" in query:
                wanted = _id(query["eventid"])
                events = [e for e in events if e.id == wanted]
            rows = [(e.id, other) for e in events for other in _assigned(e, kind)]
            return _page(
                request,
                rows,
                lambda row: render.assignment(row[0], field, row[1]),
                filtered="eventid" in query,
            )

        return endpoint

    async def students(self, request: Request) -> Response:
        _query(request)
        return _page(
            request, sorted(self.inst.students.values(), key=lambda p: p.id), render.person
        )

    async def student(self, request: Request) -> Response:
        _query(request)
        return _one(self.inst.students.get(_id(request.path_params["id"])), render.person)

    async def staff_list(self, request: Request) -> Response:
        _query(request)
        return _page(request, sorted(self.inst.staff.values(), key=lambda p: p.id), render.person)

    async def staff_member(self, request: Request) -> Response:
        _query(request)
        return _one(self.inst.staff.get(_id(request.path_params["id"])), render.person)

    async def rooms(self, request: Request) -> Response:
        _query(request)
        return _page(request, sorted(self.inst.rooms.values(), key=lambda r: r.id), render.room)

    async def groups(self, request: Request) -> Response:
        _query(request)
        return _page(request, sorted(self.inst.groups.values(), key=lambda g: g.id), render.group)

    async def memberships(self, request: Request) -> Response:
        query = _query(request, "groupid", "studentid")
        rows = self.inst.memberships
        if "groupid" in query:
            group = _id(query["groupid"])
            rows = [r for r in rows if r[0] == group]
        if "studentid" in query:
            student = _id(query["studentid"])
            rows = [r for r in rows if r[1] == student]
        filtered = "groupid" in query or "studentid" in query
        return _page(request, rows, lambda r: render.membership(*r), filtered=filtered)

    def _timetable(self, request: Request) -> Timetable:
        """The timetable named by ``TimetableId``: required when the server has several."""
        timetables = self.inst.timetables
        header = request.headers.get("TimetableId")
        if header is None:
            if len(timetables) != 1:
                raise HTTPException(400, "TimetableId header required")
            return next(iter(timetables.values()))
        found = timetables.get(_id(header, "TimetableId"))
        if found is None:
            raise HTTPException(404, "Timetable not found")
        return found


def _assigned(event: Event, kind: str) -> list[int]:
    return {
        "staff": event.staff,
        "student": event.students,
        "room": event.rooms,
        "group": event.groups,
    }[kind]


def _event(timetable: Timetable, event: Event) -> Json:
    return render.event(timetable, event, min(event.dates, default=None))


def _query(request: Request, *filters: str) -> dict[str, str]:
    """The query, names in lower case; 400 for a name the route does not know or a bad
    ``detail``."""
    query = {name.lower(): value for name, value in request.query_params.items()}
    unknown = query.keys() - _PAGING - set(filters)
    if unknown:
        raise HTTPException(400, f"Unknown query parameter: {sorted(unknown)[0]}")
    if "detail" in query and query["detail"].lower() not in _DETAILS:
        raise HTTPException(400, "detail must be terse, normal or extended")
    return query


def _id(text: str, what: str = "id") -> int:
    try:
        return int(text)
    except ValueError:
        raise HTTPException(400, f"{what} must be an integer") from None


def _date(text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, "date must be yyyy-MM-dd") from None


def _one(found: T | None, shape: Callable[[T], Json]) -> Response:
    if found is None:
        raise HTTPException(404)
    return JSONResponse(shape(found))


def _page(
    request: Request, rows: Sequence[T], shape: Callable[[T], Json], *, filtered: bool = False
) -> Response:
    """One page of ``rows`` with its ``Pagination`` header. An empty filtered list is a
    404, as on a real server; a page past the end of a non-empty one is ``[]``."""
    query = {name.lower(): value for name, value in request.query_params.items()}
    page = _id(query.get("page", "0"), "page")
    size = min(_id(query.get("pagesize", str(DEFAULT_PAGE_SIZE)), "pageSize"), MAX_PAGE_SIZE)
    if page < 0 or size < 1:
        raise HTTPException(400, "page must be >= 0 and pageSize >= 1")
    if filtered and not rows:
        raise HTTPException(404)
    pagination = {"TotalRows": len(rows), "TotalPages": ceil(len(rows) / size), "CurrentPage": page}
    body = [shape(row) for row in rows[page * size : (page + 1) * size]]
    return JSONResponse(body, headers={"Pagination": json.dumps(pagination)})
