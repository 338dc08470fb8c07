"""An async client for the CELCAT Web API: auth, timetable selection, paging, retries.

What the answers mean is decided here: 401/403 refuse the tenant's credentials (never
retried); 404 on a list is "no rows"; 429, 5xx, timeouts, dropped connections and
unreadable bodies are worth another try. Field names live in ``mapping``.
"""

from __future__ import annotations

from typing import Any

import httpx

from adapters.celcat import mapping
from core import CredentialsRefused, TransientError
from core.http import RetryPolicy, Sleep, retry_after, retrying


class CelcatError(Exception):
    """CELCAT answered, but not with what was asked for (a 4xx other than auth and 404)."""


class CelcatClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        tenant: str,
        retry: RetryPolicy,
        page_size: int,
        sleep: Sleep,
    ) -> None:
        self._http = http
        self._tenant = tenant
        self._retry = retry
        self._page_size = page_size
        self._sleep = sleep

    async def rows(
        self, path: str, *, timetable: int | None = None, params: dict[str, str] | None = None
    ) -> list[Any]:
        """Every row of a list, all pages. A 404 is an empty list."""
        collected: list[Any] = []
        page = 0
        while True:
            query = {
                **(params or {}),
                mapping.PAGE: str(page),
                mapping.PAGE_SIZE: str(self._page_size),
            }
            answer = await self._get(path, timetable, query)
            if answer is None:
                return collected
            rows, headers = answer
            if not isinstance(rows, list):
                raise CelcatError(f"GET {path}: expected a JSON list")
            collected += rows
            pages = mapping.total_pages(headers.get(mapping.PAGINATION_HEADER))
            # Without a readable Pagination header, a short page is the last one.
            last = page + 1 >= pages if pages is not None else len(rows) < self._page_size
            if last or not rows:
                return collected
            page += 1

    async def _get(
        self, path: str, timetable: int | None, params: dict[str, str]
    ) -> tuple[Any, httpx.Headers] | None:
        """The decoded body and the headers of a GET, or None for a 404."""
        headers = {mapping.TIMETABLE_HEADER: str(timetable)} if timetable is not None else {}

        async def attempt() -> tuple[Any, httpx.Headers] | None:
            try:
                response = await self._http.get(path, params=params, headers=headers)
            except httpx.TimeoutException:
                raise TransientError(f"GET {path}: timed out") from None
            except httpx.TransportError as exc:
                raise TransientError(f"GET {path}: {type(exc).__name__}") from None
            self._raise_for(path, response)
            if response.status_code == httpx.codes.NOT_FOUND:
                return None
            try:
                return response.json(), response.headers
            except ValueError:
                # A body cut short or not JSON at all: a proxy, a restart; try again.
                raise TransientError(f"GET {path}: the body is not JSON") from None

        return await retrying(attempt, self._retry, sleep=self._sleep)

    def _raise_for(self, path: str, response: httpx.Response) -> None:
        status = response.status_code
        if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
            raise CredentialsRefused(
                "CELCAT", f"CELCAT refused the ApiCode of tenant {self._tenant!r} (HTTP {status})"
            )
        if status == httpx.codes.TOO_MANY_REQUESTS or status >= 500:
            raise TransientError(
                f"GET {path}: HTTP {status}",
                retry_after=retry_after(response.headers.get("Retry-After")),
            )
        if status >= 400 and status != httpx.codes.NOT_FOUND:
            raise CelcatError(f"GET {path}: HTTP {status}: {response.text[:200]}")
