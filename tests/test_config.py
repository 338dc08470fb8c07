"""Configuration: the file, the environment over it, secrets from files, every error path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.config import DEFAULT_SCHEDULE, ConfigErrors, load_config
from core.errors import ConfigError
from core.options import MAX_SECRET_FILE_BYTES
from core.plugins import Registry, load_registry
from tests.sample_plugins import MemSinkOptions, MemSourceOptions, entry_point

VALID = """
[worker]
state_url = "sqlite:///state.db"

[tenants.acme]

[tenants.acme.memsource]
[tenants.acme.memsink]
api_key = "k-acme-123"
"""


@pytest.fixture
def registry() -> Registry:
    return load_registry([entry_point("sample", "tests.sample_plugins")])


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plugins.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str, registry: Registry) -> list[str]:
    config = load_config(write(tmp_path, text), registry)
    return [str(p) for p in config.problems]


def test_defaults_fill_what_the_file_leaves_out(tmp_path: Path, registry: Registry) -> None:
    config = load_config(write(tmp_path, VALID), registry)
    acme = config.tenant("acme")
    assert config.worker.max_concurrent_tenants == 8
    assert acme.settings.timezone == "Europe/Paris"
    assert acme.settings.schedule == DEFAULT_SCHEDULE
    assert acme.settings.horizon_days == 14
    assert (acme.source, acme.sink) == ("memsource", "memsink")
    sink = acme.sections["memsink"]
    assert isinstance(sink, MemSinkOptions)
    assert sink.api_key.get_secret_value() == "k-acme-123"


def test_environment_wins_over_the_file(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSERELLE_TENANTS__ACME__MEMSINK__API_KEY", "k-from-env")
    monkeypatch.setenv("PASSERELLE_TENANTS__ACME__HORIZON_DAYS", "7")
    monkeypatch.setenv(
        "PASSERELLE_TENANTS__ACME__MEMSOURCE__EVENT_CATEGORY_NAMES_EXCLUDED", '["Exam", "Meeting"]'
    )
    monkeypatch.setenv("PASSERELLE_WORKER__MAX_CONCURRENT_TENANTS", "3")
    config = load_config(write(tmp_path, VALID), registry)
    acme = config.tenant("acme")
    sink, source = acme.sections["memsink"], acme.sections["memsource"]
    assert isinstance(sink, MemSinkOptions)
    assert isinstance(source, MemSourceOptions)
    assert sink.api_key.get_secret_value() == "k-from-env"
    assert acme.settings.horizon_days == 7
    assert source.event_category_names_excluded == ["Exam", "Meeting"]
    assert config.worker.max_concurrent_tenants == 3


def test_environment_alone_can_add_a_tenant(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSERELLE_TENANTS__BETA__MEMSOURCE__API_CODE", "c-beta")
    monkeypatch.setenv("PASSERELLE_TENANTS__BETA__MEMSINK__API_KEY", "k-beta")
    config = load_config(write(tmp_path, VALID), registry)
    assert sorted(config.tenants) == ["acme", "beta"]


def test_config_path_comes_from_the_environment(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSERELLE_CONFIG", str(write(tmp_path, VALID)))
    assert load_config(None, registry).tenant("acme").name == "acme"


def test_a_secret_can_be_read_from_a_file(tmp_path: Path, registry: Registry) -> None:
    secret = tmp_path / "acme-key"
    secret.write_text("  k-in-a-file\n", encoding="utf-8")
    text = VALID.replace('api_key = "k-acme-123"', f'api_key_file = "{secret}"')
    sink = load_config(write(tmp_path, text), registry).tenant("acme").sections["memsink"]
    assert isinstance(sink, MemSinkOptions)
    assert sink.api_key.get_secret_value() == "k-in-a-file"


def test_a_secret_file_can_be_named_in_the_environment(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "acme-key"
    secret.write_text("k-env-file", encoding="utf-8")
    monkeypatch.setenv("PASSERELLE_TENANTS__ACME__MEMSINK__API_KEY_FILE", str(secret))
    text = VALID.replace('api_key = "k-acme-123"', "")
    config = load_config(write(tmp_path, text), registry)
    assert "k-env-file" in config.secrets


def test_optional_transformer_takes_its_section(tmp_path: Path, registry: Registry) -> None:
    text = VALID.replace(
        "[tenants.acme]\n",
        '[tenants.acme]\nplugins = ["shout"]\n[tenants.acme.shout]\nsuffix = "?"\n',
    )
    acme = load_config(write(tmp_path, text), registry).tenant("acme")
    assert acme.settings.plugins == ("shout",)
    assert "shout" in acme.sections


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("[tenants.acme]\n", "[tenants.acme]\nhorizon_dayz = 3\n"),
            "tenant 'acme', key 'horizon_dayz': unknown key",
        ),
        (
            ("[tenants.acme]\n", "[tenants.acme]\nhorizon_days = 0\n"),
            "tenant 'acme', key 'horizon_days': Input should be greater than or equal to 1",
        ),
        (
            ("[tenants.acme]\n", '[tenants.acme]\ntimezone = "Mars/Olympus"\n'),
            "tenant 'acme', key 'timezone': unknown time zone 'Mars/Olympus'",
        ),
        (
            ("[tenants.acme]\n", '[tenants.acme]\nschedule = ["every day"]\n'),
            "tenant 'acme', key 'schedule': not a cron expression: 'every day'",
        ),
        (('api_key = "k-acme-123"', ""), "tenant 'acme', key 'memsink.api_key': Field required"),
        (
            ('api_key = "k-acme-123"', 'api_key = "k-acme-123"\nrefuse = "not json"'),
            "tenant 'acme', key 'memsink': 'refuse': expected JSON text, got 'not json'",
        ),
        (
            ('api_key = "k-acme-123"', 'api_key = "k-acme-123"\napi_key_file = "/x"'),
            "tenant 'acme', key 'memsink': give either 'api_key' or 'api_key_file', not both",
        ),
        (
            ('api_key = "k-acme-123"', 'api_key_file = "/nonexistent/key"'),
            "tenant 'acme', key 'memsink': 'api_key_file': cannot read /nonexistent/key",
        ),
        (
            ("[tenants.acme.memsource]", "[tenants.acme.celcatt]\n[tenants.acme.memsource]"),
            "tenant 'acme', key 'celcatt': unknown section 'celcatt'",
        ),
        (
            ("[tenants.acme.memsource]\n", ""),
            "tenant 'acme': no source configured: add one of [tenants.acme.memsource]",
        ),
        (
            ("[tenants.acme]\n", '[tenants.acme]\nplugins = ["teleport"]\n'),
            "tenant 'acme', key 'plugins': unknown optional plugin 'teleport'",
        ),
        (
            ("[tenants.acme.memsource]", "[tenants.acme.shout]\n[tenants.acme.memsource]"),
            "tenant 'acme', key 'shout': section of plugin 'shout', which is not in this "
            "tenant's 'plugins' list",
        ),
        (
            ("[tenants.acme.", "[tenants.Acme."),
            "tenant 'Acme': a tenant name is lower-case letters",
        ),
    ],
)
def test_each_problem_names_tenant_and_key(
    tmp_path: Path, registry: Registry, edit: tuple[str, str], expected: str
) -> None:
    problems = problems_of(tmp_path, VALID.replace(*edit), registry)
    assert any(p.startswith(expected) for p in problems), problems


def test_problems_of_one_tenant_leave_the_others_valid(tmp_path: Path, registry: Registry) -> None:
    text = VALID + "\n[tenants.bad]\nhorizon_days = -1\n"
    config = load_config(write(tmp_path, text), registry)
    assert config.tenant("acme").name == "acme"
    with pytest.raises(ConfigErrors, match="tenant 'bad', key 'horizon_days'"):
        config.tenant("bad")


def test_unknown_tenant_is_named(tmp_path: Path, registry: Registry) -> None:
    config = load_config(write(tmp_path, VALID), registry)
    with pytest.raises(ConfigError, match=r"tenant 'zeta': no such tenant \(configured: acme\)"):
        config.tenant("zeta")


def test_missing_file_and_bad_toml_are_config_errors(tmp_path: Path, registry: Registry) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "absent.toml", registry)
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 2"):
        load_config(write(tmp_path, "[worker]\nstate_url = \n"), registry)


def test_bad_worker_key_is_named(tmp_path: Path, registry: Registry) -> None:
    with pytest.raises(ConfigError, match=r"key 'worker\.max_concurrent_tenants'"):
        load_config(
            write(
                tmp_path, VALID.replace("[worker]\n", '[worker]\nmax_concurrent_tenants = "many"\n')
            ),
            registry,
        )


def test_a_secret_is_never_quoted_in_an_error(tmp_path: Path, registry: Registry) -> None:
    text = VALID.replace('api_key = "k-acme-123"', 'api_key = ["k-acme-123"]')
    problems = problems_of(tmp_path, text, registry)
    assert problems, "a list is not a valid key"
    assert all("k-acme-123" not in p for p in problems)
    config = load_config(write(tmp_path, text), registry)
    assert "k-acme-123" in config.secrets  # masked in logs even though the tenant is invalid


def test_a_broken_plugin_disables_only_the_tenants_using_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "fixtures" / "broken_plugin"))
    registry = load_registry(
        [entry_point("sample", "tests.sample_plugins"), entry_point("broken", "broken_erp")]
    )
    text = VALID + "\n[tenants.other.broken]\n[tenants.other.memsink]\napi_key = 'k'\n"
    config = load_config(write(tmp_path, text), registry)
    assert config.tenant("acme").name == "acme"
    with pytest.raises(
        ConfigError,
        match=r"key 'broken': plugin 'broken' could not be loaded "
        r"\(ModuleNotFoundError",
    ):
        config.tenant("other")


def test_two_sources_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toy_plugin: Path
) -> None:
    monkeypatch.syspath_prepend(str(toy_plugin))
    registry = load_registry(
        [entry_point("sample", "tests.sample_plugins"), entry_point("toy", "toy_erp")]
    )
    text = VALID + '\n[tenants.acme.toy]\npath = "x.json"\n'
    problems = problems_of(tmp_path, text, registry)
    assert problems == [
        "tenant 'acme': sections memsource, toy are all sources; a tenant has exactly one"
    ]


@pytest.mark.parametrize("kind", ["fifo", "too big"])
def test_a_plugin_schema_reads_no_secret_file_but_a_small_regular_one(
    tmp_path: Path, kind: str
) -> None:
    """The schema itself refuses, on the open file, what ``load_config`` checks first: a
    FIFO put in place of the file after that check would otherwise hang the reader."""
    secret = tmp_path / "secret"
    if kind == "fifo":
        os.mkfifo(secret)  # nobody writes it: a blocking open would wait for ever
    else:
        secret.write_bytes(b"k" * (MAX_SECRET_FILE_BYTES + 1))
    with pytest.raises(ValidationError, match="api_key_file"):
        MemSinkOptions.model_validate({"api_key_file": str(secret)})
