"""A third-party plugin, pip-installed with its own entry point, runs a pipeline through
the real ``passerelle`` command; core/ is not touched. A broken one disables only the
tenant that uses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # pip-installed plugins, the passerelle command

FIXTURES = Path(__file__).parent / "fixtures"
PASSERELLE = Path(sys.executable).parent / "passerelle"


def passerelle(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "NO_COLOR": "1"}
    env.pop("PASSERELLE_CONFIG", None)
    return subprocess.run(
        [str(PASSERELLE), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_plugins_lists_the_installed_and_the_broken(plugin_site: Path, tmp_path: Path) -> None:
    result = passerelle(plugin_site, tmp_path, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    listed = {p["name"]: p for p in json.loads(result.stdout)}
    assert listed["toy"]["version"] == "1.2.3"
    assert listed["toy"]["origin"] == "passerelle-toy (toy_erp)"
    assert listed["toy"]["provides"] == ["source:toy", "sink:outbox"]
    assert listed["broken"]["error"] == (
        "ModuleNotFoundError: No module named 'passerelle_missing_dependency'"
    )


def test_a_pipeline_runs_through_the_installed_plugin(plugin_site: Path, tmp_path: Path) -> None:
    (tmp_path / "erp.json").write_text(
        json.dumps(
            {
                "people": [
                    {
                        "id": 1,
                        "kind": "instructor",
                        "first": "Grace",
                        "last": "HOPPER",
                        "email": "grace@school.example",
                    },
                    {
                        "id": 2,
                        "kind": "student",
                        "first": "Alan",
                        "last": "TURING",
                        "email": "alan@school.example",
                    },
                ],
                "sessions": [
                    {
                        "id": 7,
                        "name": "Compilers",
                        "start": "2025-10-21T09:00",
                        "end": "2025-10-21T11:00",
                        "instructors": [1],
                        "students": [2],
                    },
                    {
                        "id": 8,
                        "name": "Staff meeting",
                        "category": "Meeting",
                        "start": "2025-10-22T09:00",
                        "end": "2025-10-22T10:00",
                        "instructors": [1],
                        "students": [2],
                    },
                ],
            }
        )
    )
    (tmp_path / "plugins.toml").write_text("""
[tenants.school.toy]
path = "erp.json"
event_category_names_excluded = ["meeting"]

[tenants.school.outbox]
path = "outbox.jsonl"

[tenants.other.broken]
[tenants.other.outbox]
path = "other.jsonl"
""")
    result = passerelle(plugin_site, tmp_path, "sync", "school", "--now", "2025-10-20T12:00")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (tmp_path / "outbox.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"id": "toy:7", "name": "Compilers", "students": ["alan@school.example"]}
    ]

    report = json.loads(passerelle(plugin_site, tmp_path, "report", "school", "--json").stdout)
    assert report["outcome"] == "ok"
    assert [(e["reason"], e["key"]) for e in report["events"]] == [("category_filtered", "toy:8")]

    broken = passerelle(plugin_site, tmp_path, "sync", "other")
    assert broken.returncode == 2
    assert "tenant 'other', key 'broken': plugin 'broken' could not be loaded" in broken.stderr
    assert not (tmp_path / "other.jsonl").exists()
