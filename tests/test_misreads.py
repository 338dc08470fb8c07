"""Misreads fail, they never delete (issue 14, point 2).

A CELCAT answer that reads as "nothing" (a ``url`` one folder off, so that every list
answers 404; events whose fields are renamed) must fail the run, not delete every sheet;
a session the source could not read keeps its sheet while the others are synced as usual.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from adapters.celcat.client import CelcatClient, CelcatError
from core.errors import RunFailed
from core.http import RetryPolicy
from tests.test_http import FakeSleep
from tests.test_sync_command import NOW, Servers, servers
from tests.worlds import World, world

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # the passerelle command, whole syncs

__all__ = ["servers", "world"]  # fixtures used here


def deletions(servers: Servers) -> int:
    return sum(n for k, n in servers.edusign.calls.items() if k.startswith("DELETE"))


def move_celcat_url(servers: Servers, folder: str) -> None:
    """The tenant's CELCAT ``url`` one folder off: every path answers 404."""
    text = servers.config.read_text()
    celcat = text.index("[tenants.acme.celcat]")
    start = text.index('url = "', celcat) + len('url = "')
    end = text.index('"', start)
    servers.config.write_text(text[:end] + folder + text[end:])


async def test_a_celcat_url_one_folder_off_fails_the_run_and_deletes_nothing(
    servers: Servers,
) -> None:
    code, output = await servers.run("sync", "acme", *NOW)
    assert code == 0, output
    sheets = len(servers.edusign.schools[next(iter(servers.edusign.schools))].courses)
    assert sheets > 0
    move_celcat_url(servers, "/WebApi")

    code, output = await servers.run("sync", "acme", *NOW)
    assert code == 3, output
    assert "/WebApi/api/timetables" in output, "the message names the path that answered 404"
    assert deletions(servers) == 0
    assert len(servers.edusign.schools[next(iter(servers.edusign.schools))].courses) == sheets

    code, output = await servers.run("check", "acme")
    assert code == 3, output
    assert "/WebApi/api/timetables" in output
    assert "event categories" not in output


async def test_events_whose_fields_are_renamed_fail_the_run_and_delete_nothing(
    servers: Servers,
) -> None:
    code, output = await servers.run("sync", "acme", *NOW)
    assert code == 0, output
    for timetable in servers.celcat.institution.timetables.values():
        for event in timetable.events.values():
            event.omitted |= {"start", "end"}
            event.overrides |= {"startDateTime": "2025-10-21T09:00", "endDateTime": "x"}

    code, output = await servers.run("sync", "acme", *NOW)
    assert code == 3, output
    assert re.search(r"none\s+could\s+be\s+read", output), output
    assert deletions(servers) == 0

    report = await servers.json("report", "acme")
    assert report["outcome"] == "failed"
    assert "'start'" in report["error"], "the first problem is quoted"


def _ours(world: World) -> dict[str, dict[str, Any]]:
    return {r["API_ID"]: r for r in world.ours("course")}


async def test_an_unreadable_session_keeps_its_sheet_while_the_others_sync(world: World) -> None:
    first = await world.sync()
    assert first.outcome == "ok"
    before = _ours(world)
    timetable = world.inst.timetables[1]
    events = sorted({int(k.split(":")[2]) for k in before if k.startswith("celcat:1:")})
    broken, renamed, cancelled = (timetable.events[e] for e in events[:3])
    broken.omitted.add("start")  # unreadable: its sheets are kept
    renamed.name = "Algèbre (renommé)"
    del timetable.events[cancelled.id]

    report = await world.sync()

    assert report.outcome == "ok", report.events
    after = _ours(world)
    kept = {k for k in before if k.startswith(f"celcat:1:{broken.id}:")}
    gone = {k for k in before if k.startswith(f"celcat:1:{cancelled.id}:")}
    assert kept
    assert gone
    assert kept <= after.keys(), "the unreadable session's sheets are kept"
    assert not gone & after.keys(), "a cancelled session's sheets are still deleted"
    assert any(k.startswith(f"celcat:1:{renamed.id}:") for k in after)
    assert all(
        r["NAME"] == renamed.name
        for k, r in after.items()
        if k.startswith(f"celcat:1:{renamed.id}:")
    ), "the others are still updated"
    malformed = {e.key for e in report.events if e.reason == "malformed_record"}
    assert kept <= malformed
    assert "deletions_postponed" not in report.reasons()


async def test_an_unreadable_session_without_an_id_postpones_every_deletion(world: World) -> None:
    await world.sync()
    before = _ours(world)
    timetable = world.inst.timetables[1]
    events = sorted({int(k.split(":")[2]) for k in before if k.startswith("celcat:1:")})
    broken, cancelled = (timetable.events[e] for e in events[:2])
    broken.omitted.add("id")  # no key can be made: which sheet it is, nobody knows
    del timetable.events[cancelled.id]

    report = await world.sync()

    assert report.outcome == "ok", report.events
    assert before.keys() <= _ours(world).keys(), "nothing deleted"
    assert "deletions_postponed" in report.reasons()


class Answers(httpx.AsyncBaseTransport):
    """A server answering 404 to every page listed in ``missing``, else one row a page
    for ``rows`` pages, with no ``Pagination`` header."""

    def __init__(self, missing: set[int], rows: int = 2) -> None:
        self.missing, self.rows = missing, rows

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        if page in self.missing:
            return httpx.Response(404, text="Not Found")
        return httpx.Response(200, json=[{"id": page}] if page < self.rows else [])


@pytest.fixture
async def client_for() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(server: httpx.AsyncBaseTransport) -> CelcatClient:
        http = httpx.AsyncClient(transport=server, base_url="http://celcat/WebApi")
        clients.append(http)
        policy = RetryPolicy(retries=0, initial=0.0, maximum=0.0)
        return CelcatClient(http, tenant="acme", retry=policy, page_size=1, sleep=FakeSleep())

    yield make
    for http in clients:
        await http.aclose()


@pytest.mark.parametrize(
    "path",
    [
        "/api/timetables",
        "/api/staff",
        "/api/students",
        "/api/rooms",
        "/api/groups",
        "/api/event-categories",
        "/api/student-membership",
    ],
)
async def test_a_404_on_a_list_read_without_a_filter_is_an_error(
    client_for: Any, path: str
) -> None:
    client = client_for(Answers(missing={0}))
    with pytest.raises(CelcatError, match=f"/WebApi{path}: HTTP 404"):
        await client.rows(path, timetable=None if path == "/api/timetables" else 1)


async def test_a_404_on_a_filtered_list_or_past_the_first_page_is_no_rows(
    client_for: Any,
) -> None:
    client = client_for(Answers(missing={0}))
    assert await client.rows("/api/events", timetable=1, params={"date": "2025-10-21"}) == []
    assert await client.rows("/api/staff-assignments", timetable=1, params={"eventId": "5"}) == []
    assert await client.rows("/api/student-membership", timetable=1, params={"groupId": "5"}) == []
    # A 404 after the first page still ends a list, as the contract says.
    client = client_for(Answers(missing={2}, rows=5))
    assert await client.rows("/api/staff", timetable=1) == [{"id": 0}, {"id": 1}]


async def test_the_source_fails_the_run_on_a_404_reference_list(world: World) -> None:
    await world.sync()
    world.celcat_options["url"] = "http://celcat/WebApi"
    with pytest.raises(RunFailed, match="/WebApi/api/timetables"):
        await world.sync()
    assert not [k for k in world.writes() if k.startswith("DELETE")]
