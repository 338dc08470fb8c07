"""``passerelle demo``, as a newcomer runs it: offline, no configuration, every step."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import anyio
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # the demo as a process

PASSERELLE = str(Path(sys.executable).parent / "passerelle")
ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}


def counts(output: str, kind: str) -> list[list[int]]:
    """Every row of ``kind`` in the counts tables, in order."""
    return [
        [int(n) for n in m.group(1).split()]
        for m in re.finditer(rf"^{kind}\s+((?:\d+\s+){{5}}\d+)\s*$", output, re.MULTILINE)
    ]


async def test_the_demo_tells_the_whole_story(tmp_path: Path) -> None:
    result = await anyio.run_process([PASSERELLE, "demo"], cwd=tmp_path, env=ENV, check=False)
    output = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    first, second = counts(output, "session")[:2]
    created, updated, deleted, unchanged, _, failed = second
    assert first[0] > 100, "a first sync creates the sheets"
    assert updated >= 1, "a renamed course is updated"
    assert deleted >= 2, "a cancelled course and a moved one leave"
    assert created >= 1, "the moved course comes back on its new day"
    assert unchanged > 100, "everything else is left alone"
    assert failed == 0
    (marks,) = counts(output, "mark")
    assert marks[1] > 0, "marks go back to CELCAT"
    assert re.search(r"CELCAT \(CAWS\) received [1-9]\d* register", output)
    for reason in ("invalid_instructor", "duplicate_instructor_email", "no_valid_student"):
        assert reason in output, "the report explains what was left out"
    left = [p async for p in anyio.Path(tmp_path).iterdir()]
    assert left == [], "nothing written outside a temporary folder"


async def test_keep_running_leaves_working_sandboxes(tmp_path: Path) -> None:
    demo = await anyio.open_process([PASSERELLE, "demo", "--keep-running"], cwd=tmp_path, env=ENV)
    try:
        assert demo.stdout is not None
        seen = b""
        with anyio.fail_after(60):
            async for chunk in demo.stdout:
                seen += chunk
                if b"[tenants.demo.edusign]" in seen and b"requests_per_minute" in seen:
                    break
        config = re.search(rb"--config (\S+plugins\.toml)", seen)
        assert config is not None
        check = await anyio.run_process(
            [PASSERELLE, "check", "demo", "--config", config.group(1).decode()],
            env=ENV,
            check=False,
        )
        assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
        assert b"school: Demo school" in check.stdout
        demo.send_signal(signal.SIGINT)
        with anyio.fail_after(30):
            assert await demo.wait() == 0
    finally:
        if demo.returncode is None:
            demo.kill()
        await demo.aclose()
    assert not await anyio.Path(config.group(1).decode()).exists(), "the temporary folder is gone"
