"""Edusign's rate limit: 480 requests a minute per key, past which the server *delays*
each request (+100 ms, growing) rather than refusing it.

A client that does not pace itself is therefore not told so: it just gets slower. The
sandbox makes that visible to tests: every arrival time is kept per key (before any
delay, so a test can check a client's own pacing), and each slowed request is counted.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

from sinks.edusign.sandbox.auth import api_key

WINDOW = 60.0  # seconds
PER_MINUTE = 480
STEP = 0.1  # seconds of delay per request over the limit


@dataclass
class RateLimit:
    """Per key: ``times`` the ``clock()`` of each arrival (in order), ``slowed`` how many
    requests were delayed. ``per_minute`` may change at any time."""

    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]
    per_minute: int = PER_MINUTE
    times: dict[str, list[float]] = field(default_factory=dict)
    slowed: Counter[str] = field(default_factory=Counter)

    async def arrive(self, key: str) -> None:
        """Record an arrival; when it is the n-th over the limit in the last 60 s, sleep
        n times 100 ms before letting it through."""
        now = self.clock()
        arrivals = self.times.setdefault(key, [])
        arrivals.append(now)
        over = len(arrivals) - bisect_right(arrivals, now - WINDOW) - self.per_minute
        if over > 0:
            self.slowed[key] += 1
            await self.sleep(STEP * over)


def busiest_minute(times: list[float]) -> int:
    """The most arrivals of ``times`` (in order) in any 60 s window ``(t - 60, t]``."""
    return max(
        (i + 1 - bisect_right(times, t - WINDOW, 0, i + 1) for i, t in enumerate(times)),
        default=0,
    )


class SlowDown:
    """ASGI middleware: every request carrying a bearer key (a known one or not) goes
    through ``rate.arrive`` first."""

    def __init__(self, app: ASGIApp, rate: RateLimit) -> None:
        self.app, self.rate = app, rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = api_key(scope) if scope["type"] == "http" else None
        if key is not None:
            await self.rate.arrive(key)
        await self.app(scope, receive, send)
