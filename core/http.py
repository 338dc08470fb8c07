"""HTTP plumbing every plugin needs alike: timeouts, TLS, call metering, and retries.

A plugin's client decides what an answer *means* (its API's statuses and envelopes) and
raises ``TransientError`` for what is worth another try; ``retrying`` does the trying:
exponential backoff with jitter, or the server's ``Retry-After`` when it gave one.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import anyio
import httpx
from loguru import logger
from pydantic import Field, FilePath
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from core.errors import TransientError
from core.options import PluginOptions
from core.protocols import CallMeter

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class HttpOptions(PluginOptions):
    """Connection options shared by every plugin that talks HTTP to one server."""

    url: str
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    retries: int = Field(4, ge=0, le=10)
    verify_tls: bool = True
    ca_bundle: FilePath | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``retries`` more tries after the first; waits grow from ``initial`` to ``maximum``."""

    retries: int = 4
    initial: float = 0.5
    maximum: float = 30.0
    longest_retry_after: float = 300.0


async def retrying(
    call: Callable[[], Awaitable[T]], policy: RetryPolicy, *, sleep: Sleep = anyio.sleep
) -> T:
    """Await ``call()``, again after each ``TransientError`` while tries remain; then the
    last ``TransientError`` propagates."""
    backoff = wait_exponential_jitter(multiplier=policy.initial, max=policy.maximum)

    def wait(state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, TransientError) and failure.retry_after is not None:
            return min(max(failure.retry_after, 0.0), policy.longest_retry_after)
        return float(backoff(state))

    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(policy.retries + 1),
        wait=wait,
        retry=retry_if_exception_type(TransientError),
        reraise=True,
        sleep=sleep,
    ):
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity either returns or reraises")  # pragma: no cover


class Pacer:
    """Spaces the requests to one server evenly, so that no 60-second window ever holds
    more than ``per_minute`` + 1 of them.

    Each caller is given the next free slot and sleeps until it; nothing is held while
    sleeping, so callers overlap in flight and only their starts are paced. No burst is
    allowed: a token bucket with room for a burst would let up to twice the budget into
    one window, and a server that slows down past its budget would then slow us down.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = anyio.current_time,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self._interval = 60.0 / per_minute
        self._clock = clock
        self._sleep = sleep
        self._next_slot = float("-inf")

    async def wait(self) -> None:
        now = self._clock()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval
        if slot > now:
            await self._sleep(slot - now)


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def http_client(
    options: HttpOptions,
    *,
    service: str,
    tenant: str,
    meter: CallMeter,
    headers: dict[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for one tenant's server: every request counted under
    ``service``, a timeout on every phase, certificates verified unless told otherwise."""

    async def count(request: httpx.Request) -> None:
        meter(service)

    if not options.verify_tls:
        logger.bind(tenant=tenant).warning(
            "{}: TLS certificate verification is OFF for {} (verify_tls = false)",
            service,
            options.url,
        )
    return httpx.AsyncClient(
        base_url=options.url.rstrip("/"),
        headers=headers,
        timeout=httpx.Timeout(options.timeout_seconds, connect=min(10.0, options.timeout_seconds)),
        verify=_tls(options),
        transport=transport,
        event_hooks={"request": [count]},
        follow_redirects=False,
    )


def _tls(options: HttpOptions) -> ssl.SSLContext:
    bundle = options.ca_bundle if options.verify_tls else None
    if bundle is None:
        return _tls_context(options.verify_tls, None, 0)
    return _tls_context(True, str(bundle), bundle.stat().st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _tls_context(verify: bool, ca_bundle: str | None, _version: int) -> ssl.SSLContext:
    """A TLS context per setting (and per version of a CA bundle file), shared by every
    client: building one reads a whole CA bundle (some 17 ms of CPU, see ``bench.micro``),
    and each run of each tenant opens a client per server."""
    if ca_bundle is not None:
        return ssl.create_default_context(cafile=ca_bundle)
    return httpx.create_ssl_context(verify=verify)
