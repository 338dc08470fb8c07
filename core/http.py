"""HTTP plumbing every plugin needs alike: timeouts, TLS, call metering, retries, the
statuses every API means alike, and the bounds no server's answer may break.

A plugin's client is an ``ApiClient``: one exchange (``send``) is paced (``Pacer``) and
bounded, and a failed one (a timeout, a dropped connection) is a ``TransientError``; the
statuses HTTP gives one meaning are read alike for every server (``check``): 401 and 403
refuse the credentials (``CredentialsRefused``, naming the server), 429 and 5xx are worth
another try (``TransientError``, carrying the server's ``Retry-After``); ``retrying`` does
the trying: exponential backoff with jitter, or that ``Retry-After`` (capped). What the
rest means (404, any other 4xx, an envelope) is the plugin's client's to say: the hooks
``refused`` and ``not_json``, and its own reading of the answers ``check`` lets through.
After the last try, the last ``TransientError`` propagates: the caller names the server
unreachable (``ServerUnreachable``) or reports the record.

Bounds, the same for every plugin, so that a hostile or broken server cannot hold a run
forever or fill the memory:

- ``http_client`` gives a ``BoundedClient``: every request has an overall deadline (send
  and the whole answer, ``deadline_seconds``: httpx's timeouts are per read, and a server
  dripping a byte at a time never trips them) and its body is read streaming, up to
  ``max_body_bytes`` and not a byte more.
- ``parse_json`` parses a body without unbounded recursion, and refuses numbers that no
  double holds (``1e400`` would become ``inf``).
- ``PageGuard`` bounds one paged list: its rows, its bytes, and a page that repeats the
  one before (a server ignoring paging).

What breaks a bound raises ``AnswerRefused`` (retrying would get the same answer), or,
for the deadline, ``DeadlineExceeded``, an ``httpx.TimeoutException``: worth a retry, as
any timeout.
"""

from __future__ import annotations

import functools
import json
import math
import re
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, TypeVar

import anyio
import httpx
from loguru import logger
from pydantic import Field, FilePath, SecretStr
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from core.errors import CredentialsRefused, RunFailed, TransientError
from core.options import PluginOptions
from core.protocols import CallMeter

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

MIB = 1024 * 1024
MAX_JSON_DEPTH = 64
"""Deeper than any answer of the APIs spoken here (a CELCAT event with its resources is
four levels): a body nesting deeper is not theirs, and would make every recursive reader
of it (``json`` itself included) a ``RecursionError`` waiting to happen."""
MAX_LIST_ROWS = 500_000
"""Rows of one paged list: five times the largest list of a large university (some
100,000 memberships); each row is a Python object, so this bounds the memory too."""
LIST_BYTES_PER_BODY = 4
"""One paged list may total this many times ``max_body_bytes`` (256 MiB by default)."""


class HttpOptions(PluginOptions):
    """Connection options shared by every plugin that talks HTTP to one server."""

    url: str
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    """The longest wait for each step of a request: connecting (10 s at most), each read,
    each write. Not a bound on the whole request: see ``deadline_seconds``."""
    deadline_seconds: float = Field(120.0, gt=0, le=3600)
    """The longest one request may take, from sending it to the last byte of its answer
    (each try on its own: a retry has its own deadline). A server sending its answer a
    byte at a time, each within ``timeout_seconds``, is cut off here; the request is then
    retried as after any timeout."""
    max_body_bytes: int = Field(64 * MIB, ge=1024, le=1024 * MIB)
    """The largest answer read, decompressed: reading stops past it, and the run fails
    naming the server (a retry would get the same answer). One paged list may total four
    times this. 64 MiB is some 300,000 CELCAT rows in one page, far more than the
    ``page_size`` asked."""
    retries: int = Field(4, ge=0, le=10)
    verify_tls: bool = True
    ca_bundle: FilePath | None = None


@dataclass(frozen=True, slots=True)
class Bounds:
    """What one server's answers may take: see the module's docstring."""

    max_body_bytes: int = 64 * MIB
    deadline_seconds: float = 120.0
    max_list_rows: int = MAX_LIST_ROWS
    max_list_bytes: int = LIST_BYTES_PER_BODY * 64 * MIB
    max_json_depth: int = MAX_JSON_DEPTH

    @classmethod
    def of(cls, options: HttpOptions) -> Bounds:
        return cls(
            max_body_bytes=options.max_body_bytes,
            deadline_seconds=options.deadline_seconds,
            max_list_bytes=LIST_BYTES_PER_BODY * options.max_body_bytes,
        )


class AnswerRefused(Exception):
    """The server's answer broke a bound (too large, nested too deep, a number out of
    range, a list that does not end): another try would get the same. Each client turns
    it into its own failure, naming the server."""


class DeadlineExceeded(httpx.TimeoutException):
    """No complete answer within ``deadline_seconds``: a timeout, retried like any."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``retries`` more tries after the first; waits grow from ``initial`` to ``maximum``."""

    retries: int = 4
    initial: float = 0.5
    maximum: float = 30.0
    longest_retry_after: float = 60.0
    """The longest wait a server's ``Retry-After`` is obeyed for (``999999`` or a date in
    2099 included): a server asking for more gets this, then another try, and a run's
    retries stay within minutes. Longer outages are the run deadline's to end."""


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

    ``monotonic`` is the event loop's clock in seconds (``anyio.current_time``), never a
    date: tests give it a fake one with the fake ``sleep``.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        monotonic: Callable[[], float] = anyio.current_time,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self._interval = 60.0 / per_minute
        self._monotonic = monotonic
        self._sleep = sleep
        self._next_slot = float("-inf")

    async def wait(self) -> None:
        now = self._monotonic()
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


class ApiClient:
    """One server's API as every plugin's client speaks it: subclass it, and keep in the
    subclass only what the API means by its own answers.

    - ``send``: one exchange, paced by ``pacer`` when given; a timeout (the deadline
      included) or a dropped connection is a ``TransientError``, an answer breaking a
      bound is ``answer_refused``'s error. No status is read.
    - ``check``: 401 and 403 (``credential_statuses``) are ``CredentialsRefused`` naming
      ``service``, ``tenant`` and the ``credentials`` refused; 429 and 5xx a
      ``TransientError`` with the server's ``Retry-After``; any other 4xx is the hook
      ``refused``'s to name (the default lets it through: the caller knows what its API
      means by it).
    - ``request``: ``send`` then ``check``; ``json``: a body parsed within bounds;
      ``get_json``: all of it for a GET, retried; ``retrying``: any call, tried again
      after each ``TransientError`` as ``retry`` says, the last one propagating.

    No error text is read for its meaning here: a body is only quoted, by the hooks.
    """

    credential_statuses: ClassVar[frozenset[int]] = frozenset({401, 403})
    """The statuses refusing the credentials: HTTP's own, unless the API says otherwise
    (a subclass names where its own list is documented)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        service: str,
        tenant: str,
        credentials: str,
        retry: RetryPolicy,
        sleep: Sleep = anyio.sleep,
        pacer: Pacer | None = None,
    ) -> None:
        self.http = http
        self.service = service
        """The server's name in every error (``RunFailed.service``): ``"CELCAT"``."""
        self.tenant = tenant
        self.credentials = credentials
        """What a 401 or 403 refuses, as a person calls it: ``"the API key"``."""
        self.retry = retry
        self.sleep = sleep
        self.pacer = pacer

    @property
    def bounds(self) -> Bounds:
        return bounds_of(self.http)

    async def retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """``core.http.retrying`` with this client's policy and sleep."""
        return await retrying(call, self.retry, sleep=self.sleep)

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One exchange (``kwargs`` as ``httpx.AsyncClient.request`` takes them); its
        answer whatever its status."""
        if self.pacer is not None:
            await self.pacer.wait()  # every try waits: a retry spends the budget too
        try:
            return await self.http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise transient(f"{method} {url}", exc) from None
        except AnswerRefused as exc:
            raise self.answer_refused(f"{method} {url}", exc) from None

    def check(self, request: str, response: httpx.Response) -> httpx.Response:
        """The answer, unless its status means the same from every server (or ``refused``
        names it): then the error it means."""
        status = response.status_code
        if status in self.credential_statuses:
            raise CredentialsRefused(
                self.service,
                f"{self.service} refused {self.credentials} of tenant {self.tenant!r} "
                f"(HTTP {status})",
            )
        if status == httpx.codes.TOO_MANY_REQUESTS or status >= 500:
            raise TransientError(
                f"{request}: HTTP {status}",
                retry_after=retry_after(response.headers.get("Retry-After")),
            )
        if status >= 400:
            error = self.refused(request, response)
            if error is not None:
                raise error
        return response

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """``send``, then ``check``: one try."""
        return self.check(f"{method} {url}", await self.send(method, url, **kwargs))

    def json(self, request: str, response: httpx.Response) -> Any:
        """The answer's body, parsed within bounds (``parse_json``)."""
        try:
            return parse_json(response.content)
        except AnswerRefused as exc:
            raise self.answer_refused(request, exc) from None
        except ValueError:
            raise self.not_json(request, response) from None

    async def get_json(self, url: str, **kwargs: Any) -> Any:
        """The parsed body of a GET, tried again while the failure is transient."""

        async def attempt() -> Any:
            return self.json(f"GET {url}", await self.request("GET", url, **kwargs))

        return await self.retrying(attempt)

    # Hooks: what differs from one API to the next.

    def refused(self, request: str, response: httpx.Response) -> Exception | None:
        """The error a 4xx (other than 401, 403 and 429) means; None lets the answer
        through to the caller. By default, every one goes through."""
        return None

    def answer_refused(self, request: str, exc: AnswerRefused) -> Exception:
        """The error an answer breaking a bound is: no retry would mend it."""
        return RunFailed(self.service, f"{request}: {exc}")

    def not_json(self, request: str, response: httpx.Response) -> Exception:
        """The error a body that is not JSON is: a proxy's page, a body cut short, a
        restart; by default worth another try."""
        return TransientError(f"{request}: HTTP {response.status_code}, the body is not JSON")


def http_client(
    options: HttpOptions,
    *,
    service: str,
    tenant: str,
    meter: CallMeter,
    headers: dict[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> BoundedClient:
    """An ``httpx.AsyncClient`` for one tenant's server: every request counted under
    ``service``, a timeout on every phase, a deadline on the whole, a cap on the body,
    certificates verified unless told otherwise."""

    async def count(request: httpx.Request) -> None:
        meter(service)

    if not options.verify_tls:
        logger.bind(tenant=tenant).warning(
            "{}: TLS certificate verification is OFF for {} (verify_tls = false)",
            service,
            options.url,
        )
    return BoundedClient(
        bounds=Bounds.of(options),
        base_url=options.url.rstrip("/"),
        headers=headers,
        timeout=httpx.Timeout(options.timeout_seconds, connect=min(10.0, options.timeout_seconds)),
        verify=_tls(options),
        transport=transport,
        event_hooks={"request": [count]},
        follow_redirects=False,
    )


_HEADER_SAFE = re.compile(r"[\x20-\x7e]*")


def header_secret(secret: SecretStr | None) -> SecretStr | None:
    """A secret sent in an HTTP header, checked when the configuration is read: httpx
    sends header values as ASCII, so a letter like ``é`` would fail every request (and a
    line break would split the header). The message never quotes the value."""
    if secret is not None and not _HEADER_SAFE.fullmatch(secret.get_secret_value()):
        raise ValueError(
            "must be printable ASCII (no accented letter, no line break): it is sent in an "
            "HTTP header; check the value or the file it is read from"
        )
    return secret


class BoundedClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` whose every request (``get``, ``request``... all go
    through ``send``) is read within ``bounds``: streamed, stopped past
    ``max_body_bytes`` (``AnswerRefused``), and cut off at ``deadline_seconds``
    (``DeadlineExceeded``). The answer comes back read, as httpx gives it by default."""

    def __init__(self, *, bounds: Bounds, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bounds = bounds

    async def send(
        self, request: httpx.Request, *, stream: bool = False, **kwargs: Any
    ) -> httpx.Response:
        if stream:  # the caller reads it, and bounds it, itself
            return await super().send(request, stream=True, **kwargs)
        deadline = self.bounds.deadline_seconds
        try:
            with anyio.fail_after(deadline):
                response = await super().send(request, stream=True, **kwargs)
                try:
                    body = await _read_capped(response, self.bounds.max_body_bytes)
                finally:
                    # Closing drops the connection if the body was not read to its end;
                    # shielded so that the deadline's cancellation cannot skip it.
                    with anyio.move_on_after(5, shield=True):
                        await response.aclose()
        except TimeoutError:
            raise DeadlineExceeded(
                f"no complete answer within {deadline:g} s (deadline_seconds)", request=request
            ) from None
        return _buffered(response, body)


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    """The decoded body, read chunk by chunk; ``AnswerRefused`` as soon as it passes
    ``cap`` (or when ``Content-Length`` says it will), so at most a chunk more is held."""
    declared = response.headers.get("Content-Length", "")
    encoded = response.headers.get("Content-Encoding", "identity").strip().lower()
    if declared.isdigit() and encoded == "identity" and int(declared) > cap:
        raise AnswerRefused(_too_large(cap))
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > cap:
            raise AnswerRefused(_too_large(cap))
    return bytes(body)


def _too_large(cap: int) -> str:
    return f"the answer is larger than {cap:,} bytes (max_body_bytes)"


_FRAMING = {b"content-encoding", b"content-length", b"transfer-encoding"}


def _buffered(response: httpx.Response, body: bytes) -> httpx.Response:
    """The answer with its body in memory, decoded: its headers less those that framed the
    bytes on the wire (httpx would otherwise decode the body a second time)."""
    headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _FRAMING]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=body,
        request=response.request,
        extensions={k: v for k, v in response.extensions.items() if k != "network_stream"},
    )


def bounds_of(http: httpx.AsyncClient) -> Bounds:
    """The bounds of a client from ``http_client``; the defaults for any other (a test's)."""
    return http.bounds if isinstance(http, BoundedClient) else Bounds()


def transient(request: str, exc: httpx.TransportError) -> TransientError:
    """The ``TransientError`` a failed exchange is (a timeout, the deadline, a dropped
    connection): named by its kind, never by its text, which may quote a URL."""
    if isinstance(exc, DeadlineExceeded):
        return TransientError(f"{request}: {exc}")
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(f"{request}: timed out")
    return TransientError(f"{request}: {type(exc).__name__}")


def parse_json(content: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A JSON body, parsed within bounds: ``AnswerRefused`` for one nesting deeper than
    ``max_depth`` or holding a number no double holds (``1e400``, ``NaN``); ``ValueError``
    for one that is not JSON at all (cut short, a proxy's page)."""
    try:
        value = json.loads(content, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        # The C parser recurses once per level, and stops cleanly at the interpreter's
        # recursion limit: deeper than any bound, so refused like any too-deep body.
        raise AnswerRefused(_too_deep(max_depth)) from None
    _check_depth(value, max_depth)
    return value


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise AnswerRefused(f"the answer holds a number out of range ({text[:20]})")
    return number


def _no_constant(text: str) -> float:
    raise AnswerRefused(f"the answer holds {text}, which is not a JSON number")


def _too_deep(max_depth: int) -> str:
    return f"the answer nests deeper than {max_depth} levels"


def _check_depth(value: Any, max_depth: int) -> None:
    """Walks the containers without recursion: the answer may be deep, this stack not."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue  # a scalar answer: only containers are ever pushed
        if depth > max_depth:
            raise AnswerRefused(_too_deep(max_depth))
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))


class PageGuard:
    """The bounds of one paged list, page after page: at most ``bounds.max_list_rows``
    rows and ``bounds.max_list_bytes`` bytes in all, and no page equal to the one before
    (a server ignoring ``page`` serves the same page forever). What breaks one raises
    ``AnswerRefused``: a list cut short would read as "the rest is gone", so its reader
    must fail rather than stop."""

    def __init__(self, what: str, bounds: Bounds) -> None:
        self._what = what
        self._bounds = bounds
        self._pages = self._rows = self._bytes = 0
        self._previous: list[Any] | None = None

    def page(self, rows: list[Any], size: int) -> None:
        """Counts one page: its rows as parsed, ``size`` its body's bytes."""
        self._pages += 1
        self._rows += len(rows)
        self._bytes += size
        if rows and rows == self._previous:
            raise AnswerRefused(
                f"{self._what}: page {self._pages} is the page before it again "
                "(the server ignores paging)"
            )
        if self._rows > self._bounds.max_list_rows:
            raise AnswerRefused(
                f"{self._what}: more than {self._bounds.max_list_rows:,} rows in one list"
            )
        if self._bytes > self._bounds.max_list_bytes:
            raise AnswerRefused(
                f"{self._what}: more than {self._bounds.max_list_bytes:,} bytes in one list"
            )
        self._previous = rows


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
