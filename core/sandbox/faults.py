"""Fault injection for any sandbox's ASGI app: the failures a client must survive.

A ``Fault`` says which requests it hits (method, path pattern), what happens to them (an
error status, a delay, a body cut short or not JSON, a dropped connection) and how often
(the next N, or a seeded probability, so that a failing test replays exactly).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

import anyio
import httpx
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.asgi import DroppedOnPurpose

BodyFault = Literal["truncated", "garbage", "reset", "document"]
_BODY_FAULTS = ("truncated", "garbage", "reset", "document")
GARBAGE = b"<html><body><h1>Proxy Error</h1><p>The server is restarting.</p></body></html>"


class ConnectionDropped(httpx.RemoteProtocolError, DroppedOnPurpose):
    """Raised inside the app by a ``reset`` fault, once the answer has begun.

    Served on a port, the server then closes the connection mid-answer, and httpx raises
    ``RemoteProtocolError``; in process (``httpx.ASGITransport``) this exception reaches
    the client as it is. Being an ``httpx.TransportError`` either way, a client's retry
    logic cannot tell the two apart. ``DroppedOnPurpose`` keeps it out of the server's log.
    """


@dataclass
class Fault:
    """A rule: which requests it hits, what happens to them, how often.

    Matching: ``method`` (None: any) and ``path``, a regular expression searched in the
    request's path, case-insensitively ("" matches every path).

    What happens: first ``delay`` seconds of sleep (``anyio.sleep``); then ``status`` (an
    error answer, with ``Retry-After: retry_after`` when given), or ``body``:
    ``"truncated"`` (the app's real answer, its body cut in half), ``"garbage"`` (200 and
    an HTML page instead of JSON) or ``"reset"`` (the connection dropped mid-answer).
    With neither, the request then proceeds normally: a slow server. Only ``truncated``
    lets the app handle the request.

    How often: ``times`` (the next N matching requests, then never) and ``rate`` (each
    matching request with this probability, drawn from ``random.Random(seed)``); both
    None: every matching request. ``fired`` counts the hits.
    """

    method: str | None = None
    path: str = ""
    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    body: BodyFault | None = None
    document: Any = None
    """With ``body="document"``: this JSON, with a 200 (an API that reports errors in it)."""
    times: int | None = None
    rate: float | None = None
    seed: int = 0
    fired: int = field(default=0, init=False)
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _random: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.status is not None and self.body is not None:
            raise ValueError("a fault answers with a status or a body, not both")
        if self.retry_after is not None and self.status is None:
            raise ValueError("retry_after goes with a status")
        if self.body is not None and self.body not in _BODY_FAULTS:
            raise ValueError(f"body must be one of {_BODY_FAULTS}")
        if self.rate is not None and not 0 <= self.rate <= 1:
            raise ValueError("rate is a probability, between 0 and 1")
        if (self.times is not None and self.times < 0) or self.delay < 0:
            raise ValueError("times and delay cannot be negative")
        self._pattern = re.compile(self.path, re.IGNORECASE)
        self._random = random.Random(self.seed)

    def fires(self, method: str, path: str) -> bool:
        """Whether this fault hits this request, counting the hit."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if not self._pattern.search(path):
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        if self.rate is not None and self._random.random() >= self.rate:
            return False
        self.fired += 1
        return True


class FaultInjector:
    """ASGI middleware: for each request, the first fault in ``faults()`` that fires
    applies (later ones are not consulted, so their counts do not move)."""

    def __init__(self, app: ASGIApp, faults: Callable[[], Iterable[Fault]]) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fault = next((f for f in self.faults() if f.fires(scope["method"], scope["path"])), None)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.delay:
            replay = await _sleep_unless_gone(fault.delay, receive)
            if replay is None:
                return  # the client gave up waiting: nobody to answer
            receive = replay
        if fault.status is not None:
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            phrase = _phrase(fault.status)
            await PlainTextResponse(phrase, fault.status, headers=headers)(scope, receive, send)
        elif fault.body == "document":
            await JSONResponse(fault.document, 200)(scope, receive, send)
        elif fault.body == "garbage":
            await Response(GARBAGE, 200, media_type="text/html")(scope, receive, send)
        elif fault.body == "truncated":
            await _truncated(self.app, scope, receive, send)
        elif fault.body == "reset":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
            raise ConnectionDropped(f"sandbox fault: connection dropped on {scope['path']}")
        else:
            await self.app(scope, receive, send)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _sleep_unless_gone(seconds: float, receive: Receive) -> Receive | None:
    """Sleep like a slow server, but stop when the client disconnects (then None), so that
    a timed-out client leaves no request behind to hold up the server's shutdown.

    The request body is read first, to listen for the disconnect that can only come
    after it; the returned ``receive`` hands the body to the app again."""
    messages: list[Message] = []
    while not messages or messages[-1].get("more_body", False):
        messages.append(await receive())
        if messages[-1]["type"] == "http.disconnect":
            return None
    gone = False
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            nonlocal gone
            gone = (await receive())["type"] == "http.disconnect"
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        await anyio.sleep(seconds)
        tg.cancel_scope.cancel()
    if gone:
        return None

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


async def _truncated(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """The app's answer, with the first half of its body only (Content-Length to match)."""
    start: Message = {}
    body = bytearray()

    async def capture(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, capture)
    cut = bytes(body[: len(body) // 2])
    headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(cut)).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": cut})
