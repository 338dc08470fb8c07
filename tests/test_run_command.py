"""``passerelle run`` as a real process: scheduled runs, health endpoint, reload, SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx
import pytest
from anyio.abc import Process
from prometheus_client.parser import text_string_to_metric_families

from adapters.celcat.sandbox import CelcatSandbox, generate_institution
from core.asgi import serve_app
from sinks.edusign.sandbox import EdusignSandbox
from tests.processes import PASSERELLE, logged, running, terminated, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # a worker process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_the_worker_runs_on_schedule_reloads_and_stops_on_sigterm(tmp_path: Path) -> None:
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)  # a real process, a real clock
    inst = generate_institution(
        seed=4, start=tomorrow, days=7, students=60, staff=10, groups=3, timetables=1
    )
    celcat = CelcatSandbox(inst, api_code="c")
    edusign = EdusignSandbox()
    edusign.add_school("k-run", name="Run School")
    health = f"127.0.0.1:{free_port()}"
    log = tmp_path / "worker.log"
    async with serve_app(celcat.app) as celcat_url, serve_app(edusign.app) as edusign_url:
        config = tmp_path / "plugins.toml"
        good = f"""
[worker]
state_url = "sqlite:///{tmp_path / "state.db"}"
health_address = "{health}"
shutdown_timeout_seconds = 10

[tenants.acme]
schedule = ["* * * * * */3"]   # every 3 seconds: a test needs no minute-long wait

[tenants.acme.celcat]
url = "{celcat_url}"
api_code = "c"

[tenants.acme.edusign]
url = "{edusign_url}"
api_key = "k-run"
requests_per_minute = 60000
"""
        config.write_text(good)
        env = {**os.environ, "NO_COLOR": "1"}
        process: Process = await anyio.open_process(
            [PASSERELLE, "--log-file", str(log), "run", "--config", str(config)], env=env
        )
        async with running(process), httpx.AsyncClient(base_url=f"http://{health}") as client:
            await wait_for(lambda: logged(log, "timetable run finished"), "a scheduled run")

            async def healthy() -> bool:
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(healthy, "/healthz")
            metrics = (await client.get("/metrics")).text
            runs = {
                s.labels["outcome"]: s.value
                for family in text_string_to_metric_families(metrics)
                for s in family.samples
                if s.name == "passerelle_runs_total"
            }
            assert runs.get("ok", 0) >= 1

            config.write_text(good + "\n[tenants.beta]\nhorizon_dayz = 3\n")
            process.send_signal(signal.SIGHUP)

            await wait_for(lambda: logged(log, "reload refused"), "the bad reload refused")
            code = await terminated(process)
    assert code == 0
    text = log.read_text()
    assert "stopping gracefully" in text
    assert "worker stopped" in text
