"""Usage and configuration mistakes end in exit 2 with a clear message, never a
traceback, a hang or a memory blow-up (issue 15, points 7 and 10)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError
from core.plugins import default_registry

pytestmark = pytest.mark.slow  # the passerelle command

PASSERELLE = str(Path(sys.executable).parent / "passerelle")
DEADLINE = 60  # a safety net against a hang, not a measure: each command ends far sooner
MEMORY_LIMIT = 1024 * 1024 * 1024  # 1 GiB of address space: reading /dev/zero would pass it


def env() -> dict[str, str]:
    """The command runs this checkout's code, whatever is installed."""
    here = str(Path(__file__).parents[1])
    path = os.pathsep.join(filter(None, (here, os.environ.get("PYTHONPATH"))))
    return {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "200"}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def passerelle(*args: str) -> tuple[int, str]:
    result = subprocess.run(
        [PASSERELLE, *args],
        capture_output=True,
        env=env(),
        timeout=DEADLINE,
        preexec_fn=_limit_memory,  # before exec: the limit is the child's alone
        check=False,
    )
    return result.returncode, (result.stdout + result.stderr).decode()


def write_config(folder: Path, edusign: str = 'api_key = "edusign-key"') -> Path:
    config = folder / "plugins.toml"
    config.write_text(
        f"""
[worker]
state_url = "sqlite:///{folder / "state.db"}"

[tenants.acme.celcat]
url = "http://127.0.0.1:9"
retries = 0

[tenants.acme.edusign]
url = "http://127.0.0.1:9"
retries = 0
{edusign}
""",
        encoding="utf-8",
    )
    return config


def test_an_unknown_log_level_is_a_usage_error(tmp_path: Path) -> None:
    code, output = passerelle(
        "--log-level", "verbose", "report", "acme", "--config", str(write_config(tmp_path))
    )
    assert "Traceback" not in output, output
    assert code == 2, output
    assert "--log-level" in output, output
    assert "verbose" in output, output


def test_a_log_file_that_cannot_be_opened_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    code, output = passerelle(
        "--log-file", "/nonexistent/x.log", "report", "acme", "--config", str(config)
    )
    assert "Traceback" not in output, output
    assert code == 2, output
    assert "/nonexistent/x.log" in output, output


def test_report_of_an_unknown_pipeline_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    code, output = passerelle("report", "acme", "--pipeline", "nope", "--config", str(config))
    assert code == 2, output
    assert "nope" in output, output
    assert "No run recorded" not in output, output


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "too big"])
def test_a_secret_file_that_is_no_small_regular_file_is_a_config_error(
    tmp_path: Path, kind: str
) -> None:
    if kind == "fifo":
        secret = tmp_path / "secret.fifo"
        os.mkfifo(secret)  # nobody writes it: reading would wait for ever
    elif kind == "/dev/zero":
        secret = Path("/dev/zero")
    else:
        secret = tmp_path / "secret.txt"
        secret.write_bytes(b"k" * (64 * 1024 + 1))
    config = write_config(tmp_path, f'api_key_file = "{secret}"')
    code, output = passerelle("check", "--config", str(config))
    assert "Traceback" not in output, output
    assert code == 2, output
    assert "tenant 'acme'" in output, output
    assert "edusign.api_key_file" in output, output


def test_toml_nested_too_deeply_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "plugins.toml"
    config.write_text("x = " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="nested too deeply") as raised:
        load_config(config, default_registry())
    assert str(config) in str(raised.value)
    code, output = passerelle("check", "--config", str(config))
    assert "Traceback" not in output, output
    assert code == 2, output
    assert str(config) in output, output


def test_a_tenant_name_ending_in_a_newline_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    config.write_text(
        config.read_text(encoding="utf-8").replace("tenants.acme.", 'tenants."acme\\n".'),
        encoding="utf-8",
    )
    loaded = load_config(config, default_registry())
    assert "acme\n" not in loaded.tenants
    assert [p.tenant for p in loaded.problems] == ["acme\n"]
    assert "lower-case letters" in loaded.problems[0].problem
