"""Several tenants on one Edusign school, and duplicates (issue 14, points 1 and 5).

Each tenant changes and deletes only what it wrote; a person another tenant wrote is
linked as is; a tenant that becomes shared moves its API_IDs to its scope without
recreating anything; two records with one API_ID are reported and settled."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, time
from pathlib import Path
from typing import Any, cast

import pytest

from adapters.celcat.sandbox import CelcatSandbox, generate_institution
from core.config import load_config
from core.plugins import load_registry
from core.report import RunReport
from core.runner import plan_for
from core.state import open_state
from sinks.edusign.client import EdusignClient
from sinks.edusign.ids import Scope, api_id, owner
from sinks.edusign.listings import Listings
from tests.doubles import context
from tests.test_edusign_sink import valid_people
from tests.worlds import World

pytestmark = pytest.mark.anyio

DUPLICATE = "duplicate_in_edusign"


def second_tenant(world: World, tenant: str, **changes: Any) -> World:
    """Another tenant of the same school and state store; by default on the same CELCAT."""
    inst = changes.pop("inst", world.inst)
    celcat = world.celcat if inst is world.inst else CelcatSandbox(inst, api_code="c")
    return World(
        inst,
        celcat,
        world.edusign,
        world.school,
        world.store,
        clock=world.clock,
        tenant=tenant,
        shared=True,
        **changes,
    )


def created(report: RunReport) -> set[str]:
    return {a.key for a in report.actions if a.kind == "session" and a.action == "created" if a.key}


def sheets(world: World) -> Counter[str]:
    """API_IDs of the connector's sheets in the school, with how many sheets hold each."""
    return Counter(c["API_ID"] for c in world.ours("course"))


def people(world: World) -> dict[str, tuple[Any, ...]]:
    return {
        p["ID"]: (p.get("FIRSTNAME"), p.get("LASTNAME"), p.get("EMAIL"), p.get("API_ID"))
        for kind in ("student", "professor")
        for p in world.ours(kind)
    }


@pytest.mark.parametrize("first", ["acme", "beta"])
async def test_two_tenants_split_by_timetable_keep_both_campuses(world: World, first: str) -> None:
    """Issue 14, case 1: the second tenant's first sync deleted every sheet of the first."""
    one, two = sorted(world.inst.timetables)
    world.shared = True
    world.celcat_options = {"timetable_ids": [one]}
    beta = second_tenant(world, "beta", celcat_options={"timetable_ids": [two]})
    order = [world, beta] if first == "acme" else [beta, world]
    expected: dict[str, set[str]] = {}
    for round_ in (1, 2):
        for tenant in order:
            present = set(sheets(world))
            report = await tenant.sync()
            assert report.outcome == "ok", [e.detail for e in report.events if e.status == "failed"]
            if round_ == 1:  # the API_IDs of the sheets this tenant wrote
                expected[tenant.tenant] = set(sheets(world)) - present
                assert len(expected[tenant.tenant]) == len(created(report)) > 0
            else:
                assert report.counts["session"].created == 0
            assert report.counts["session"].deleted == 0, f"round {round_}: {tenant.tenant}"
            held = sheets(world)
            for name, keys in expected.items():
                assert {k: held[k] for k in keys} == dict.fromkeys(keys, 1), (round_, name)
    assert sum(sheets(world).values()) == len(expected["acme"]) + len(expected["beta"])


@pytest.mark.parametrize("first", ["acme", "beta"])
async def test_two_celcat_servers_on_one_school_never_rewrite_each_others_people(
    world: World, first: str
) -> None:
    """Issue 14, case 1: a second CELCAT's student 1001 rewrote the first's student 1001."""
    other = generate_institution(
        seed=6, start=date(2025, 10, 21), days=14, students=80, staff=14, groups=6, timetables=2
    )
    assert other.students.keys() & world.inst.students.keys(), "the ids overlap"
    world.shared = True
    beta = second_tenant(world, "beta", inst=other)
    order = [world, beta] if first == "acme" else [beta, world]
    before = people(world)
    counts: dict[str, int] = {}
    for round_ in (1, 2):
        for tenant in order:
            report = await tenant.sync()
            assert report.outcome == "ok", [e.detail for e in report.events if e.status == "failed"]
            now = people(world)
            changed = {i for i in before if now[i][:3] != before[i][:3]}
            assert not changed, f"{tenant.tenant} rewrote {len(changed)} people (round {round_})"
            before = now
            if round_ == 1:
                counts[tenant.tenant] = report.counts["session"].created
            else:
                assert report.counts["session"].created == report.counts["session"].deleted == 0
    held = sheets(world)
    assert set(held.values()) == {1}, "each sheet once"
    for name, n in counts.items():
        assert sum(1 for k in held if k.startswith(f"{name}@")) == n


async def test_a_tenant_that_becomes_shared_moves_its_api_ids_without_recreating(
    world: World,
) -> None:
    one, two = sorted(world.inst.timetables)
    world.celcat_options = {"timetable_ids": [one]}
    alone = await world.sync()
    assert alone.outcome == "ok"
    ids = {c["API_ID"]: c["ID"] for c in world.ours("course")}
    assert ids
    assert all(k.startswith("celcat:") for k in ids), "alone: the contract's API_IDs"
    persons = {p["ID"] for kind in ("student", "professor") for p in world.ours(kind)}
    # An unscoped sheet acme's store does not know: perhaps another tenant's, from before.
    stray = dict(world.ours("course")[0])
    stray.pop("ID")
    stray["API_ID"] = "celcat:9:9999:2025-10-25"
    stray_id = world.school.insert("course", stray)
    # A new session: the course list is read this run.
    (staff,) = valid_people(world.inst, "staff", 1)
    world.inst.add_event(
        one,
        name="Nouveau cours",
        category_id=next(iter(world.inst.categories)),
        dates={date(2025, 10, 29)},
        start=time(8, 0),
        end=time(9, 0),
        staff=[staff],
        students=valid_people(world.inst, "student", 2),
        rooms=[],
    )

    world.shared = True
    moved = await world.sync()
    assert moved.outcome == "ok"
    assert moved.counts["session"].created == 1, "only the new session"
    assert moved.counts["session"].deleted == 0
    assert moved.counts["session"].updated == len(ids)
    now = {c["API_ID"]: c["ID"] for c in world.ours("course") if c["ID"] != stray_id}
    assert {f"acme@{k}": v for k, v in ids.items()}.items() <= now.items(), "same sheets"
    assert world.school.courses[stray_id]["API_ID"] == "celcat:9:9999:2025-10-25", "left alone"
    mine = {p["ID"]: p["API_ID"] for kind in ("student", "professor") for p in world.ours(kind)}
    assert persons <= mine.keys()
    assert all(mine[i].startswith("acme@celcat:") for i in persons)
    assert not {k for k, n in sheets(world).items() if n > 1}

    world.edusign.reset_counts()
    again = await world.sync()
    assert world.writes() == Counter(), "moved once"
    assert again.counts["session"].unchanged == len(ids) + 1

    beta = second_tenant(world, "beta", celcat_options={"timetable_ids": [two]})
    assert (await beta.sync()).counts["session"].deleted == 0
    assert stray_id in world.school.courses
    assert all(world.school.courses[v]["API_ID"] == f"acme@{k}" for k, v in ids.items())

    # Alone again (beta left the configuration): back to the contract's form, in place;
    # beta's sheets are not acme's.
    beta_sheets = {k for k in sheets(world) if k.startswith("beta@")}
    world.shared = False
    back = await world.sync()
    assert back.counts["session"].created == back.counts["session"].deleted == 0
    assert all(world.school.courses[v]["API_ID"] == k for k, v in ids.items())
    assert beta_sheets <= sheets(world).keys()


async def test_a_duplicate_sheet_is_reported_the_unsigned_one_deleted_the_signed_one_kept(
    world: World,
) -> None:
    await world.sync()
    original = dict(min(world.ours("course"), key=lambda c: c["API_ID"]))
    copy = {k: v for k, v in original.items() if k != "ID"}
    unsigned = world.school.insert("course", copy)
    signed = world.school.insert("course", {**copy, "PROFESSOR_SIGNATURE": "data:image/png,x"})
    (staff,) = valid_people(world.inst, "staff", 1)
    world.inst.add_event(  # a new session: the course list is read this run
        next(iter(world.inst.timetables)),
        name="Nouveau cours",
        category_id=next(iter(world.inst.categories)),
        dates={date(2025, 10, 29)},
        start=time(8, 0),
        end=time(9, 0),
        staff=[staff],
        students=valid_people(world.inst, "student", 2),
        rooms=[],
    )
    report = await world.sync()
    found = [e for e in report.events if e.reason == DUPLICATE]
    assert len(found) == 1, found
    assert found[0].key == original["API_ID"]
    assert found[0].ids["kept"] == original["ID"], "the one the store knows"
    assert set(found[0].ids["duplicates"].split(", ")) == {unsigned, signed}
    assert unsigned not in world.school.courses
    assert signed in world.school.courses, "signed: never deleted"
    assert original["ID"] in world.school.courses
    assert report.counts["session"].deleted == 1
    assert report.outcome == "ok"


async def test_a_duplicate_person_is_reported_never_deleted(world: World) -> None:
    await world.sync()
    student = dict(min(world.ours("student"), key=lambda s: s["ID"]))
    twin = world.school.insert(
        "student", {**{k: v for k, v in student.items() if k != "ID"}, "EMAIL": "twin@example.org"}
    )
    async with open_state("sqlite://") as empty:
        report = await world.sync(store=empty)
    found = [e for e in report.events if e.reason == DUPLICATE and e.kind == "student"]
    assert [e.key for e in found] == [student["API_ID"]]
    assert {student["ID"], twin} <= world.school.students.keys()


def test_tenants_on_one_school_are_opened_shared(tmp_path: Path) -> None:
    path = tmp_path / "plugins.toml"
    section = '[tenants.{}.celcat]\nurl = "http://c"\napi_code = "c"\n[tenants.{}.edusign]\n'
    path.write_text(
        "".join(
            section.format(name, name) + f'url = "{url}"\napi_key = "{key}"\n'
            for name, url, key in [
                ("acme", "https://ext.edusign.fr", "k1"),
                ("beta", "https://ext.edusign.fr/", "k1"),
                ("gamma", "https://ext.edusign.fr", "k2"),
            ]
        ),
        encoding="utf-8",
    )
    registry = load_registry()
    config = load_config(path, registry)
    assert not config.problems, config.problems
    shared = {n: plan_for(t, "timetable", registry).shared for n, t in config.tenants.items()}
    assert shared == {"acme": True, "beta": True, "gamma": False}


class _Listing:
    """An Edusign client whose paged list holds what it is given, repeats included."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    async def pages(
        self, kind: str, size: int, params: dict[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        for row in self.rows:
            yield row


async def test_one_record_listed_on_two_pages_is_no_duplicate(world: World) -> None:
    """A list that moved while it was read can show one record on two pages: that is one
    record, not two holding one API_ID (and never a reason to delete either)."""
    await world.sync()
    course = dict(min(world.ours("course"), key=lambda c: c["API_ID"]))
    listings = Listings(cast(EdusignClient, _Listing([course, dict(course)])), Scope("", None))
    async with open_state("sqlite://") as empty:
        index = await listings.load(context(empty), "course")
    assert index.duplicates == {}
    assert index.by_api_id[course["API_ID"]].id == course["ID"]


@pytest.mark.parametrize("scope", [None, "acme", "beta_2"])
@pytest.mark.parametrize("external_id", ["celcat:3:5120:2025-10-21", "celcat:student:42"])
def test_an_api_id_reads_back_as_the_scope_and_external_id_it_was_built_from(
    scope: str | None, external_id: str
) -> None:
    """``ids`` builds every API_ID and parses it back; the tenant that wrote it owns it."""
    written = api_id(external_id, scope)
    assert owner(written) == (scope, external_id)
    assert Scope.of(scope or "acme", shared=scope is not None).owns(written)
