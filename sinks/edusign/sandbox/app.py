"""The Edusign v1 sandbox: a Starlette app serving schools as the contract says.

Requests pass, in order: recording (every request is counted, even a refused one), the
rate limit (arrivals recorded per key, then the slow-down), fault injection, the key
check, then the routes. Every route answers the envelope ``{"status": "success",
"result"}`` or ``{"status": "error", "message"}``: HTTP 200 for a business error, 400 for
a malformed request (a list of messages, every problem at once). Plain text answers are
an unknown route's ``Not Found`` (404), a wrong verb's ``Method Not Allowed`` (405), a
missing or unknown key's ``Unauthorized`` (401) and a fault's.

The sandbox is exactly as strict as the contract (docs/edusign-v1.md): what it calls
required is refused without it, what it does not promise is not given. Where it is silent,
``quirks`` picks the least convenient legal answer, by seed and by default (``Quirks(0)``):
error wordings the contract does not quote, extra fields in records, list orders, a
students page shorter than asked. ``Quirks(None)`` answers plainly, for a test about
something else. The choices are listed in the docstrings of ``errors``, ``render``,
``people``, ``groups`` and ``courses``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.sandbox import Fault, FaultInjector, Quirks, Recorded, Recording, RequestLog
from sinks.edusign.sandbox import courses, groups, people, render
from sinks.edusign.sandbox.auth import KeyCheck, school_of
from sinks.edusign.sandbox.endpoint import Call, Endpoint, Op
from sinks.edusign.sandbox.errors import ApiError, invalid
from sinks.edusign.sandbox.fields import Record
from sinks.edusign.sandbox.ids import IdFactory
from sinks.edusign.sandbox.ratelimit import RateLimit, SlowDown, busiest_minute
from sinks.edusign.sandbox.state import School

QUIRKY = Quirks(0)
"""The default: quirky, so that every test stands on the least convenient legal server."""

ENDPOINTS = [
    Endpoint("GET", "/v1/school", lambda call: render.school(call.school, call.quirks)),
    *people.ENDPOINTS,
    *groups.ENDPOINTS,
    *courses.ENDPOINTS,
]


class EdusignSandbox(Recorded):
    """A stateful fake Edusign server; ``add_school`` gives it schools, one per API key.

    ``clock`` (seconds; default ``anyio.current_time``) times arrivals for the rate limit,
    and ``sleep`` (default ``anyio.sleep``) is how a request is slowed down: a test
    injects both (here, or later through the attributes of the same names) to check
    pacing without waiting. ``seed`` makes the ids. ``faults`` is
    consulted in order on every request (see ``Fault``); it may be changed at any time.
    ``quirks`` answers where the contract is silent (see the module's docstring); it may
    be changed at any time too.
    """

    def __init__(
        self,
        clock: Callable[[], float] | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        seed: int = 0,
        keep_requests: int = 10_000,
        quirks: Quirks = QUIRKY,
    ) -> None:
        self.schools: dict[str, School] = {}
        self.faults: list[Fault] = []
        self.quirks = quirks
        self._new_id = IdFactory(seed)
        self._log = RequestLog(limit=keep_requests)
        self._rate = RateLimit(clock or anyio.current_time, sleep or anyio.sleep)
        routes = [
            Route(e.path, _endpoint(e.op, lambda: self.quirks), methods=[e.method])
            for e in ENDPOINTS
        ]
        self.app = Starlette(
            routes=routes,
            middleware=[
                Middleware(Recording, log=self._log, routes=routes),
                Middleware(SlowDown, rate=self._rate),
                Middleware(FaultInjector, faults=lambda: self.faults),
                Middleware(KeyCheck, schools=self.schools),
            ],
        )

    def add_school(self, api_key: str, name: str = "Edusign sandbox school") -> School:
        """A new, empty school, reached with ``api_key``."""
        if api_key in self.schools:
            raise ValueError(f"a school already has the key {api_key!r}")
        school = School(id=self._new_id(), name=name, new_id=self._new_id)
        self.schools[api_key] = school
        return school

    @property
    def clock(self) -> Callable[[], float]:
        """Times arrivals for the rate limit; may be replaced (a test's fake clock)."""
        return self._rate.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._rate.clock = clock

    @property
    def sleep(self) -> Callable[[float], Awaitable[None]]:
        """How the slow-down waits; may be replaced (a test's fake sleep)."""
        return self._rate.sleep

    @sleep.setter
    def sleep(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        self._rate.sleep = sleep

    @property
    def rate_limit_per_minute(self) -> int:
        """Requests a key may make in 60 s before the slow-down (Edusign: 480)."""
        return self._rate.per_minute

    @rate_limit_per_minute.setter
    def rate_limit_per_minute(self, value: int) -> None:
        self._rate.per_minute = value

    @property
    def request_times(self) -> dict[str, list[float]]:
        """Per API key, the ``clock()`` time each request arrived, before any slow-down."""
        return self._rate.times

    @property
    def slowed(self) -> Counter[str]:
        """Per API key, how many requests the slow-down delayed."""
        return self._rate.slowed

    def busiest_minute(self, api_key: str) -> int:
        """The most requests ``api_key`` made in any 60 s: over 480, a client did not pace
        itself."""
        return busiest_minute(self.request_times.get(api_key, []))

    def reset_counts(self) -> None:
        """Forget the calls, requests and slow-downs so far (a test's second phase counts
        afresh). Arrival times stay: they are the server's memory for its rate limit."""
        super().reset_counts()
        self._rate.slowed.clear()


def _endpoint(op: Op, quirks: Callable[[], Quirks]) -> Callable[[Request], Awaitable[Response]]:
    """The HTTP around an operation: its body read, its result or error enveloped."""

    async def endpoint(request: Request) -> Response:
        now = quirks()
        try:
            body = await _body(request)
            school = school_of(request)
            call = Call(school, request.path_params, request.query_params, body, now)
            result = op(call)
        except ApiError as error:
            message = error.said(now)
            return JSONResponse({"status": "error", "message": message}, error.status)
        return JSONResponse({"status": "success", "result": result})

    return endpoint


async def _body(request: Request) -> Record:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise invalid("the body must be JSON") from None
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object")
    return body
