"""Plugin discovery: what loads, what is reported broken, and observers that misbehave."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from loguru import logger

from core import SourceSpec, hookimpl
from core.plugins import load_registry
from tests import sample_plugins
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
