"""The CAWS (CELCAT Attendance Web Services) HTTP client: a password-grant token,
renewed before it expires and once more on a 401; what each answer means.

HTTP's own statuses mean what ``core.http.ApiClient`` says for every server (401 and 403
refuse the credentials; 429, 5xx, timeouts, dropped connections and unreadable bodies are
tried again, honouring ``Retry-After``); CAWS's are read here, from the statuses
``mapping`` names (docs/caws.md says which are seen, which assumed): a 401 first renews
the token once, a 404 is ``CawsNotFound``, any other 4xx a ``CelcatError`` quoting the
body. No error text is ever read for its meaning (CAWS documents none).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from adapters.celcat import mapping
from adapters.celcat.client import CelcatError
from core import CredentialsRefused
from core.http import ApiClient, RetryPolicy, Sleep

SERVICE = "CAWS"
RENEW_BEFORE_SECONDS = 60.0


class CawsNotFound(Exception):
    """No such register."""


class CawsClient(ApiClient):
    """CAWS calls with a bearer token. ``monotonic`` is the event loop's clock in seconds
    (``anyio.current_time``), which the token's lifetime is counted on."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        tenant: str,
        form: dict[str, str],
        retry: RetryPolicy,
        sleep: Sleep,
        monotonic: Callable[[], float],
    ) -> None:
        super().__init__(
            http,
            service=SERVICE,
            tenant=tenant,
            credentials="the credentials",
            retry=retry,
            sleep=sleep,
        )
        self._form = form
        self._monotonic = monotonic
        self._token: str | None = None
        self._expires = 0.0

    @property
    def username(self) -> str:
        return self._form["username"]

    async def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """The decoded JSON answer of a GET."""

        async def attempt() -> Any:
            return self.json(f"GET {path}", await self._authorized("GET", path, params=params))

        return await self.retrying(attempt)

    async def put(self, path: str, body: Any) -> None:
        """A PUT whose answer's body, if any, is not read: the contract describes none."""

        async def attempt() -> None:
            await self._authorized("PUT", path, json=body)

        await self.retrying(attempt)

    async def _authorized(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call with the token; raises unless it succeeded."""
        response = await self._with_token(method, path, **kwargs)
        if response.status_code == mapping.CAWS_UNAUTHORIZED:
            # Expired early, revoked, or a lifetime we had to guess: one new token, then
            # the server's answer stands.
            self._token = None
            response = await self._with_token(method, path, **kwargs)
        return self.check(f"{method} {path}", response)

    async def _with_token(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = mapping.bearer(await self._bearer())
        return await self.send(method, path, headers=headers, **kwargs)

    async def _bearer(self) -> str:
        if self._token is None or self._monotonic() >= self._expires - RENEW_BEFORE_SECONDS:
            request = f"POST {mapping.CAWS_TOKEN}"
            response = await self.send("POST", mapping.CAWS_TOKEN, data=self._form)
            if response.status_code in mapping.CAWS_TOKEN_REFUSED:
                # 400 included: OAuth 2's answer to a grant it refuses.
                raise CredentialsRefused(
                    SERVICE,
                    f"CAWS refused the credentials of tenant {self.tenant!r} "
                    f"(HTTP {response.status_code})",
                )
            if response.status_code == mapping.CAWS_NOT_FOUND:
                # No token here: a wrong caws_url, never a register missing.
                raise _error(request, response)
            answer = self.json(request, self.check(request, response))
            token = mapping.access_token(answer)
            if token is None:
                raise CelcatError(f"{request}: the answer holds no access token")
            self._token = token
            self._expires = self._monotonic() + mapping.token_lifetime(answer)
        return self._token

    def refused(self, request: str, response: httpx.Response) -> Exception | None:
        if response.status_code == mapping.CAWS_NOT_FOUND:
            return CawsNotFound(request)
        return _error(request, response)


def _error(request: str, response: httpx.Response) -> CelcatError:
    # The body is quoted for a person, never matched: CAWS documents no error text.
    return CelcatError(f"{request}: HTTP {response.status_code}: {response.text[:200]}")
