"""The CELCAT Web API sandbox: a Starlette app serving an ``Institution`` as the contract
says (docs/celcat-webapi.md), exactly as strictly, and no more conveniently.

What the contract says, the sandbox does:

- ``ApiCode: <code>`` on every call when the server has a code; else 401.
- ``TimetableId: <int>`` on every call but ``GET /api/timetables`` as soon as the server
  holds more than one timetable, reference lists (staff, students, rooms, groups,
  categories, memberships) included; else 400. With one timetable it may be left out.
- Lists are plain JSON arrays; ``page`` counts from 0, ``pageSize`` asks for a size.
- An empty filtered list (``?date=``, ``?eventId=``, ``?groupId=``...) is a 404.
- ``detail`` takes ``terse``, ``normal`` or ``extended``, in any case; else 400.
- Paths match case-insensitively.
- Composite ids are joined with a hyphen: ``GET /api/student-membership/{groupId}-{studentId}``.

Where the contract is silent, the sandbox takes the least convenient legal answer, drawn
from ``quirks`` (``core.sandbox.quirks``; ``Quirks(None)`` answers plainly):

- Order: every list in an order of the seed's own, the same for every page of one list
  (the list is identified by its path, its filters and its ``TimetableId``).
- Page size: fewer rows a page than ``pageSize`` asked (the same for every page of a
  list), after a cap of 1000; 50 when ``pageSize`` is not given.
- ``Pagination: {"TotalRows": n, "TotalPages": n, "CurrentPage": n}``, true to the rows
  and page size actually served, is left out of some answers (drawn per list and page).
- Every record carries a few unknown extra fields, as a newer server version adds.
- Error texts (none is documented) are reworded; the statuses are what the contract and
  HTTP say, and the body is plain text.
- A ``TimetableId`` naming no timetable is a 404, on every route it is required on: the
  same answer as "no rows", so that only a client that sends listed ids reads anything.
- Events carry the fields the contract names only with ``detail=extended``; ``terse``
  and ``normal`` (the default) give ``id`` and ``name`` alone.

And where the sandbox is stricter than a real server may be, on purpose:

- A query parameter the route does not know is refused (400): a client's typo must fail
  loudly here rather than fetch an unfiltered list. Query parameter names match
  case-insensitively (ASP.NET binds them so).

Other choices:

- ``GET /api/events`` without ``date`` lists every event of the timetable, each as for
  ``GET /api/events/{id}``: for its first occurrence (earliest date), with null
  ``start``, ``end``, ``week`` and ``dayOfWeek`` when it has none left.
- ``week``: the timetable's week number, week 1 holding the Monday of the week of
  September 1st of the academic year. ``dayOfWeek``: 0 for Monday .. 6 for Sunday.
- ``GET /api/attendance`` is not served: the sandbox holds no marks, and the contract
  names no field of a mark.
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
from core.sandbox import Fault, FaultInjector, Quirks, Recorded, Recording, RequestLog

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_PAGING = frozenset({"page", "pagesize", "detail"})
_DETAILS = frozenset({"terse", "normal", "extended"})
_BRIEF_EVENT = ("id", "name")
"""The fields of an event without ``detail=extended``."""
_ASSIGNMENTS = {"staff": "staffId", "student": "studentId", "room": "roomId", "group": "groupId"}
QUIRKY = Quirks(0)
"""The default: quirky, so that a test asks for plain answers (``Quirks(None)``) out loud."""
T = TypeVar("T")
Endpoint = Callable[[Request], Awaitable[Response]]
TimetableEndpoint = Callable[[Request, Timetable], Awaitable[Response]]


class CelcatSandbox(Recorded):
    """A stateful fake CELCAT server over ``institution``.

    ``api_code`` None: no ``ApiCode`` check. ``faults`` is consulted in order on every
    request (see ``Fault``); it may be changed, or replaced, at any time. ``quirks``
    draws the answers the contract leaves open (see the module); ``Quirks(None)`` for a
    test that is about something else and says so.
    """

    def __init__(
        self,
        institution: Institution,
        api_code: str | None = None,
        *,
        quirks: Quirks = QUIRKY,
        keep_requests: int = 10_000,
    ) -> None:
        self.institution = institution
        self.api_code = api_code
        self.quirks = quirks
        self.faults: list[Fault] = []
        self._log = RequestLog(limit=keep_requests)
        routes = _Routes(self).routes()
        self.app = Starlette(
            routes=routes,
            middleware=[
                Middleware(Recording, log=self._log, routes=routes, fold_case=True),
                Middleware(FaultInjector, faults=lambda: self.faults),
                Middleware(_ApiCodeCheck, code=lambda: self.api_code, quirks=lambda: self.quirks),
            ],
            exception_handlers={HTTPException: self._refusal},
        )

    async def _refusal(self, request: Request, exc: Exception) -> Response:
        """An error answer: its status, and a text no client may read for its meaning."""
        assert isinstance(exc, HTTPException)
        text = self.quirks.reword(exc.detail, request.url.path)
        return PlainTextResponse(text, status_code=exc.status_code, headers=exc.headers)


class _ApiCodeCheck:
    """Every call carries ``ApiCode: <code>`` when the server has one; else 401."""

    def __init__(
        self, app: ASGIApp, code: Callable[[], str | None], quirks: Callable[[], Quirks]
    ) -> None:
        self.app, self.code, self.quirks = app, code, quirks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        expected = self.code()
        if scope["type"] == "http" and expected is not None:
            given = dict(scope["headers"]).get(b"apicode", b"")
            if not hmac.compare_digest(given, expected.encode()):
                text = self.quirks().reword("Unauthorized", scope["path"])
                await PlainTextResponse(text, 401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Routes:
    """The endpoints, reading the sandbox's institution at each request (tests change it)."""

    def __init__(self, sandbox: CelcatSandbox) -> None:
        self.sandbox = sandbox

    @property
    def inst(self) -> Institution:
        return self.sandbox.institution

    @property
    def quirks(self) -> Quirks:
        return self.sandbox.quirks

    def routes(self) -> list[BaseRoute]:
        """Every route but ``/api/timetables`` goes through the TimetableId check."""
        selected: list[tuple[str, TimetableEndpoint]] = [
            ("/api/event-categories", self.categories),
            ("/api/events", self.events),
            ("/api/events/{id}", self.event),
            *((f"/api/{kind}-assignments", self._assignments(kind)) for kind in _ASSIGNMENTS),
            ("/api/students", self.students),
            ("/api/students/{id}", self.student),
            ("/api/staff", self.staff_list),
            ("/api/staff/{id}", self.staff_member),
            ("/api/rooms", self.rooms),
            ("/api/groups", self.groups),
            ("/api/student-membership", self.memberships),
            ("/api/student-membership/{pair}", self.membership),
        ]
        return [
            Route("/api/timetables", self.timetables, methods=["GET"]),
            *(Route(path, self._timetabled(e), methods=["GET"]) for path, e in selected),
        ]

    def _timetabled(self, endpoint: TimetableEndpoint) -> Endpoint:
        async def checked(request: Request) -> Response:
            return await endpoint(request, self._timetable(request))

        return checked

    def _timetable(self, request: Request) -> Timetable:
        """The timetable ``TimetableId`` names: required when the server holds several;
        without it, the only one (an empty one, on a server that holds none)."""
        timetables = self.inst.timetables
        header = request.headers.get("TimetableId")
        if header is None:
            if len(timetables) > 1:
                raise HTTPException(400, "TimetableId header is required")
            return next(iter(timetables.values()), None) or Timetable(0, "", date.min)
        found = timetables.get(_id(header, "TimetableId"))
        if found is None:
            raise HTTPException(404, "Timetable not found")
        return found

    async def timetables(self, request: Request) -> Response:
        _query(request)
        rows = sorted(self.inst.timetables.values(), key=lambda t: t.id)
        return self._page(request, rows, lambda t: render.named(t.id, t.name))

    async def categories(self, request: Request, _: Timetable) -> Response:
        _query(request)
        rows = sorted(self.inst.categories.values(), key=lambda c: c.id)
        return self._page(request, rows, lambda c: render.named(c.id, c.name))

    async def events(self, request: Request, timetable: Timetable) -> Response:
        query = _query(request, "date")
        if "date" not in query:
            rows = sorted(timetable.events.values(), key=lambda e: e.id)
            return self._page(request, rows, lambda e: _brief(query, _event(timetable, e)))
        day = _date(query["date"])
        on_day = [e for e in timetable.events.values() if day in e.dates]
        on_day.sort(key=lambda e: (e.start, e.id))
        return self._page(
            request, on_day, lambda e: _brief(query, render.event(timetable, e, day)), filtered=True
        )

    async def event(self, request: Request, timetable: Timetable) -> Response:
        query = _query(request)
        found = timetable.events.get(_id(request.path_params["id"]))
        record = None if found is None else _brief(query, _event(timetable, found))
        return self._one(request, record)

    def _assignments(self, kind: str) -> TimetableEndpoint:
        """``GET /api/{kind}-assignments[?eventId=]``: the selected timetable's."""
        field = _ASSIGNMENTS[kind]

        async def endpoint(request: Request, timetable: Timetable) -> Response:
            query = _query(request, "eventid")
            events = sorted(timetable.events.values(), key=lambda e: e.id)
            if "eventid" in query:
                wanted = _id(query["eventid"])
                events = [e for e in events if e.id == wanted]
            rows = [(e.id, other) for e in events for other in _assigned(e, kind)]
            return self._page(
                request,
                rows,
                lambda row: render.assignment(row[0], field, row[1]),
                filtered="eventid" in query,
            )

        return endpoint

    async def students(self, request: Request, _: Timetable) -> Response:
        _query(request)
        rows = sorted(self.inst.students.values(), key=lambda p: p.id)
        return self._page(request, rows, render.person)

    async def student(self, request: Request, _: Timetable) -> Response:
        _query(request)
        found = self.inst.students.get(_id(request.path_params["id"]))
        return self._one(request, None if found is None else render.person(found))

    async def staff_list(self, request: Request, _: Timetable) -> Response:
        _query(request)
        rows = sorted(self.inst.staff.values(), key=lambda p: p.id)
        return self._page(request, rows, render.person)

    async def staff_member(self, request: Request, _: Timetable) -> Response:
        _query(request)
        found = self.inst.staff.get(_id(request.path_params["id"]))
        return self._one(request, None if found is None else render.person(found))

    async def rooms(self, request: Request, _: Timetable) -> Response:
        _query(request)
        return self._page(
            request, sorted(self.inst.rooms.values(), key=lambda r: r.id), render.room
        )

    async def groups(self, request: Request, _: Timetable) -> Response:
        _query(request)
        rows = sorted(self.inst.groups.values(), key=lambda g: g.id)
        return self._page(request, rows, render.group)

    async def memberships(self, request: Request, _: Timetable) -> Response:
        query = _query(request, "groupid", "studentid")
        rows = self.inst.memberships
        if "groupid" in query:
            group = _id(query["groupid"])
            rows = [r for r in rows if r[0] == group]
        if "studentid" in query:
            student = _id(query["studentid"])
            rows = [r for r in rows if r[1] == student]
        filtered = "groupid" in query or "studentid" in query
        return self._page(request, rows, lambda r: render.membership(*r), filtered=filtered)

    async def membership(self, request: Request, _: Timetable) -> Response:
        """``GET /api/student-membership/{groupId}-{studentId}``: a composite id."""
        _query(request)
        group, hyphen, student = request.path_params["pair"].partition("-")
        if not hyphen:
            raise HTTPException(400, "expected {groupId}-{studentId}")
        pair = (_id(group), _id(student))
        found = render.membership(*pair) if pair in self.inst.memberships else None
        return self._one(request, found)

    # Answers: where the quirks come in.

    def _page(
        self,
        request: Request,
        rows: Sequence[T],
        shape: Callable[[T], Json],
        *,
        filtered: bool = False,
    ) -> Response:
        """One page of ``rows``. An empty filtered list is a 404, as on a real server; a
        page past the end of a non-empty one is ``[]``."""
        query = {name.lower(): value for name, value in request.query_params.items()}
        page = _id(query.get("page", "0"), "page")
        asked = min(_id(query.get("pagesize", str(DEFAULT_PAGE_SIZE)), "pageSize"), MAX_PAGE_SIZE)
        if page < 0 or asked < 1:
            raise HTTPException(400, "page must be >= 0 and pageSize >= 1")
        if filtered and not rows:
            raise HTTPException(404)
        listing = _listing(request, query)
        size = self.quirks.page_size(asked, *listing)
        first = page * size
        served = self.quirks.order(rows, *listing)[first : first + size]
        body = [self._decorated(shape(row), *listing, first + n) for n, row in enumerate(served)]
        headers = {}
        if self.quirks.header("Pagination", *listing, page):
            pagination = {
                "TotalRows": len(rows),
                "TotalPages": ceil(len(rows) / size),
                "CurrentPage": page,
            }
            headers["Pagination"] = json.dumps(pagination)
        return JSONResponse(body, headers=headers)

    def _one(self, request: Request, record: Json) -> Response:
        """One record (None: 404), with the extra fields of its kind."""
        if record is None:
            raise HTTPException(404)
        return JSONResponse(self._decorated(record, request.url.path))

    def _decorated(self, record: Json, *salt: object) -> Json:
        return self.quirks.decorate(record, *salt) if isinstance(record, dict) else record


def _listing(request: Request, query: dict[str, str]) -> tuple[object, ...]:
    """What identifies one list, whatever page of it is asked for: the same order and
    page size for all its pages."""
    filters = sorted((k, v) for k, v in query.items() if k not in ("page", "pagesize"))
    return request.url.path, request.headers.get("TimetableId", ""), *filters


def _assigned(event: Event, kind: str) -> list[int]:
    return {
        "staff": event.staff,
        "student": event.students,
        "room": event.rooms,
        "group": event.groups,
    }[kind]


def _event(timetable: Timetable, event: Event) -> Json:
    return render.event(timetable, event, min(event.dates, default=None))


def _brief(query: dict[str, str], record: Json) -> Json:
    """An event as ``detail`` asks: the whole record only with ``extended``."""
    if query.get("detail", "normal").lower() == "extended" or not isinstance(record, dict):
        return record
    return {name: value for name, value in record.items() if name in _BRIEF_EVENT}


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
