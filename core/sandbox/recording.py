"""What a sandbox was asked: calls counted per route, and the latest requests kept.

Tests assert on it ("one page of students, not thirty", "the ApiCode was sent"), so a
call is counted under its route template (``GET /api/events/{id}``), whatever the id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import parse_qsl

from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send


class RecordedRequest(NamedTuple):
    """One request as received: header names in lower case; a repeated query
    parameter keeps its last value."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class RequestLog:
    """``calls``: "METHOD /route/{template}" -> count. ``requests``: the latest
    ``limit`` requests, most recent last."""

    limit: int = 10_000
    calls: Counter[str] = field(default_factory=Counter)
    requests: list[RecordedRequest] = field(default_factory=list)

    def record(self, scope: Scope, route: str) -> None:
        self.calls[f"{scope['method']} {route}"] += 1
        self.requests.append(
            RecordedRequest(
                method=scope["method"],
                path=scope["path"],
                query=dict(parse_qsl(scope["query_string"].decode("latin-1"))),
                headers={
                    k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
                },
            )
        )
        if len(self.requests) > self.limit:
            del self.requests[0]

    def reset(self) -> None:
        """Forget every call and request (in place: references held stay valid)."""
        self.calls.clear()
        self.requests.clear()


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The template of the route that serves ``scope``; the path itself when none does."""
    for route in routes:
        if isinstance(route, Route) and route.matches(scope)[0] is not Match.NONE:
            return route.path
    path: str = scope["path"]
    return path


class Recorded:
    """What every sandbox shows of what it was asked; it keeps its ``RequestLog`` in
    ``_log``."""

    _log: RequestLog

    @property
    def calls(self) -> Counter[str]:
        """Calls per route template: ``"GET /api/events/{id}" -> n``."""
        return self._log.calls

    @property
    def requests(self) -> list[RecordedRequest]:
        """The latest requests as received (header names in lower case), most recent last."""
        return self._log.requests

    def reset_counts(self) -> None:
        """Forget the calls and requests so far (a test's second phase counts afresh)."""
        self._log.reset()


class Recording:
    """ASGI middleware: records every request under its route template. With
    ``fold_case``, the path is lower-cased first, for servers that ignore its case
    (CELCAT's do), and the app routes the folded path."""

    def __init__(
        self, app: ASGIApp, log: RequestLog, routes: Sequence[BaseRoute], fold_case: bool = False
    ) -> None:
        self.app, self.log, self.routes, self.fold_case = app, log, routes, fold_case

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            routed = {**scope, "path": scope["path"].lower()} if self.fold_case else scope
            self.log.record(scope, route_template(self.routes, routed))  # as sent
            scope = routed
        await self.app(scope, receive, send)
