"""The command line, in process, over the sample plugins: exit codes, reports, secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from core import cli
from core.plugins import Registry, load_registry
from core.report import RunReport
from tests import sample_plugins
from tests.doubles import instructor, session, student
from tests.sample_plugins import entry_point

SECRET = "k-acme-s3cr3t-value"
CONFIG = """
[worker]
state_url = "sqlite:///{state}"

[tenants.acme]
plugins = {plugins}

[tenants.acme.memsource]
event_category_names_excluded = ["Exam"]

[tenants.acme.memsink]
api_key = "{key}"
refuse = {refuse}
"""


@pytest.fixture(autouse=True)
def sample_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    registry = load_registry([entry_point("sample", "tests.sample_plugins")])
    monkeypatch.setattr(cli, "default_registry", lambda: registry)
    teacher, learners = instructor(1), [student(10), student(11, email="broken")]
    sample_plugins.DATASETS["acme"] = [
        teacher,
        *learners,
        session(1, instructors=[teacher], students=learners),
        session(2, date(2025, 10, 22), instructors=[teacher], students=learners),
        session(3, instructors=[teacher], students=learners, category="Exam"),
    ]
    yield registry
    sample_plugins.DATASETS.clear()
    sample_plugins.SINKS.clear()


def write_config(
    tmp_path: Path, *, key: str = SECRET, refuse: str = "[]", plugins: str = "[]"
) -> Path:
    path = tmp_path / "plugins.toml"
    path.write_text(
        CONFIG.format(state=tmp_path / "state.db", key=key, refuse=refuse, plugins=plugins),
        encoding="utf-8",
    )
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli.app, list(args))


def latest(config: Path) -> RunReport | None:
    result = invoke("report", "acme", "--json", "--config", str(config))
    assert result.exit_code == 0, result.output
    loaded = json.loads(result.stdout)
    return None if loaded is None else RunReport.model_validate(loaded)


NOW = ["--now", "2025-10-20T10:00:00"]


def test_sync_writes_reports_and_report_reads_it_back(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = invoke("sync", "acme", "--config", str(config), *NOW)
    assert result.exit_code == 0, result.output
    assert [s.external_id for s in sample_plugins.SINKS["acme"].written] == [
        "test:1:2025-10-21",
        "test:2:2025-10-22",
    ]
    report = latest(config)
    assert report is not None
    assert (report.tenant, report.pipeline, report.outcome) == ("acme", "timetable", "ok")
    assert report.counts["session"].created == 2
    assert report.counts["session"].skipped == 1
    assert sorted(report.reasons().items()) == [("category_filtered", 1), ("invalid_student", 1)]
    assert "category_filtered" in result.stdout, "the summary explains what was left out"


def test_now_moves_the_window(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = invoke("sync", "acme", "--config", str(config), "--now", "2025-10-21T08:00")
    assert result.exit_code == 0, result.output
    assert [s.external_id for s in sample_plugins.SINKS["acme"].written] == ["test:2:2025-10-22"]
    report = latest(config)
    assert report is not None
    assert report.reasons()["outside_window"] == 2, "sessions 1 and 3 are on today"


def test_a_refused_object_makes_the_run_partial_exit_1(tmp_path: Path) -> None:
    config = write_config(tmp_path, refuse='["test:2:2025-10-22"]')
    result = invoke("sync", "acme", "--config", str(config), *NOW)
    assert result.exit_code == 1, result.output
    report = latest(config)
    assert report is not None
    assert report.outcome == "partial"
    failed = [e for e in report.events if e.status == "failed"]
    assert [(e.reason, e.key, e.ids) for e in failed] == [
        ("write_refused", "test:2:2025-10-22", {"target": "x1"})
    ]


def test_refused_credentials_fail_the_run_exit_3_without_the_secret(tmp_path: Path) -> None:
    key = "refused-" + SECRET
    config = write_config(tmp_path, key=key)
    log = tmp_path / "passerelle.log"
    result = invoke("--log-file", str(log), "sync", "acme", "--config", str(config), *NOW)
    assert result.exit_code == 3, result.output
    assert "memsink" in result.output
    report = latest(config)
    assert report is not None
    assert report.outcome == "failed"
    assert report.error is not None
    assert "memsink" in report.error
    for text in (
        result.output,
        log.read_text(),
        report.model_dump_json(),
        (tmp_path / "state.db").read_bytes().decode("utf-8", "replace"),
    ):
        assert SECRET not in text


def test_dry_run_writes_nothing_not_even_state(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = invoke("sync", "acme", "--dry-run", "--config", str(config), *NOW)
    assert result.exit_code == 0, result.output
    assert "dry run" in result.stdout
    assert not (tmp_path / "state.db").exists()
    assert latest(config) is None


def test_an_optional_transformer_runs_only_where_enabled(tmp_path: Path) -> None:
    config = write_config(tmp_path, plugins='["shout"]')
    assert invoke("sync", "acme", "--config", str(config), *NOW).exit_code == 0
    assert {s.name for s in sample_plugins.SINKS["acme"].written if hasattr(s, "name")} == {
        "COURSE 1!",
        "COURSE 2!",
    }


def test_unknown_tenant_exits_2_naming_it(tmp_path: Path) -> None:
    result = invoke("sync", "zeta", "--config", str(write_config(tmp_path)))
    assert result.exit_code == 2
    assert "tenant 'zeta': no such tenant (configured: acme)" in result.stderr


def test_bad_config_exits_2_before_any_run(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace("plugins = []", "plugins = []\nhorizon = 3"))
    for command in (["sync", "acme"], ["check"], ["check", "acme"]):
        result = invoke(*command, "--config", str(config))
        assert result.exit_code == 2, (command, result.output)
        assert "tenant 'acme', key 'horizon': unknown key" in result.output
    assert "acme" not in sample_plugins.SINKS, "nothing was opened"


def test_check_reports_each_server(tmp_path: Path) -> None:
    result = invoke("check", "--config", str(write_config(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "source memsource" in result.stdout
    assert "6 records" in result.stdout
    refused = invoke("check", "--config", str(write_config(tmp_path, key="refused-x")))
    assert refused.exit_code == 3
    assert "sink memsink: key" in refused.stdout


def test_plugins_lists_as_json() -> None:
    result = invoke("plugins", "--json")
    assert result.exit_code == 0
    listed = {p["name"]: p for p in json.loads(result.stdout)}
    assert listed["sample"]["provides"] == [
        "source:memsource",
        "sink:memsink",
        "transformer:shout",
        "pipeline:echo-back",
    ]
    assert listed["timetable"]["error"] is None


def test_report_without_runs_says_so(tmp_path: Path) -> None:
    result = invoke("report", "acme", "--config", str(write_config(tmp_path)))
    assert result.exit_code == 0
    assert "No run recorded yet for tenant 'acme'" in result.stdout


def test_schedule_shows_the_next_runs_in_the_tenants_zone(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    config.write_text(
        config.read_text().replace(
            "plugins = []", 'plugins = []\nschedule = ["0 9 * * 1-5", "30 18 * * *"]'
        )
    )
    result = invoke("schedule", "--now", "2025-10-24T06:00:00+00:00", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "2025-10-24 09:00 CEST  2025-10-24 18:30 CEST  2025-10-25 18:30 CEST" in result.stdout


def test_run_refuses_a_bad_configuration(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace("plugins = []", "plugins = []\nhorizon = 3"))
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 2
    assert "tenant 'acme', key 'horizon': unknown key" in result.output
