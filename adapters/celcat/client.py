"""An async client for the CELCAT Web API: auth, timetable selection, paging, retries.

What HTTP's own statuses mean is ``core.http.ApiClient``'s, as for every server: 401 and
403 refuse the ApiCode (never retried); 429, 5xx, timeouts, dropped connections and
unreadable bodies are worth another try. What CELCAT's mean is decided here, from the
statuses ``mapping`` names: 404 on a filtered list is "no rows", on the first page of a
list read without a filter (``mapping.WHOLE_LISTS``) an error naming the URL that
answered it; any other 4xx, and an answer breaking one of ``core.http``'s bounds (too
large, too deep, a list repeating its pages or too long), is a ``CelcatError``: no retry
would mend it.
No error text is ever read for its meaning (none is documented): it is only quoted, for
a person. Field and header names live in ``mapping``;
docs/celcat-webapi.md says which are seen, which assumed.
"""

from __future__ import annotations

from typing import Any

import httpx

from adapters.celcat import mapping
from core.http import AnswerRefused, ApiClient, PageGuard, RetryPolicy, Sleep

MAX_PAGES = 10_000
"""The most pages one list may take. The largest list (memberships of a large
university, some 100,000 rows) fits in 2,000 pages even from a server serving 50 rows a
page; a server still sending rows after this many pages is not ending its list, and
would otherwise hold the run forever."""


class CelcatError(Exception):
    """CELCAT answered, but not with what was asked for (a 4xx other than auth and 404)."""


class CelcatClient(ApiClient):
    """The CELCAT Web API of one tenant: lists, read whole, page by page."""

    credential_statuses = mapping.CREDENTIALS_REFUSED

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        tenant: str,
        retry: RetryPolicy,
        page_size: int,
        sleep: Sleep,
    ) -> None:
        super().__init__(
            http,
            service="CELCAT",
            tenant=tenant,
            credentials="the ApiCode",
            retry=retry,
            sleep=sleep,
        )
        self._page_size = page_size

    async def rows(
        self, path: str, *, timetable: int | None = None, params: dict[str, str] | None = None
    ) -> list[Any]:
        """Every row of a list, all pages, in the server's order. A 404 is an empty list,
        but on the first page of a list asked without a filter (``mapping.WHOLE_LISTS``,
        no ``params``): that is a wrong URL, and fails the call (``CelcatError``).

        The end of a list is where the ``Pagination`` header's ``TotalPages`` says; on a
        page without the header, it is an empty page or a 404. A page shorter than the
        ``pageSize`` asked proves nothing: a server may serve fewer rows than asked
        (docs/celcat-webapi.md, "Paging")."""
        collected: list[Any] = []
        total: int | None = None
        guard = PageGuard(f"GET {path}", self.bounds)
        for page in range(MAX_PAGES):
            query = {
                **(params or {}),
                mapping.PAGE: str(page),
                mapping.PAGE_SIZE: str(self._page_size),
            }
            whole = page == 0 and not params and path in mapping.WHOLE_LISTS
            answer = await self._get(path, timetable, query, missing_is_error=whole)
            if answer is None:
                return collected
            rows, headers, size = answer
            if not isinstance(rows, list):
                raise CelcatError(f"GET {path}: expected a JSON list")
            if not rows:
                return collected
            try:
                guard.page(rows, size)
            except AnswerRefused as exc:
                raise CelcatError(str(exc)) from None
            collected += rows
            stated = mapping.total_pages(headers.get(mapping.PAGINATION_HEADER))
            # A page without the header leaves what an earlier page said.
            total = total if stated is None else stated
            if total is not None and total > MAX_PAGES:
                # Promised more pages than are ever read: fail now, not after reading them.
                raise CelcatError(f"GET {path}: {total:,} pages announced, more than {MAX_PAGES}")
            if total is not None and page + 1 >= total:
                return collected
        # Stopping short would read as "the rest is gone", and delete sheets: fail instead.
        raise CelcatError(f"GET {path}: still not at the end after {MAX_PAGES} pages")

    async def _get(
        self,
        path: str,
        timetable: int | None,
        params: dict[str, str],
        *,
        missing_is_error: bool = False,
    ) -> tuple[Any, httpx.Headers, int] | None:
        """The decoded body, the headers and the body's size of a GET, or None for a 404
        (unless ``missing_is_error``). ``timetable`` None sends no ``TimetableId``: only
        ``GET /api/timetables`` may do without it."""
        headers = {mapping.TIMETABLE_HEADER: str(timetable)} if timetable is not None else {}

        async def attempt() -> tuple[Any, httpx.Headers, int] | None:
            response = await self.request("GET", path, params=params, headers=headers)
            if response.status_code == mapping.NO_ROWS:
                if missing_is_error:
                    raise CelcatError(
                        f"GET {response.request.url.path}: HTTP 404 on a list read without a "
                        "filter, which never answers 404 for being empty: is the tenant's "
                        "CELCAT url right?"
                    )
                return None
            return self.json(f"GET {path}", response), response.headers, len(response.content)

        return await self.retrying(attempt)

    def refused(self, request: str, response: httpx.Response) -> Exception | None:
        if response.status_code == mapping.NO_ROWS:
            return None  # what it means depends on the list: ``_get`` says
        # The body is quoted for a person, never matched: no error text is documented.
        return CelcatError(f"{request}: HTTP {response.status_code}: {response.text[:200]}")

    def answer_refused(self, request: str, exc: AnswerRefused) -> Exception:
        return CelcatError(f"{request}: {exc}")
