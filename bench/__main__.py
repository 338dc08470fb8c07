"""The benchmarks: passerelle's API calls and time against the minimum, a naive sync, and
scale across tenants. One command prints the table and writes it as JSON:

    .venv/bin/python -m bench [--size full|tiny] [--latency-ms 20] [--rate-scale 10]
                              [--tenants-rate-scale 1] [--json PATH] [--readme]

The sandboxes run in a process of their own (``bench.host``), on loopback, each request
delayed by ``--latency-ms``. Each scenario runs in a fresh process, so that its CPU time
and peak memory are its own. ``--readme`` rewrites the figures in README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream
from rich.console import Console

from bench.product import Budget, Urls
from bench.report import readme_with, table
from bench.world import SIZES, Size, first_day

HOST_START_TIMEOUT = 600.0  # seconds: generating 200 institutions takes a while


@dataclass(frozen=True, slots=True)
class Settings:
    size: str
    latency_ms: float
    rate_scale: float
    tenants_rate_scale: float

    @property
    def sizes(self) -> Size:
        return SIZES[self.size]


def plan(settings: Settings) -> dict[str, Any]:
    """What the sandbox host serves: every tenant of every scenario, and their keys."""
    sizes = settings.sizes
    tenants = [sizes.large, *sizes.small_tenant_list(), sizes.solo()]
    keys = [t.edusign_key for t in tenants] + [sizes.large.edusign_key + "-naive"]
    return {
        "first_day": first_day(datetime.now(UTC)).isoformat(),
        "per_minute": Budget(settings.rate_scale).per_minute,
        "tenants": [t.as_json() for t in tenants],
        "edusign_keys": keys,
    }


async def scenario(module: str, *args: str) -> dict[str, Any]:
    """Run ``python -m bench.<module> ARGS`` and return the JSON of its last line."""
    done = await anyio.run_process(
        [sys.executable, "-m", f"bench.{module}", *args], stderr=None, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


async def started(process: Process) -> Urls:
    assert process.stdout is not None
    with anyio.fail_after(HOST_START_TIMEOUT):
        async for line in TextReceiveStream(process.stdout):
            return Urls.parse(line)
    raise RuntimeError("the sandbox host stopped before it listened")


async def run(settings: Settings, console: Console) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="passerelle-bench-") as folder:
        root = Path(folder)
        plan_path = root / "plan.json"
        plan_path.write_text(json.dumps(plan(settings)), encoding="utf-8")
        command = [sys.executable, "-m", "bench.host", "--plan", str(plan_path)]
        command += ["--latency-ms", str(settings.latency_ms)]
        console.print(f"Starting the sandboxes ({settings.size} size) ...")
        async with await anyio.open_process(command, stderr=None) as host:
            try:
                urls = await started(host)
                common = ["--urls", json.dumps(asdict(urls)), "--size", settings.size]
                (root / "large").mkdir()
                (root / "tenants").mkdir()
                console.print("1-3. A large tenant: first sync, re-syncs, naive sync ...")
                large = await scenario(
                    "large_tenant", *common, "--rate-scale", str(settings.rate_scale),
                    "--folder", str(root / "large"),
                )  # fmt: skip
                console.print(f"4. {settings.sizes.small_tenants} small tenants in one worker ...")
                tenants = await scenario(
                    "many_tenants", *common, "--rate-scale", str(settings.tenants_rate_scale),
                    "--folder", str(root / "tenants"),
                )  # fmt: skip
            finally:
                host.terminate()
        console.print("5. Engine overhead, HTTP stubbed ...")
        engine = []
        for occurrences in (
            settings.sizes.engine_occurrences // 10,
            settings.sizes.engine_occurrences,
        ):
            (root / f"engine-{occurrences}").mkdir()
            engine.append(
                await scenario(
                    "engine",
                    "--occurrences",
                    str(occurrences),
                    "--folder",
                    str(root / f"engine-{occurrences}"),
                )
            )
    return {
        "settings": asdict(settings),
        "machine": machine(),
        "large_tenant": large,
        "many_tenants": tenants,
        "engine": engine,
    }


def machine() -> dict[str, Any]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "processor": _processor(),
    }


def _processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--rate-scale", type=float, default=10.0, help="large tenant's budget")
    parser.add_argument("--tenants-rate-scale", type=float, default=1.0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--readme", action="store_true", help="write the figures in README.md")
    args = parser.parse_args()
    settings = Settings(args.size, args.latency_ms, args.rate_scale, args.tenants_rate_scale)
    console = Console() if sys.stdout.isatty() else Console(width=140)  # a log, not a tty
    results = anyio.run(run, settings, console)
    console.print(table(results))
    target = args.json or Path(f"bench/results-{settings.size}.json")
    target.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    console.print(f"Written to {target}")
    if args.readme:
        readme = Path("README.md")
        readme.write_text(readme_with(readme.read_text(encoding="utf-8"), results), "utf-8")
        console.print("README.md updated")


if __name__ == "__main__":
    main()
