"""Reason codes are registered like sources and sinks: by the plugin that emits them, once."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType

import pytest

from adapters.celcat.reasons import REASONS as CELCAT_REASONS
from core import ReasonCode, SourceSpec, hookimpl
from core.plugins import load_registry
from core.reasons import CORE_REASONS
from sinks.edusign.reasons import REASONS as EDUSIGN_REASONS
from tests.sample_plugins import MemSourceOptions, entry_point, open_source

SHEET_GONE = ReasonCode("sheet_gone", "failed", "the sheet vanished", "look for it")


def plugin(monkeypatch: pytest.MonkeyPatch, name: str, *reasons: ReasonCode) -> str:
    @hookimpl
    def passerelle_register_reasons(register: Callable[[ReasonCode], None]) -> None:
        for reason in reasons:
            register(reason)

    @hookimpl
    def passerelle_register_sources(register: Callable[[SourceSpec], None]) -> None:
        register(SourceSpec(name=name, options=MemSourceOptions, open=open_source))

    module = ModuleType(name)
    module.passerelle_register_reasons = passerelle_register_reasons  # type: ignore[attr-defined]
    module.passerelle_register_sources = passerelle_register_sources  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, name, module)
    return name


def test_the_core_and_built_in_plugins_codes_are_registered() -> None:
    registry = load_registry()
    assert registry.broken == {}
    expected = (*CORE_REASONS, *CELCAT_REASONS, *EDUSIGN_REASONS)
    assert registry.reasons == {reason.code: reason for reason in expected}
    (celcat,) = (p for p in registry.plugins if p.name == "celcat")
    assert "reason:unknown_timetable" in celcat.provides
    assert "passerelle_register_reasons" in celcat.hooks


def test_a_plugin_registers_its_own_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = load_registry([entry_point("gone", plugin(monkeypatch, "gone", SHEET_GONE))])
    assert registry.reasons["sheet_gone"] is SHEET_GONE
    (info,) = (p for p in registry.plugins if p.name == "gone")
    assert info.provides == ("source:gone", "reason:sheet_gone")


def test_a_code_taken_twice_breaks_the_second_plugin_only(monkeypatch: pytest.MonkeyPatch) -> None:
    again = ReasonCode("sheet_gone", "skipped", "another meaning", "another action")
    registry = load_registry(
        [
            entry_point("a-first", plugin(monkeypatch, "first", SHEET_GONE)),
            entry_point("b-second", plugin(monkeypatch, "second", again)),
        ]
    )
    assert registry.broken == {"b-second": "ValueError: reason 'sheet_gone' is already registered"}
    assert registry.reasons["sheet_gone"] is SHEET_GONE
    assert "second" not in registry.sources, "a broken plugin registers nothing"


def test_a_core_code_cannot_be_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = ReasonCode("outside_window", "failed", "mine now", "nothing")
    registry = load_registry([entry_point("bold", plugin(monkeypatch, "bold", SHEET_GONE, taken))])
    assert registry.broken == {"bold": "ValueError: reason 'outside_window' is already registered"}
    assert "sheet_gone" not in registry.reasons, "nothing committed unless all succeed"
    assert registry.reasons["outside_window"].status == "skipped"
