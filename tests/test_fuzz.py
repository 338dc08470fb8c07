"""Fuzzing what the connector parses: CELCAT JSON, the Pagination header, Edusign JSON and
plugins.toml. Whatever comes in, the only way out is the typed error that says so.

``PASSERELLE_FUZZ_EXAMPLES`` sets the examples per property (CI: a short budget)."""

from __future__ import annotations

import contextlib
import os
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.celcat import mapping
from adapters.celcat.names import NAME_FORMATS, split_name
from core.config import load_config
from core.context import Window
from core.errors import ConfigError
from core.fingerprints import fingerprint
from core.plugins import load_registry
from sinks.edusign import mapping as edusign
from sinks.edusign.attendance import presence_of

EXAMPLES = int(os.environ.get("PASSERELLE_FUZZ_EXAMPLES", "150"))
fuzz = settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
CELCAT_FIELDS = [
    "id",
    "name",
    "email",
    "mobileTelephone",
    "start",
    "end",
    "eventCategoryId",
    "suspended",
    "week",
    "staffId",
    "studentId",
    "roomId",
    "groupId",
]
celcat_records = st.dictionaries(st.sampled_from(CELCAT_FIELDS), json_values, max_size=8) | (
    json_values
)


@fuzz
@given(celcat_records)
def test_celcat_records_parse_or_say_why(raw: Any) -> None:
    for parse in (
        mapping.parse_named,
        mapping.parse_person,
        mapping.parse_membership,
        lambda r: mapping.parse_occurrence(r, ZoneInfo("Europe/Paris")),
        lambda r: mapping.parse_assignment(r, mapping.STAFF_ID),
    ):
        with contextlib.suppress(mapping.Malformed):
            parse(raw)
    mapping.event_id_of(raw)
    mapping.occurrence_week(raw)


@fuzz
@given(st.text(max_size=80) | st.none() | json_values.map(repr))
def test_the_pagination_header_never_breaks_paging(header: str | None) -> None:
    pages = mapping.total_pages(header)
    assert pages is None or (isinstance(pages, int) and pages >= 0)


@fuzz
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "ID",
                "API_ID",
                "API_TYPE",
                "EMAIL",
                "LOCKED",
                "STUDENTS",
                "PROFESSOR_SIGNATURE",
                "END",
            ]
        ),
        json_values,
        max_size=8,
    )
)
def test_edusign_records_are_read_without_surprise(raw: dict[str, Any]) -> None:
    try:
        edusign.course_state(raw)
    except (KeyError, TypeError, AttributeError) as exc:  # pragma: no cover - the finding
        pytest.fail(f"course_state broke on {raw!r}: {exc!r}")
    edusign.remote(raw)


@fuzz
@given(
    st.dictionaries(
        st.sampled_from(["state", "signature", "delay", "absenceId"]), json_values, max_size=4
    )
)
def test_attendance_entries_always_read_as_a_presence(entry: dict[str, Any]) -> None:
    presence, late = presence_of(entry)
    assert late >= 0
    assert (late > 0) == (presence == "late")


@fuzz
@given(st.text(max_size=60), st.sampled_from(NAME_FORMATS))
def test_a_split_name_is_two_non_empty_trimmed_parts(name: str, layout: Any) -> None:
    parts = split_name(name, layout)
    if parts is not None:
        assert all(part and part == part.strip() for part in parts)


REGISTRY = load_registry()


@fuzz
@given(st.text(max_size=300))
def test_any_configuration_text_loads_or_says_why(tmp_path: Path, text: str) -> None:
    path = tmp_path / "plugins.toml"
    path.write_text(text, encoding="utf-8")
    try:
        config = load_config(path, REGISTRY)
    except ConfigError:
        return
    assert all(isinstance(p, ConfigError) for p in config.problems)


@fuzz
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "timezone",
                "schedule",
                "horizon_days",
                "plugins",
                "concurrency",
                "celcat",
                "edusign",
                "x",
            ]
        ),
        json_values,
        max_size=6,
    )
)
def test_any_tenant_table_is_validated_not_crashed(tmp_path: Path, table: dict[str, Any]) -> None:
    import tomli_w

    path = tmp_path / "plugins.toml"
    try:
        path.write_text(tomli_w.dumps({"tenants": {"acme": table}}), encoding="utf-8")
        tomllib.loads(path.read_text(encoding="utf-8"))
    except (TypeError, ValueError):
        return  # not expressible in TOML (None, NaN...)
    config = load_config(path, REGISTRY)
    assert all(isinstance(p, ConfigError) for p in config.problems)


ZONES = st.sampled_from(
    ["Europe/Paris", "America/New_York", "Pacific/Auckland", "UTC", "Australia/Lord_Howe"]
)


@fuzz
@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    ZONES,
    st.integers(min_value=1, max_value=90),
)
def test_the_window_starts_tomorrow_and_spans_the_horizon(
    now: datetime, zone: str, horizon: int
) -> None:
    tz = ZoneInfo(zone)
    window = Window.starting_after(now, tz, horizon)
    today = now.astimezone(tz).date()
    assert today not in window, "today and earlier are never touched"
    assert window.first == today + timedelta(days=1)
    assert len(window.days()) == horizon
    assert all(day in window for day in window.days())
    assert window.last + timedelta(days=1) not in window


@fuzz
@given(st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=6), st.randoms())
def test_fingerprints_ignore_key_order_and_see_any_change(
    content: dict[str, Any], rnd: Any
) -> None:
    keys = list(content)
    rnd.shuffle(keys)
    assert fingerprint({k: content[k] for k in keys}) == fingerprint(content)
    changed = {**content, keys[0]: ["changed", content[keys[0]]]}
    assert fingerprint(changed) != fingerprint(content)
