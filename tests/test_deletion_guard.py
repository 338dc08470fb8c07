"""The deletion guard (issue 14, point 3), like ``rsync --max-delete``: a run that would
delete more than ``max_deletion_share`` of the tenant's connector sheets in the window,
and more than ``deletion_guard_floor`` of them, deletes none and ends ``partial``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

import tests.worlds
from core.context import DeletionGuard, RunContext
from core.report import RunReport
from tests.test_sync_command import NOW, Servers, servers
from tests.worlds import World, world

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # the passerelle command, whole syncs

__all__ = ["servers", "world"]  # fixtures used here


def guarded(monkeypatch: pytest.MonkeyPatch, guard: DeletionGuard) -> None:
    """World runs with this guard instead of the default one."""
    made: Callable[..., RunContext] = getattr(tests.worlds, "context")  # noqa: B009

    def context(*args: Any, **kwargs: Any) -> RunContext:
        return dataclasses.replace(made(*args, **kwargs), deletion_guard=guard)

    monkeypatch.setattr(tests.worlds, "context", context)


def sheets(world: World) -> set[str]:
    return {r["API_ID"] for r in world.ours("course")}


def deletes(world: World) -> int:
    return sum(n for k, n in world.writes().items() if k.startswith("DELETE"))


def cancel(world: World, timetable: int, events: list[int]) -> set[str]:
    """Remove these events from CELCAT; the keys of their sheets."""
    for event in events:
        del world.inst.timetables[timetable].events[event]
    return {k for k in sheets(world) if int(k.split(":")[1]) == timetable and _event(k) in events}


def _event(key: str) -> int:
    return int(key.split(":")[2])


def guard_events(report: RunReport) -> list[Any]:
    return [e for e in report.events if e.reason == "deletions_guarded"]


async def test_a_mass_deletion_is_guarded_and_the_dry_run_says_so(world: World) -> None:
    await world.sync()
    held = sheets(world)
    events = sorted({_event(k) for k in held if k.startswith("celcat:1:")})
    doomed = cancel(world, 1, events)  # a whole timetable "gone": half the sheets
    assert len(doomed) > 0.3 * len(held)
    before = deletes(world)

    planned = await world.sync(dry_run=True)
    report = await world.sync()

    for run in (planned, report):
        assert run.outcome == "partial", run.events
        (event,) = guard_events(run)
        assert event.status == "failed"
        assert event.ids == {"would_delete": str(len(doomed)), "held": str(len(held))}
        assert f"delete {len(doomed)} of the {len(held)}" in event.detail
        assert not [a for a in run.actions if a.action == "deleted"]
    assert deletes(world) == before, "nothing deleted"
    assert sheets(world) == held


async def test_the_guard_lets_an_ordinary_cancellation_through(world: World) -> None:
    await world.sync()
    held = sheets(world)
    event = sorted({_event(k) for k in held if k.startswith("celcat:1:")})[0]
    doomed = cancel(world, 1, [event])

    report = await world.sync()

    assert report.outcome == "ok", report.events
    assert not guard_events(report)
    assert sheets(world) == held - doomed


@pytest.mark.parametrize("floor_over", [0, 1])
async def test_at_or_below_the_floor_the_guard_never_trips(
    world: World, monkeypatch: pytest.MonkeyPatch, floor_over: int
) -> None:
    """With a share of 0, every deletion is "too many": only the floor lets them through.
    At the floor: deleted; one under it: guarded."""
    await world.sync()
    held = sheets(world)
    event = sorted({_event(k) for k in held if k.startswith("celcat:1:")})[0]
    doomed = cancel(world, 1, [event])
    assert len(doomed) > 1
    floor = len(doomed) - 1 + floor_over
    guarded(monkeypatch, DeletionGuard(max_share=0.0, floor=floor))

    report = await world.sync()

    if floor >= len(doomed):
        assert report.outcome == "ok", report.events
        assert sheets(world) == held - doomed
    else:
        assert report.outcome == "partial"
        assert guard_events(report)
        assert sheets(world) == held


async def test_an_allowed_guard_deletes(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    await world.sync()
    held = sheets(world)
    events = sorted({_event(k) for k in held if k.startswith("celcat:1:")})
    doomed = cancel(world, 1, events)
    guarded(monkeypatch, DeletionGuard(allowed=True))

    report = await world.sync()

    assert report.outcome == "ok", report.events
    assert sheets(world) == held - doomed


def _cancel_timetable_one(servers: Servers) -> None:
    servers.celcat.institution.timetables[1].events.clear()


def _tenant_keys(servers: Servers, lines: str) -> None:
    text = servers.config.read_text()
    servers.config.write_text(text.replace("[tenants.acme]\n", f"[tenants.acme]\n{lines}\n", 1))


def _deletes(servers: Servers) -> int:
    return sum(n for k, n in servers.edusign.calls.items() if k.startswith("DELETE"))


async def test_the_command_guards_then_the_integrator_confirms(servers: Servers) -> None:
    code, output = await servers.run("sync", "acme", *NOW)
    assert code == 0, output
    _cancel_timetable_one(servers)

    code, output = await servers.run("sync", "acme", "--dry-run", *NOW)
    assert code == 1, output
    assert "deletions_guarded" in output
    code, output = await servers.run("sync", "acme", *NOW)
    assert code == 1, output
    assert "deletions_guarded" in output
    assert _deletes(servers) == 0
    report = await servers.json("report", "acme")
    assert report["outcome"] == "partial"
    assert [e["reason"] for e in report["events"] if e["status"] == "failed"] == [
        "deletions_guarded"
    ]

    code, output = await servers.run("sync", "acme", "--allow-mass-deletion", *NOW)
    assert code == 0, output
    assert _deletes(servers) > 0


async def test_the_config_key_allows_mass_deletion(servers: Servers) -> None:
    code, output = await servers.run("sync", "acme", *NOW)
    assert code == 0, output
    _cancel_timetable_one(servers)
    _tenant_keys(servers, "allow_mass_deletion = true")

    code, output = await servers.run("sync", "acme", *NOW)
    assert code == 0, output
    assert "deletions_guarded" not in output
    assert _deletes(servers) > 0


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("max_deletion_share = 1.5", "max_deletion_share"),
        ("deletion_guard_floor = -1", "deletion_guard_floor"),
        ('allow_mass_deletion = "perhaps"', "allow_mass_deletion"),
    ],
)
async def test_a_bad_guard_setting_is_a_config_error(servers: Servers, line: str, key: str) -> None:
    _tenant_keys(servers, line)
    code, output = await servers.run("sync", "acme", *NOW)
    assert code == 2, output
    assert "acme" in output
    assert key in output
    assert "unknown key" not in output, "a known key, with a bad value"
    assert not servers.edusign.calls
