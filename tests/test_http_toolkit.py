"""One HTTP toolkit for every plugin's client (issue 16, finding 4).

The same table of server answers (a timeout, a dropped connection, 429 with and without
``Retry-After``, 500, 502, 503, 401, 403) is put to each client: each must raise the same
error class after the same waits. A client that translates an answer its own way again
fails here, whichever it is. Then ``core.http.ApiClient`` itself: its hooks, and what it
leaves to the plugin's client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from adapters.celcat import mapping as celcat_mapping
from adapters.celcat.caws_client import CawsClient
from adapters.celcat.client import CelcatClient, CelcatError
from core.errors import CredentialsRefused, RunFailed, TransientError
from core.http import ApiClient, HttpOptions, Pacer, RetryPolicy, http_client
from sinks.edusign.client import EdusignClient
from tests.test_http import FakeSleep

pytestmark = pytest.mark.anyio

RETRIES = 2
POLICY = RetryPolicy(retries=RETRIES, initial=1.0, maximum=60.0)
Handler = Callable[[httpx.Request], httpx.Response]


def bounded(handler: Handler) -> httpx.AsyncClient:
    options = HttpOptions.model_validate({"url": "http://server"})
    transport = httpx.MockTransport(handler)
    return http_client(
        options, service="test", tenant="acme", meter=lambda _: None, transport=transport
    )


# The clients, each asked for one thing the simplest way its API offers.


@dataclass(frozen=True)
class Speaker:
    service: str
    ask: Callable[[httpx.AsyncClient, FakeSleep], Awaitable[Any]]

    def __str__(self) -> str:
        return self.service


async def ask_celcat(http: httpx.AsyncClient, sleep: FakeSleep) -> Any:
    client = CelcatClient(http, tenant="acme", retry=POLICY, page_size=40, sleep=sleep)
    return await client.rows("/api/rooms", timetable=1)


async def ask_caws(http: httpx.AsyncClient, sleep: FakeSleep) -> Any:
    client = CawsClient(
        http,
        tenant="acme",
        form={"username": "u", "password": "p"},
        retry=POLICY,
        sleep=sleep,
        monotonic=lambda: 0.0,
    )
    return await client.get("/Registers")


async def ask_edusign(http: httpx.AsyncClient, sleep: FakeSleep) -> Any:
    # Its own sleep: the pacing of each try is not the retry behaviour compared here.
    pacer = Pacer(60_000, monotonic=lambda: 0.0, sleep=FakeSleep())
    client = EdusignClient(http, tenant="acme", retry=POLICY, pacer=pacer, sleep=sleep)
    return await client.call("GET", "/v1/course")


SPEAKERS = [
    Speaker("CELCAT", ask_celcat),
    Speaker("CAWS", ask_caws),
    Speaker("Edusign", ask_edusign),
]


# The table: what the server does, and what every client must make of it.


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def dropped(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def status(code: int, **headers: str) -> Handler:
    return lambda request: httpx.Response(code, headers=headers, text="no")


BACKOFF = "backoff"
"""Waits growing from ``POLICY.initial`` (1 s, then 2 s, each plus up to 1 s of jitter)."""


@dataclass(frozen=True)
class Answer:
    name: str
    handler: Handler
    error: type[Exception]
    waits: str | list[float]

    def __str__(self) -> str:
        return self.name


TABLE = [
    Answer("timeout", timeout, TransientError, BACKOFF),
    Answer("connection error", dropped, TransientError, BACKOFF),
    Answer("429 Retry-After 7", status(429, **{"Retry-After": "7"}), TransientError, [7.0, 7.0]),
    Answer("429", status(429), TransientError, BACKOFF),
    Answer("500", status(500), TransientError, BACKOFF),
    Answer("502", status(502), TransientError, BACKOFF),
    Answer("503 Retry-After 3", status(503, **{"Retry-After": "3"}), TransientError, [3.0, 3.0]),
    Answer("503", status(503), TransientError, BACKOFF),
    Answer("401", status(401), CredentialsRefused, []),
    Answer("403", status(403), CredentialsRefused, []),
]


def server(answer: Answer) -> Handler:
    """Answers every call as the table says; CAWS's token is granted (its refusal is
    CAWS's own: see ``test_a_caws_token_refused_...``)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == celcat_mapping.CAWS_TOKEN:
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return answer.handler(request)

    return handle


@pytest.mark.parametrize("answer", TABLE, ids=str)
@pytest.mark.parametrize("speaker", SPEAKERS, ids=str)
async def test_every_client_reads_http_s_own_answers_alike(
    speaker: Speaker, answer: Answer
) -> None:
    sleep = FakeSleep()
    async with bounded(server(answer)) as http:
        with pytest.raises(answer.error) as raised:
            await speaker.ask(http, sleep)
    assert type(raised.value) is answer.error, raised.value
    if isinstance(raised.value, CredentialsRefused):
        assert raised.value.service == speaker.service
        assert f"tenant 'acme' (HTTP {answer.name})" in str(raised.value)
    if answer.waits == BACKOFF:
        assert len(sleep.waits) == RETRIES, sleep.waits
        for wait, base in zip(sleep.waits, (1.0, 2.0), strict=True):
            assert base <= wait <= base + 1.0, sleep.waits
    else:
        assert sleep.waits == answer.waits


@pytest.mark.parametrize("speaker", SPEAKERS, ids=str)
async def test_a_server_back_after_a_429_is_read(speaker: Speaker) -> None:
    """The 429's ``Retry-After`` is waited for, then the next try's answer stands."""
    bodies: dict[str, Any] = {
        "CELCAT": [],
        "CAWS": [],
        "Edusign": {"status": "success", "result": []},
    }
    answers = [httpx.Response(429, headers={"Retry-After": "7"})]

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == celcat_mapping.CAWS_TOKEN:
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return answers.pop(0) if answers else httpx.Response(200, json=bodies[speaker.service])

    sleep = FakeSleep()
    async with bounded(handle) as http:
        assert await speaker.ask(http, sleep) == []
    assert sleep.waits == [7.0]


# What stays each API's own.


async def test_a_caws_token_refused_with_400_is_credentials_refused() -> None:
    """OAuth 2 refuses a grant with a 400: for the token call only, CAWS's own status."""
    async with bounded(lambda request: httpx.Response(400, text="invalid_grant")) as http:
        with pytest.raises(CredentialsRefused, match="CAWS refused the credentials"):
            await ask_caws(http, FakeSleep())


async def test_a_404_on_the_caws_token_is_an_error_not_an_empty_list() -> None:
    """A 404 on a register list reads as "none"; on the token, it is a wrong caws_url."""
    async with bounded(lambda request: httpx.Response(404, text="Not Found")) as http:
        with pytest.raises(CelcatError, match="POST /token: HTTP 404"):
            await ask_caws(http, FakeSleep())


async def test_a_caws_401_renews_the_token_once_then_refuses() -> None:
    tokens = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal tokens
        if request.url.path == celcat_mapping.CAWS_TOKEN:
            tokens += 1
            return httpx.Response(200, json={"access_token": f"t{tokens}", "expires_in": 3600})
        if request.headers["Authorization"] == "Bearer t1":
            return httpx.Response(401)
        return httpx.Response(200, json=[{"Id": 1}])

    async with bounded(handle) as http:
        assert await ask_caws(http, FakeSleep()) == [{"Id": 1}]
    assert tokens == 2


class Plain(ApiClient):
    """The toolkit with none of its hooks overridden."""


def plain(http: httpx.AsyncClient, sleep: FakeSleep | None = None) -> Plain:
    return Plain(
        http,
        service="Thing",
        tenant="acme",
        credentials="the token",
        retry=POLICY,
        sleep=sleep or FakeSleep(),
    )


async def test_the_toolkit_leaves_other_4xx_to_the_caller() -> None:
    async with bounded(lambda request: httpx.Response(404, json={"error": "none"})) as http:
        response = await plain(http).request("GET", "/things/1")
    assert response.status_code == 404


async def test_the_toolkit_names_the_service_and_what_it_refused() -> None:
    async with bounded(lambda request: httpx.Response(403)) as http:
        with pytest.raises(CredentialsRefused) as refused:
            await plain(http).get_json("/things")
    assert str(refused.value) == "Thing: Thing refused the token of tenant 'acme' (HTTP 403)"


async def test_the_toolkit_tries_a_body_that_is_not_json_again() -> None:
    answers = [httpx.Response(200, text="<html>proxy</html>"), httpx.Response(200, json=[1])]
    sleep = FakeSleep()
    async with bounded(lambda request: answers.pop(0)) as http:
        assert await plain(http, sleep).get_json("/things") == [1]
    assert len(sleep.waits) == 1


async def test_an_answer_past_a_bound_fails_the_run_naming_the_service() -> None:
    deep = "[" * 100 + "]" * 100
    async with bounded(lambda request: httpx.Response(200, text=deep)) as http:
        with pytest.raises(RunFailed, match="Thing: GET /things: the answer nests deeper"):
            await plain(http).get_json("/things")


async def test_every_try_waits_for_the_pacer() -> None:
    """A retry spends the rate budget too: each try is paced, not only the first."""
    sleep = FakeSleep()
    now = [0.0]
    pacer = Pacer(60, monotonic=lambda: now[0], sleep=sleep)  # one a second
    client = Plain(
        bounded(status(503)),
        service="Thing",
        tenant="acme",
        credentials="the token",
        retry=RetryPolicy(retries=1),
        sleep=sleep,
        pacer=pacer,
    )
    async with client.http:
        with pytest.raises(TransientError):
            await client.get_json("/things")
    # The first try at once; the backoff wait, then the pacer's wait for its slot (the
    # fake clock stood still, so the whole second is still to wait).
    assert len(sleep.waits) == 2
    assert sleep.waits[1] == 1.0
