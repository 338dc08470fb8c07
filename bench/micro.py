"""Small costs that the README quotes, measured one by one.

    .venv/bin/python -m bench.micro

CPU time per operation (this process, user + system), each repeated enough to be steady:
an HTTP client built with a fresh TLS context and with passerelle's shared one; a state
save to a SQLite file; a request to the Edusign sandbox on loopback (client and server
in this one process, so an upper bound for the client alone); masking a log line with
the secrets of 200 tenants registered (every escaped form of each); a CELCAT page of 1,000
rows parsed by ``json.loads`` and by ``core.http.parse_json`` (which also bounds its depth
and numbers).

Wall time, a new process each time: ``passerelle --help``, from start to exit (what a
person waits for; the interpreter's own start included).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import httpx

from core.asgi import serve_app
from core.http import HttpOptions, http_client, parse_json
from core.logs import mask_secrets, redact
from core.sandbox.quirks import Quirks
from core.state import Synced, open_state
from sinks.edusign.sandbox import EdusignSandbox


def cpu_ms(operation: Callable[[], object], times: int) -> float:
    start = time.process_time()
    for _ in range(times):
        operation()
    return (time.process_time() - start) / times * 1000


async def async_cpu_ms(operation: Callable[[], Awaitable[object]], times: int) -> float:
    start = time.process_time()
    for _ in range(times):
        await operation()
    return (time.process_time() - start) / times * 1000


def wall_ms(command: list[str], times: int) -> float:
    """Wall time of a whole process, start to exit, averaged over ``times`` runs."""
    start = time.perf_counter()
    for _ in range(times):
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) / times * 1000


def _uncounted(service: str) -> None:
    return None


async def measure(folder: Path) -> list[tuple[str, float]]:
    options = HttpOptions(url="https://example.org")
    figures = [
        ("HTTP client, fresh TLS context", cpu_ms(httpx.AsyncClient, 20)),
        ("HTTP client, shared TLS context (passerelle)",
         cpu_ms(lambda: http_client(options, service="s", tenant="t", meter=_uncounted), 200)),
    ]  # fmt: skip
    mask_secrets(f"K\\ey\"{tenant}'%{{}}é-{kind}" for tenant in range(200) for kind in range(3))
    line = "2026-12-04 11:07:12.345 INFO    acme 5f0c timetable run finished: ok " * 2
    figures.append(
        ("log line masked, 600 secrets registered", cpu_ms(lambda: redact(line), 10_000))
    )
    page = json.dumps(
        [
            {
                "id": n,
                "name": f"MARTIN, Léa {n}",
                "email": f"lea.{n}@example.org",
                "groupIds": [n, n + 1],
            }
            for n in range(1000)
        ]
    ).encode()
    figures += [
        ("JSON page of 1,000 rows, json.loads", cpu_ms(lambda: json.loads(page), 50)),
        ("JSON page of 1,000 rows, parse_json (bounded)", cpu_ms(lambda: parse_json(page), 50)),
    ]  # fmt: skip
    async with open_state(f"sqlite:///{folder / 'state.db'}") as store:
        count = iter(range(10**9))
        synced = Synced("remote", "fingerprint", {"students": ["s"] * 20})
        figures.append(
            ("state save, SQLite file",
             await async_cpu_ms(lambda: store.save("t", "session", f"{next(count)}", synced), 1000))
        )  # fmt: skip
    # The bench measures passerelle, it does not test its conformance (tests/contract
    # does): a plain server, whose answers cost no reordering or rewording.
    sandbox = EdusignSandbox(keep_requests=0, quirks=Quirks(None))
    sandbox.add_school("key")
    async with (
        serve_app(sandbox.app) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer key"}) as client,
    ):
        await async_cpu_ms(lambda: client.get("/v1/school"), 50)  # connections warm
        figures.append(
            ("request on loopback, client and server",
             await async_cpu_ms(lambda: client.get("/v1/school"), 1000))
        )  # fmt: skip
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="passerelle-micro-") as folder:
        for what, ms in anyio.run(measure, Path(folder)):
            print(f"{ms:8.3f} ms CPU  {what}")
    passerelle = str(Path(sys.executable).parent / "passerelle")
    print(f"{wall_ms([passerelle, '--help'], 10):8.3f} ms wall passerelle --help")


if __name__ == "__main__":
    main()
