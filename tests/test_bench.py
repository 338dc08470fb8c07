"""The benchmark command, run at its tiny size: it must keep working, and what it counts
must hold for passerelle whatever the machine (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.report import BEGIN, END, readme_with, rows
from bench.world import SIZES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("bench") / "results.json"
    subprocess.run(
        # No added latency and a budget nothing waits on: the counts asserted here do not
        # depend on time, and the run costs its CPU only.
        [
            *(sys.executable, "-m", "bench", "--size", "tiny", "--latency-ms", "0"),
            *("--rate-scale", "100", "--tenants-rate-scale", "100", "--json", str(target)),
        ],
        check=True,
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        timeout=600,
    )
    loaded: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    return loaded


def test_a_first_sync_writes_each_object_once_after_one_listing_per_kind(
    results: dict[str, Any],
) -> None:
    large = results["large_tenant"]
    assert all(large["objects"][kind] > 0 for kind in ("student", "professor", "group", "course"))
    assert large["first"]["objects_written"] == large["minimum_writes"]
    assert large["first"]["edusign_writes"] == large["minimum_writes"]
    assert large["first"]["edusign_reads"] == large["minimum_reads"]
    assert large["first"]["celcat_calls"] == large["celcat_minimum"]
    assert large["first"]["edusign_slowed"] == 0


def test_a_resync_writes_nothing_unless_something_changed_and_then_one_write_per_sheet(
    results: dict[str, Any],
) -> None:
    large = results["large_tenant"]
    assert large["resync"]["edusign_calls"] == 0
    assert large["changed_sheets"] >= 1
    assert large["changed"]["edusign_writes"] == large["changed_sheets"]


def test_the_naive_sync_looks_up_everyone_and_rewrites_every_sheet(
    results: dict[str, Any],
) -> None:
    large = results["large_tenant"]
    naive = large["naive_resync"]
    objects = large["objects"]
    assert naive["edusign_writes"] == objects["course"]
    assert naive["edusign_reads"] == sum(objects.values())


def test_every_small_tenant_runs_once_in_the_worker(results: dict[str, Any]) -> None:
    tenants = results["many_tenants"]
    assert tenants["tenants"] == SIZES["tiny"].small_tenants
    assert tenants["objects_written"] > 0
    assert tenants["objects_failed"] == 0


def test_the_engine_writes_every_session(results: dict[str, Any]) -> None:
    engine = results["engine"]
    assert [run["sessions_created"] for run in engine] == [run["occurrences"] for run in engine]


def test_the_readme_block_is_rewritten_from_the_results(results: dict[str, Any]) -> None:
    readme = f"# Title\n\n{BEGIN}\nold figures\n{END}\n\nThe rest.\n"
    written = readme_with(readme, results)
    assert "old figures" not in written
    assert written.startswith("# Title\n\n")
    assert written.endswith("\n\nThe rest.\n")
    for row in rows(results):
        assert f"| {row.measure} | {row.value} |" in written
    with pytest.raises(ValueError, match="no <!-- bench:begin -->"):
        readme_with("# No block\n", results)
