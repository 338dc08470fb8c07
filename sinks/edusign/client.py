"""An async client for Edusign's external API v1: auth, the envelope, pacing, retries.

Every answer's envelope is read, HTTP 200 included (Edusign reports errors with 200).
What it means becomes a typed error: refused credentials fail the run; "exists already"
and "not found" are answers the sink acts on; 429, 5xx, timeouts, dropped connections and
unreadable bodies are retried. Every request, retry included, waits for the API key's
``Pacer`` first, so a tenant never outruns its rate budget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

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
    """The object exists already (a professor's email, a student on a sheet...)."""


class NotFound(EdusignError):
    """No such object (any more)."""


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
            return str(result[mapping.RESULT_ID])

        return await retrying(attempt, self._retry, sleep=self._sleep)

    async def find_id(self, kind: mapping.Kind, api_id: str) -> str | None:
        try:
            result = await self._once("GET", mapping.path(kind, "get-id", api_id))
        except NotFound:
            return None
        found = result.get(mapping.GET_ID_KEY) if isinstance(result, dict) else None
        return str(found) if found else None

    async def pages(
        self, kind: mapping.Kind, size: int, params: dict[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paged list; a short page is the last one [seen]."""
        page = 0
        while True:
            query = {**(params or {}), "page": str(page)}
            if kind == "student":
                query["limit"] = str(size)
            rows = await self.call("GET", mapping.path(kind), params=query)
            if not isinstance(rows, list):
                raise EdusignError(f"GET {mapping.path(kind)}", "expected a list")
            for row in rows:
                if isinstance(row, dict):
                    yield row
            if len(rows) < size:
                return
            page += 1

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
                raise NotFound(request, response.text[:200]) from None
            raise TransientError(f"{request}: HTTP {status}, the body is not JSON") from None
        if not isinstance(envelope, dict) or envelope.get(mapping.STATUS) != mapping.SUCCESS:
            raise _refusal(request, envelope)
        return envelope.get(mapping.RESULT)


def _refusal(request: str, envelope: Any) -> EdusignError:
    message = envelope.get(mapping.MESSAGE) if isinstance(envelope, dict) else envelope
    text = "; ".join(map(str, message)) if isinstance(message, list) else str(message)
    folded = text.casefold()
    if any(marker in folded for marker in mapping.ALREADY_EXISTS):
        return AlreadyExists(request, text)
    if mapping.NOT_FOUND_PATTERN.match(folded) or any(m in folded for m in mapping.NOT_FOUND):
        return NotFound(request, text)
    return EdusignError(request, text)
