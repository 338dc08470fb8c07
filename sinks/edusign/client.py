"""An async client for Edusign's external API v1: auth, the envelope, pacing, retries.

HTTP's own statuses mean what ``core.http.ApiClient`` says for every server: 401 and 403
refuse the API key (the run fails); 429, 5xx, timeouts, dropped connections and
unreadable bodies are retried, honouring ``Retry-After``. Every other answer's envelope
is read, HTTP 200 included (Edusign reports errors with 200), and any ``status: error``
is an ``EdusignError``. An answer that is not Edusign's (a 404 or any JSON
without the envelope: the tenant's ``url`` is wrong), one breaking ``core.http``'s bounds
(too large, too deep, a list that does not end), or one naming an id that is no id
(``1e400``) fails the run: no record is to blame, and nothing of it is stored.

Only the messages docs/edusign-v1.md quotes are told apart by their words
(``AlreadyExists``, ``NotFound``; see ``mapping``); for the rest, what a refusal means is
decided by the call that got it: ``find_id`` and ``find_by_email`` read any refusal as
"unknown", the only business error those calls have. Every request, retry included, waits
for the API key's ``Pacer`` first, so a tenant never outruns its rate budget.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from core import PasserelleError, RunFailed
from core.http import AnswerRefused, ApiClient, Pacer, PageGuard, RetryPolicy, Sleep
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


class EdusignClient(ApiClient):
    """Edusign's API v1 for one tenant's API key, paced by that key's ``Pacer``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        tenant: str,
        retry: RetryPolicy,
        pacer: Pacer,
        sleep: Sleep,
    ) -> None:
        super().__init__(
            http,
            service=SERVICE,
            tenant=tenant,
            credentials="the API key",
            retry=retry,
            sleep=sleep,
            pacer=pacer,
        )

    async def call(
        self, method: str, url: str, *, json: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        """The ``result`` of a request, retried while transient."""

        async def attempt() -> Any:
            return await self._once(method, url, json=json, params=params)

        return await self.retrying(attempt)

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
            return _id(f"POST {mapping.path(kind)}", created)

        return await self.retrying(attempt)

    async def find_id(self, kind: mapping.Kind, api_id: str) -> str | None:
        """The Edusign id behind ``api_id``, None when unknown. get-id's only business
        error is "unknown", in words the docs do not fix: any refusal means unknown."""
        try:
            result = await self._once("GET", mapping.path(kind, "get-id", api_id))
        except EdusignError:
            return None
        found = result.get(mapping.GET_ID_KEY) if isinstance(result, dict) else None
        return _id(f"GET {mapping.path(kind, 'get-id')}", found) if found else None

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
        guard = PageGuard(f"GET {mapping.path(kind)}", self.bounds)
        for page in range(mapping.MAX_PAGES):
            query = {**params, "page": str(page)}
            if kind == "student":
                query["limit"] = str(size)
            rows = await self.call("GET", mapping.path(kind), params=query)
            if not isinstance(rows, list):
                raise EdusignError(f"GET {mapping.path(kind)}", "expected a list")
            try:
                # The size of the rows as parsed stands for the body's: ``call`` gives
                # the envelope's result alone.
                guard.page(rows, len(json.dumps(rows)))
            except AnswerRefused as exc:
                raise RunFailed(SERVICE, str(exc)) from None
            for row in rows:
                if isinstance(row, dict):
                    yield row
            if full is None:
                full = len(rows)  # the server's page size, as its first page shows it
            if not rows or len(rows) < full:
                return
        # A list cut short would read as "the rest is gone": no record is to blame either.
        raise RunFailed(
            SERVICE, f"GET {mapping.path(kind)}: still listing after {mapping.MAX_PAGES} pages"
        )

    async def _once(
        self, method: str, url: str, *, json: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        request = f"{method} {url}"
        response = await self.request(method, url, json=json, params=params)
        envelope = self._envelope(request, response)
        if envelope.get(mapping.STATUS) != mapping.SUCCESS:
            raise _refusal(request, envelope)
        result = envelope.get(mapping.RESULT)
        _check_ids(request, result)
        return result

    def _envelope(self, request: str, response: httpx.Response) -> dict[str, Any]:
        """The answer's envelope; ``RunFailed`` when the answer is not Edusign's."""
        envelope = self.json(request, response)
        if not mapping.is_envelope(envelope):
            raise self._not_edusign(request, response.status_code)
        return dict(envelope)

    def not_json(self, request: str, response: httpx.Response) -> Exception:
        if response.status_code == httpx.codes.NOT_FOUND:
            # A plain "Not Found" (or a web page) is a route the server does not have,
            # not an object it lacks (that answer is an envelope): the url is wrong, and
            # every call of the run would get it. Never a record's fault.
            return self._not_edusign(request, response.status_code)
        return super().not_json(request, response)

    def _not_edusign(self, request: str, status: int) -> RunFailed:
        return RunFailed(
            SERVICE,
            f"{request}: HTTP {status}, and not an answer of Edusign's API (no status "
            f"envelope): is the url of tenant {self.tenant!r} right? It should be "
            "Edusign's base, without /v1",
        )


def _id(request: str, value: Any) -> str:
    """An id Edusign answered, as the text stored; ``RunFailed`` for one that is no id."""
    checked = mapping.edusign_id(value)
    if checked is None:
        raise RunFailed(SERVICE, f"{request}: the answer's id {_quoted(value)} is not an id")
    return checked


def _check_ids(request: str, result: Any) -> None:
    """Every id in a result (a record's, a creation's, get-id's, each listed record's) is
    one before anything reads it: ``1e400`` must not become ``"inf"`` in the store."""
    records = result if isinstance(result, list) else [result]
    for record in records:
        if not isinstance(record, dict):
            continue
        for key in (mapping.RESULT_ID, mapping.GET_ID_KEY):
            value = record.get(key)
            if value is not None and value != "":
                _id(request, value)


def _quoted(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:40]}..."


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
