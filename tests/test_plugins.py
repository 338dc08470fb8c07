"""Plugin discovery: what loads, what is reported broken, hooks called the way pluggy calls
them, and observers that misbehave."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from loguru import logger

from core import Event, RunReport, SourceSpec, hookimpl
from core.config import load_config
from core.plugins import Registry, load_registry
from core.runner import run_tenant
from core.state import open_state
from tests import sample_plugins
from tests.doubles import NOW, instructor, session, student
from tests.sample_plugins import MemSourceOptions, entry_point, open_source

FIXTURES = Path(__file__).parent / "fixtures"


def plugin_module(monkeypatch: pytest.MonkeyPatch, name: str, **functions: object) -> str:
    module = ModuleType(name)
    for attribute, value in functions.items():
        setattr(module, attribute, value)
    monkeypatch.setitem(sys.modules, name, module)
    return name


def test_the_core_pipeline_and_installed_plugins_are_listed(
    monkeypatch: pytest.MonkeyPatch, toy_plugin: Path
) -> None:
    monkeypatch.syspath_prepend(str(toy_plugin))
    registry = load_registry([entry_point("toy", "toy_erp")])
    assert set(registry.pipelines) == {"timetable"}
    assert set(registry.sources) == {"toy"}
    assert set(registry.sinks) == {"outbox"}
    toy = next(p for p in registry.plugins if p.name == "toy")
    assert toy.provides == ("source:toy", "sink:outbox")
    assert toy.hooks == ("passerelle_register_sinks", "passerelle_register_sources")
    assert toy.error is None


def test_a_plugin_that_fails_to_import_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES / "broken_plugin"))
    registry = load_registry(
        [entry_point("broken", "broken_erp"), entry_point("sample", "tests.sample_plugins")]
    )
    assert registry.broken == {
        "broken": "ModuleNotFoundError: No module named 'passerelle_missing_dependency'"
    }
    assert "memsource" in registry.sources, "the other plugins still load"


def test_a_misspelt_hook_makes_the_plugin_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    @hookimpl
    def passerelle_register_sourcez(register: Callable[[SourceSpec], None]) -> None:
        raise AssertionError("never called")

    name = plugin_module(
        monkeypatch, "typo_plugin", passerelle_register_sourcez=passerelle_register_sourcez
    )
    registry = load_registry([entry_point("typo", name)])
    assert "passerelle_register_sourcez" in registry.broken["typo"]
    assert not registry.manager.has_plugin("typo")


def test_a_name_taken_twice_breaks_the_second_plugin_only(monkeypatch: pytest.MonkeyPatch) -> None:
    @hookimpl
    def passerelle_register_sources(register: Callable[[SourceSpec], None]) -> None:
        register(SourceSpec(name="memsource", options=MemSourceOptions, open=open_source))

    name = plugin_module(
        monkeypatch, "copycat", passerelle_register_sources=passerelle_register_sources
    )
    registry = load_registry(
        [entry_point("a-sample", "tests.sample_plugins"), entry_point("b-copycat", name)]
    )
    assert registry.broken == {"b-copycat": "ValueError: source 'memsource' is already registered"}
    assert registry.sources["memsource"].open is open_source


def test_a_registration_that_raises_registers_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    @hookimpl
    def passerelle_register_sources(register: Callable[[SourceSpec], None]) -> None:
        register(SourceSpec(name="half", options=MemSourceOptions, open=open_source))
        raise RuntimeError("second registration failed")

    name = plugin_module(
        monkeypatch, "half_plugin", passerelle_register_sources=passerelle_register_sources
    )
    registry = load_registry([entry_point("half", name)])
    assert "half" not in registry.sources
    assert registry.broken == {"half": "RuntimeError: second registration failed"}


def test_observers_are_told_and_their_errors_are_contained(monkeypatch: pytest.MonkeyPatch) -> None:
    @hookimpl
    def passerelle_run_started(tenant: str, pipeline: str, run_id: str) -> None:
        raise RuntimeError("metrics backend down")

    name = plugin_module(
        monkeypatch, "faulty_observer", passerelle_run_started=passerelle_run_started
    )
    registry = load_registry(
        [entry_point("sample", "tests.sample_plugins"), entry_point("faulty", name)]
    )
    logged: list[str] = []
    sink_id = logger.add(logged.append, level="ERROR", format="{message}")
    try:
        sample_plugins.OBSERVED.clear()
        registry.notify_run_started("acme", "timetable", "r1")
    finally:
        logger.remove(sink_id)
    assert sample_plugins.OBSERVED == [("started", "acme")], "the healthy observer was told"
    assert any("plugin 'faulty' failed in passerelle_run_started" in line for line in logged)


# Hooks are called the pluggy way: each implementation with the arguments it declares,
# found by the hook it implements whatever its name.


def test_a_registration_under_another_name_registers(monkeypatch: pytest.MonkeyPatch) -> None:
    @hookimpl(specname="passerelle_register_sources")
    def memory_sources(register: Callable[[SourceSpec], None]) -> None:
        register(SourceSpec(name="aliased", options=MemSourceOptions, open=open_source))

    name = plugin_module(monkeypatch, "aliased_plugin", memory_sources=memory_sources)
    registry = load_registry([entry_point("aliased", name)])
    assert registry.broken == {}
    assert registry.sources["aliased"].open is open_source
    (info,) = (p for p in registry.plugins if p.name == "aliased")
    assert (info.hooks, info.provides) == (("passerelle_register_sources",), ("source:aliased",))


def test_a_hook_wrapper_makes_the_plugin_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    @hookimpl(wrapper=True)
    def passerelle_run_finished(report: RunReport) -> Iterator[None]:
        yield  # would wrap nothing: observers are called one at a time

    name = plugin_module(monkeypatch, "wrapping", passerelle_run_finished=passerelle_run_finished)
    registry = load_registry([entry_point("wrapping", name)])
    assert registry.broken == {
        "wrapping": "ValueError: passerelle hooks take no wrappers: passerelle_run_finished"
    }
    assert not registry.manager.has_plugin("wrapping")


def test_an_async_observer_makes_the_plugin_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    @hookimpl
    async def passerelle_run_finished(report: RunReport) -> None:
        raise AssertionError("never awaited: observers are synchronous")

    name = plugin_module(monkeypatch, "eager", passerelle_run_finished=passerelle_run_finished)
    registry = load_registry([entry_point("eager", name)])
    assert registry.broken == {
        "eager": "ValueError: passerelle hooks are synchronous, not async: passerelle_run_finished"
    }


CONFIG = """
[worker]
state_url = "sqlite:///{state}"

[tenants.acme.memsource]

[tenants.acme.memsink]
api_key = "k"
refuse = ["test:1:2025-10-21"]
"""


async def run_acme(tmp_path: Path, registry: Registry) -> RunReport:
    """One run of the sample plugins: session 1 is refused by the sink (failed), session 2
    has no instructor (skipped), session 3 is written."""
    teacher, learner = instructor(1), student(10)
    sample_plugins.DATASETS["acme"] = [
        teacher,
        learner,
        session(1, instructors=[teacher], students=[learner]),
        session(2, students=[learner]),
        session(3, instructors=[teacher], students=[learner]),
    ]
    path = tmp_path / "plugins.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state.db"), encoding="utf-8")
    config = load_config(path, registry)
    assert config.problems == []
    try:
        async with open_state(config.worker.state_url) as store:
            return await run_tenant(config, registry, store, "acme", now=NOW)
    finally:
        sample_plugins.DATASETS.clear()
        sample_plugins.SINKS.clear()


@pytest.mark.anyio
async def test_an_observer_declaring_only_the_event_is_told_each_skip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    skipped: list[Event] = []

    @hookimpl
    def passerelle_object_skipped(event: Event) -> None:
        skipped.append(event)

    name = plugin_module(monkeypatch, "terse", passerelle_object_skipped=passerelle_object_skipped)
    registry = load_registry(
        [entry_point("sample", "tests.sample_plugins"), entry_point("terse", name)]
    )
    logged: list[str] = []
    sink_id = logger.add(logged.append, level="ERROR", format="{message}")
    try:
        await run_acme(tmp_path, registry)
    finally:
        logger.remove(sink_id)
    assert [(e.reason, e.key) for e in skipped] == [("no_instructor", "test:2:2025-10-21")]
    assert not any("terse" in line for line in logged)


@pytest.mark.anyio
async def test_skipped_and_failed_objects_are_told_apart(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    told: list[tuple[str, str, str | None]] = []

    @hookimpl
    def passerelle_object_skipped(tenant: str, pipeline: str, run_id: str, event: Event) -> None:
        told.append(("skipped", event.reason, event.key))

    @hookimpl
    def passerelle_object_failed(tenant: str, pipeline: str, run_id: str, event: Event) -> None:
        told.append(("failed", event.reason, event.key))

    name = plugin_module(
        monkeypatch,
        "two_ears",
        passerelle_object_skipped=passerelle_object_skipped,
        passerelle_object_failed=passerelle_object_failed,
    )
    registry = load_registry(
        [entry_point("sample", "tests.sample_plugins"), entry_point("two-ears", name)]
    )
    assert registry.broken == {}
    report = await run_acme(tmp_path, registry)
    assert str(report.outcome) == "partial"
    assert sorted(told) == [
        ("failed", "write_refused", "test:1:2025-10-21"),
        ("skipped", "no_instructor", "test:2:2025-10-21"),
    ]
