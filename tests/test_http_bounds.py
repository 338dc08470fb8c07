"""Bounds on what a server may send (issue 15, points 2 and 10).

A hostile or broken server (CELCAT, CAWS or Edusign) must not hold a run forever nor
fill the memory: every answer is read streaming up to ``max_body_bytes``, within an
overall ``deadline_seconds``; JSON is parsed without unbounded recursion; a paged list is
bounded in pages, rows and bytes, and one whose page repeats is refused; ``Retry-After``
is capped. An answer that is not Edusign's (a wrong ``url``) fails the run naming the
server; an id that is no id is never stored; a secret that cannot go in a header is
refused with the configuration.

Small limits throughout (a 1 MiB cap, a 2 s deadline); no test sleeps: a server that
would answer forever is a bounded generator, counted, and the bound is asserted by the
error raised and by how much was pulled, never by timing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import httpx
import pytest
from anyio.abc import SocketStream
from pydantic import ValidationError

import adapters.celcat.client as celcat_client
import core.http
from adapters.celcat.caws_client import CawsClient
from adapters.celcat.client import CelcatClient, CelcatError
from adapters.celcat.plugin import CelcatOptions
from core import Seams, Setup
from core.errors import ObjectFailed, RunFailed, TransientError
from core.http import HttpOptions, Pacer, RetryPolicy, http_client
from core.state import StateStore
from sinks.edusign import mapping
from sinks.edusign.client import EdusignClient
from sinks.edusign.plugin import EdusignOptions, open_sink
from tests.doubles import context, instructor, session
from tests.test_http import FakeSleep

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
Handler = Callable[[httpx.Request], httpx.Response]


def options(**extra: Any) -> HttpOptions:
    """Small limits: a 1 MiB cap, a 2 s deadline."""
    return HttpOptions.model_validate(
        {"url": "http://server", "max_body_bytes": MIB, "deadline_seconds": 2, **extra}
    )


def bounded(handler: Handler, **extra: Any) -> httpx.AsyncClient:
    return http_client(
        options(**extra),
        service="test",
        tenant="acme",
        meter=lambda _: None,
        transport=httpx.MockTransport(handler),
    )


def celcat(http: httpx.AsyncClient, sleep: FakeSleep | None = None) -> CelcatClient:
    return CelcatClient(
        http, tenant="acme", retry=RetryPolicy(retries=0), page_size=40, sleep=sleep or FakeSleep()
    )


def edusign(http: httpx.AsyncClient) -> EdusignClient:
    sleep = FakeSleep()
    return EdusignClient(
        http,
        tenant="acme",
        retry=RetryPolicy(retries=0),
        pacer=Pacer(60_000, monotonic=lambda: 0.0, sleep=sleep),
        sleep=sleep,
    )


class Endless:
    """A body that would go on forever (here: ``limit`` bytes at most, to keep a failing
    test finite), counting what was pulled from it."""

    def __init__(self, limit: int = 16 * MIB, chunk: int = 64 * 1024) -> None:
        self.limit = limit
        self.chunk = chunk
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"["
        while self.pulled < self.limit:
            self.pulled += self.chunk
            yield b"1," * (self.chunk // 2)


# The body: a cap while streaming, whatever the server says or does not say.


@pytest.mark.parametrize("declared", [True, False])
async def test_a_body_past_the_cap_is_refused_while_streaming(declared: bool) -> None:
    """A 400 MB body, or an endless stream: reading stops past 1 MiB."""
    body = Endless()
    headers = {"Content-Length": str(400 * 1000 * 1000)} if declared else {}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, content=body)

    async with bounded(handler) as http:
        with pytest.raises(CelcatError, match="larger than 1,048,576 bytes"):
            await celcat(http).rows("/api/rooms", timetable=1)
    assert body.pulled <= MIB + body.chunk, "nothing read past the cap but the last chunk"


async def test_a_body_past_the_cap_fails_an_edusign_run_naming_edusign() -> None:
    body = Endless()

    async with bounded(lambda request: httpx.Response(200, content=body)) as http:
        with pytest.raises(RunFailed, match="Edusign: GET /v1/school: the answer is larger"):
            await edusign(http).call("GET", mapping.SCHOOL)
    assert body.pulled <= MIB + body.chunk


async def test_a_body_within_the_cap_is_read_whole() -> None:
    rows = [{"id": i, "name": "x" * 100} for i in range(5000)]  # some 600 KB

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return httpx.Response(200, json=rows if page == 0 else [])

    async with bounded(handler) as http:
        assert await celcat(http).rows("/api/rooms", timetable=1) == rows


# The deadline: a server dripping its answer cannot outlast it.


@pytest.mark.slow  # a real server, a real deadline
async def test_a_dripping_answer_is_cut_off_at_the_deadline() -> None:
    """One byte every 0.2 s: each read is well within ``timeout_seconds`` (5 s), so only
    an overall deadline (2 s) ends the request. A real server on loopback, since the
    deadline is real time; the outer scope only keeps a failing test finite."""

    async def drip(client: SocketStream) -> None:
        async with client:
            await client.receive()
            await client.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
            while True:
                await client.send(b" ")
                await anyio.sleep(0.2)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, drip)
        http = http_client(
            HttpOptions.model_validate(
                {"url": f"http://127.0.0.1:{port}", "timeout_seconds": 5, "deadline_seconds": 2}
            ),
            service="test",
            tenant="acme",
            meter=lambda _: None,
        )
        async with http:
            with anyio.fail_after(60):  # never reached unless the deadline is missing
                with pytest.raises(TransientError, match="no complete answer within 2 s"):
                    await celcat(http).rows("/api/rooms", timetable=1)
        tg.cancel_scope.cancel()


# JSON: no unbounded recursion, no number out of range.


@pytest.mark.parametrize("depth", [100, 100_000])
async def test_deeply_nested_json_is_a_clear_error_not_a_recursion_error(depth: int) -> None:
    nested = b"[" * depth + b"]" * depth

    async with bounded(lambda request: httpx.Response(200, content=nested)) as http:
        with pytest.raises(CelcatError, match="nests deeper than 64 levels"):
            await celcat(http).rows("/api/rooms", timetable=1)
        with pytest.raises(RunFailed, match="Edusign: GET /v1/school: the answer nests deeper"):
            await edusign(http).call("GET", mapping.SCHOOL)


def test_json_as_deep_as_the_apis_is_parsed() -> None:
    parse_json = core.http.parse_json  # not imported by name: the module is what is tested
    assert parse_json(b'[{"a": [{"b": [1, 2.5, "x"]}]}]') == [{"a": [{"b": [1, 2.5, "x"]}]}]
    assert parse_json("[" * 64 + "]" * 64) is not None


# Paged lists: a page count, a row and byte total, a page repeating the one before.


async def test_a_celcat_list_announcing_a_billion_pages_is_refused_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(celcat_client, "MAX_PAGES", 50)  # keeps the old code's failure short
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        calls.append(page)
        headers = {"Pagination": '{"TotalPages": 1000000000}'}
        return httpx.Response(200, headers=headers, json=[{"id": page}])

    async with bounded(handler) as http:
        with pytest.raises(CelcatError, match="1,000,000,000 pages announced"):
            await celcat(http).rows("/api/rooms", timetable=1)
    assert calls == [0]


async def test_a_celcat_server_ignoring_paging_is_refused_on_the_repeated_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(celcat_client, "MAX_PAGES", 50)
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(int(request.url.params["page"]))
        return httpx.Response(200, json=[{"id": 1}, {"id": 2}])

    async with bounded(handler) as http:
        with pytest.raises(CelcatError, match="page 2 is the page before it again"):
            await celcat(http).rows("/api/rooms", timetable=1)
    assert calls == [0, 1]


async def test_a_celcat_list_past_its_byte_total_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Distinct pages of some 300 KB, forever: a list totals four times the 1 MiB cap."""
    monkeypatch.setattr(celcat_client, "MAX_PAGES", 50)
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        calls.append(page)
        return httpx.Response(200, json=[{"id": page, "name": "x" * 300_000}])

    async with bounded(handler) as http:
        with pytest.raises(CelcatError, match="bytes in one list"):
            await celcat(http).rows("/api/rooms", timetable=1)
    assert len(calls) <= 15


async def test_a_large_tenant_s_memberships_still_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """100,000 membership rows, 1,000 a page, with the default bounds."""
    rows = [{"studentId": i, "groupId": i % 997} for i in range(100_000)]

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return httpx.Response(200, json=rows[page * 1000 : (page + 1) * 1000])

    http = http_client(
        HttpOptions.model_validate({"url": "http://server"}),
        service="test",
        tenant="acme",
        meter=lambda _: None,
        transport=httpx.MockTransport(handler),
    )
    async with http:
        assert len(await celcat(http).rows("/api/memberships", timetable=1)) == 100_000


async def test_edusign_endless_pages_fail_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Full pages of 40 distinct courses of some 10 KB each, forever."""
    monkeypatch.setattr(mapping, "MAX_PAGES", 50)
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        calls.append(page)
        rows = [{"ID": f"c{page}x{n}", "NAME": "x" * 10_000} for n in range(40)]
        return httpx.Response(200, json={"status": "success", "result": rows})

    async with bounded(handler) as http:
        with pytest.raises(RunFailed, match=r"Edusign: GET /v1/course: more than .* bytes"):
            _ = [row async for row in edusign(http).pages("course", 40)]
    assert len(calls) <= 15


async def test_edusign_distinct_pages_past_max_pages_fail_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mapping, "MAX_PAGES", 5)
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        calls.append(page)
        rows = [{"ID": f"c{page}x{n}"} for n in range(40)]
        return httpx.Response(200, json={"status": "success", "result": rows})

    async with bounded(handler) as http:
        with pytest.raises(RunFailed, match="Edusign: GET /v1/course: still listing after 5"):
            _ = [row async for row in edusign(http).pages("course", 40)]
    assert calls == [0, 1, 2, 3, 4]


async def test_edusign_repeating_pages_fail_the_run() -> None:
    same = {"status": "success", "result": [{"ID": f"a{n}"} for n in range(40)]}

    async with bounded(lambda request: httpx.Response(200, json=same)) as http:
        with pytest.raises(RunFailed, match="page 2 is the page before it again"):
            _ = [row async for row in edusign(http).pages("course", 40)]


# Retry-After: obeyed, within a small bound.


@pytest.mark.parametrize("header", ["999999", "Thu, 01 Jan 2099 00:00:00 GMT"])
async def test_retry_after_is_capped_to_a_minute(header: str) -> None:
    answers = [httpx.Response(429, headers={"Retry-After": header}), httpx.Response(200, json=[])]
    sleep = FakeSleep()

    async with bounded(lambda request: answers.pop(0)) as http:
        client = CelcatClient(
            http, tenant="acme", retry=RetryPolicy(retries=1), page_size=40, sleep=sleep
        )
        assert await client.rows("/api/rooms", timetable=1) == []
    assert sleep.waits == [60.0]


async def test_caws_obeys_retry_after() -> None:
    answers = [
        httpx.Response(200, json={"access_token": "t", "expires_in": 3600}),
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(200, json=[]),
    ]
    sleep = FakeSleep()

    async with bounded(lambda request: answers.pop(0)) as http:
        caws = CawsClient(
            http,
            tenant="acme",
            form={"username": "u", "password": "p"},
            retry=RetryPolicy(retries=1),
            sleep=sleep,
            monotonic=lambda: 0.0,
        )
        assert await caws.get("/api/registers") == []
    assert sleep.waits == [7.0]


# A wrong Edusign url: the run fails naming Edusign, no record is blamed.


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, "Not Found"),
        (404, "<html><body><h1>404</h1>Page not found</body></html>"),
        (404, '{"error": "no route"}'),
        (200, '{"page": "welcome"}'),
    ],
)
async def test_an_answer_that_is_not_edusign_s_fails_the_run(status: int, body: str) -> None:
    async with bounded(lambda request: httpx.Response(status, text=body)) as http:
        with pytest.raises(RunFailed, match=r"Edusign: .*is the url of tenant 'acme' right"):
            await edusign(http).call("GET", mapping.path("course", "get-id", "x"))
        with pytest.raises(RunFailed, match="is the url of tenant 'acme' right"):
            await edusign(http).find_id("student", "celcat:student:1")


async def test_a_wrong_edusign_url_fails_the_sheet_s_run_not_the_sheet(
    memory_store: StateStore,
) -> None:
    """The report's 216 ``write_refused`` ("fix the data in CELCAT"): now ``RunFailed``."""
    settings = EdusignOptions.model_validate({"url": "http://edusign/api", "api_key": "k"})
    transport = httpx.MockTransport(lambda request: httpx.Response(404, text="Not Found"))
    ctx = context(memory_store)
    sheet = session(1, instructors=[instructor(7)])
    seams = Seams(transports={"edusign": transport}, sleep=FakeSleep())
    async with open_sink(Setup("acme", ZoneInfo("Europe/Paris"), settings, seams=seams)) as sink:
        with pytest.raises(RunFailed, match="Edusign") as failed:
            await sink.write(sheet, ctx)
    assert not isinstance(failed.value, ObjectFailed)


async def test_an_edusign_envelope_404_is_still_a_refusal_of_the_record() -> None:
    """A 404 carrying the envelope is Edusign speaking about one object."""
    refusal = {"status": "error", "message": "No course with this ID found"}

    async with bounded(lambda request: httpx.Response(404, json=refusal)) as http:
        with pytest.raises(Exception, match="No course with this ID found") as refused:
            await edusign(http).call("GET", mapping.path("course", "abc"))
    assert not isinstance(refused.value, RunFailed)


# Ids: validated before anything stores them.


@pytest.mark.parametrize("answered", [b"1e400", b"12.5", b"true", b'"../x"', b"[1]", b'"a b"'])
async def test_an_edusign_id_that_is_no_id_is_never_returned(answered: bytes) -> None:
    created = b'{"status": "success", "result": {"ID": ' + answered + b"}}"
    got_id = b'{"status": "success", "result": {"id": ' + answered + b"}}"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=created if request.method == "POST" else got_id)

    async with bounded(handler) as http:
        client = edusign(http)
        with pytest.raises(RunFailed, match="Edusign: POST /v1/student"):
            await client.create("student", {"student": {}}, "celcat:student:1")
        with pytest.raises(RunFailed, match="Edusign: GET /v1/student/get-id"):
            await client.find_id("student", "celcat:student:1")


async def test_a_listed_record_whose_id_is_no_id_fails_the_listing() -> None:
    page = b'{"status": "success", "result": [{"ID": "abc"}, {"ID": 1e400}]}'

    async with bounded(lambda request: httpx.Response(200, content=page)) as http:
        with pytest.raises(RunFailed, match="Edusign: GET /v1/course"):
            _ = [row async for row in edusign(http).pages("course", 40)]


def test_edusign_ids_as_stored() -> None:
    assert mapping.edusign_id("abcdef0123456789") == "abcdef0123456789"
    assert mapping.edusign_id(42) == "42"
    wrong: object
    for wrong in (float("inf"), 1.5, True, None, "", "a/b", "x" * 65, [], {}):
        assert mapping.edusign_id(wrong) is None


# A secret that cannot be sent in a header is refused with the configuration.


@pytest.mark.parametrize("secret", ["Sé\\cret-Code-2024", "line\nbreak", "tab\there"])
def test_a_secret_that_cannot_go_in_a_header_is_refused_naming_the_key(secret: str) -> None:
    for schema, key in ((CelcatOptions, "api_code"), (EdusignOptions, "api_key")):
        with pytest.raises(ValidationError) as refused:
            schema.model_validate({"url": "http://server", key: secret})
        errors = refused.value.errors(include_input=False, include_url=False)
        assert [error["loc"] for error in errors] == [(key,)]
        assert "HTTP header" in errors[0]["msg"]
        assert secret not in errors[0]["msg"]


def test_a_pagination_header_nested_deep_is_no_recursion_error() -> None:
    """The ``Pagination`` header is JSON too: parsed within the same bounds."""
    from adapters.celcat import mapping as celcat_mapping

    assert celcat_mapping.total_pages("[" * 100_000) is None
    assert celcat_mapping.total_pages('{"TotalPages": 1e400}') is None
    assert celcat_mapping.total_pages('{"TotalPages": 3}') == 3
