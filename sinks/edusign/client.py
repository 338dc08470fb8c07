"""An async client for Edusign's external API v1: auth, the envelope, pacing, retries.

Every answer's envelope is read, HTTP 200 included (Edusign reports errors with 200).
What it means becomes a typed error: refused credentials fail the run; 429, 5xx,
timeouts, dropped connections and unreadable bodies are retried; any other ``status:
error`` is an ``EdusignError``. Only the messages docs/edusign-v1.md quotes are told apart
by their words (``AlreadyExists``, ``NotFound``; see ``mapping``); for the rest, what a
refusal means is decided by the call that got it: ``find_id`` and ``find_by_email`` read
any refusal as "unknown", the only business error those calls have. Every request, retry
included, waits for the API key's ``Pacer`` first, so a tenant never outruns its rate
budget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from core import CredentialsRefused, PasserelleError, TransientError
from core.http import Pacer, RetryPolicy, Sleep, retry_after, retrying
from sinks.edusign import mapping

SERVICE = "Edusign"


class EdusignError(PasserelleError):
    """Edusign refused the request; ``message`` is what it said."""

    def __init__(self, request: str, message: str) -> None:
        self.message = message
        super().__init__(f"{request}: {message}")


class AlreadyExists(EdusignError):
    """One of the quoted "exists already" answers: a professor's email, a student on a
    sheet, a sheet locked."""


class NotFound(EdusignError):
    """The quoted "no such course" answer of ``GET /v1/course/{id}``."""


class EdusignClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        tenant: str,
        retry: RetryPolicy,
        pacer: Pacer,
        sleep: Sleep,
    ) -> None:
        self._http = http
        self._tenant = tenant
        self._retry = retry
        self._pacer = pacer
        self._sleep = sleep

    async def call(
        self, method: str, url: str, *, json: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        """The ``result`` of a request, retried while transient."""

        async def attempt() -> Any:
            return await self._once(method, url, json=json, params=params)

        return await retrying(attempt, self._retry, sleep=self._sleep)

    async def create(self, kind: mapping.Kind, body: dict[str, Any], api_id: str) -> str:
        """Create, and return the new id. A create that may have reached Edusign before
        failing is looked up by ``api_id`` before it is tried again: never twice."""
        tried = False

        async def attempt() -> str:
            nonlocal tried
            if tried:
                found = await self.find_id(kind, api_id)
                if found is not None:
                    return found
            tried = True
            result = await self._once("POST", mapping.path(kind), json=body)
            created = result.get(mapping.RESULT_ID) if isinstance(result, dict) else None
            if not created:
                raise EdusignError(f"POST {mapping.path(kind)}", "the answer holds no ID")
            return str(created)

        return await retrying(attempt, self._retry, sleep=self._sleep)

    async def find_id(self, kind: mapping.Kind, api_id: str) -> str | None:
        """The Edusign id behind ``api_id``, None when unknown. get-id's only business
        error is "unknown", in words the docs do not fix: any refusal means unknown."""
        try:
            result = await self._once("GET", mapping.path(kind, "get-id", api_id))
        except EdusignError:
            return None
        found = result.get(mapping.GET_ID_KEY) if isinstance(result, dict) else None
        return str(found) if found else None

    async def find_by_email(self, kind: mapping.Kind, email: str) -> dict[str, Any] | None:
        """The student or professor holding ``email`` (archived ones too), None when
        unknown: like get-id, by-email's only business error is "unknown"."""
        try:
            found = await self.call("GET", mapping.path(kind, "by-email", quote(email, safe="")))
        except EdusignError:
            return None
        return found if isinstance(found, dict) else None

    async def pages(
        self, kind: mapping.Kind, size: int, params: dict[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paged list, in no promised order.

        Courses (``size`` 40) and professors (100) come that many a page, as documented:
        a shorter page is the last. Students come at most ``size`` (our ``limit``) a page,
        maybe fewer: an empty page, or one shorter than the first, is the last. A course
        range (``start``, ``end``) wider than Edusign lists at once is read in slices.
        """
        for query in _ranges(kind, params or {}):
            async for row in self._paged(kind, size, query):
                yield row

    async def _paged(
        self, kind: mapping.Kind, size: int, params: dict[str, str]
    ) -> AsyncIterator[dict[str, Any]]:
        full = size if kind in mapping.CONTRACTED_PAGE else None
        for page in range(mapping.MAX_PAGES):
            query = {**params, "page": str(page)}
            if kind == "student":
                query["limit"] = str(size)
            rows = await self.call("GET", mapping.path(kind), params=query)
            if not isinstance(rows, list):
                raise EdusignError(f"GET {mapping.path(kind)}", "expected a list")
            for row in rows:
                if isinstance(row, dict):
                    yield row
            if full is None:
                full = len(rows)  # the server's page size, as its first page shows it
            if not rows or len(rows) < full:
                return
        raise EdusignError(
            f"GET {mapping.path(kind)}", f"still listing after {mapping.MAX_PAGES} pages"
        )

    async def _once(
        self, method: str, url: str, *, json: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        await self._pacer.wait()
        request = f"{method} {url}"
        try:
            response = await self._http.request(method, url, json=json, params=params)
        except httpx.TimeoutException:
            raise TransientError(f"{request}: timed out") from None
        except httpx.TransportError as exc:
            raise TransientError(f"{request}: {type(exc).__name__}") from None
        status = response.status_code
        if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
            raise CredentialsRefused(
                SERVICE, f"Edusign refused the API key of tenant {self._tenant!r} (HTTP {status})"
            )
        if status == httpx.codes.TOO_MANY_REQUESTS or status >= 500:
            raise TransientError(
                f"{request}: HTTP {status}",
                retry_after=retry_after(response.headers.get("Retry-After")),
            )
        try:
            envelope = response.json()
        except ValueError:
            if status == httpx.codes.NOT_FOUND:
                # A plain "Not Found" is a route the server does not have, not an object it
                # lacks (that answer is an envelope): never a reason to forget or recreate.
                raise EdusignError(request, f"HTTP 404: {response.text[:200]}") from None
            raise TransientError(f"{request}: HTTP {status}, the body is not JSON") from None
        if not isinstance(envelope, dict) or envelope.get(mapping.STATUS) != mapping.SUCCESS:
            raise _refusal(request, envelope)
        return envelope.get(mapping.RESULT)


def _refusal(request: str, envelope: Any) -> EdusignError:
    message = envelope.get(mapping.MESSAGE) if isinstance(envelope, dict) else envelope
    text = "; ".join(map(str, message)) if isinstance(message, list) else str(message)
    if any(mapping.said(text, quoted) for quoted in mapping.ALREADY_EXISTS):
        return AlreadyExists(request, text)
    if any(mapping.said(text, quoted) for quoted in mapping.NOT_FOUND):
        return NotFound(request, text)
    return EdusignError(request, text)


def _ranges(kind: mapping.Kind, params: dict[str, str]) -> list[dict[str, str]]:
    """``params`` as one listing each, a course range cut into slices Edusign accepts
    (each at most ``mapping.COURSE_RANGE`` of elapsed time: a range from midnight to
    midnight 90 days later is an hour longer across the autumn clock change). Slices
    share their bounds, so a course starting on one is listed twice: harmless, a list
    is read into an index."""
    start, end = params.get("start"), params.get("end")
    if kind != "course" or start is None or end is None:
        return [params]
    first, last = datetime.fromisoformat(start), datetime.fromisoformat(end)
    slices = []
    while True:
        cut = min(last, first + mapping.COURSE_RANGE)
        slices.append({**params, "start": first.isoformat(), "end": cut.isoformat()})
        if cut >= last:
            return slices
        first = cut
