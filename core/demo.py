"""``passerelle demo``: the whole product against sandboxes, in under a minute, offline.

The core knows no sandbox: each plugin that can be demonstrated registers a ``demo``
factory on its spec, which serves its sandbox on loopback and answers for its part of
the story (the source changes the timetable, the sink has sheets signed, a pipeline shows
what it sent). The story: a first sync; changes in the source and a second sync (updates,
deletions, and no rewrite of what did not change); days later, attendance taken, and each
optional pipeline that has a demo (attendance sent back, say). It names the plugins as
they registered, and no other. Everything lives in a temporary folder.
"""

from __future__ import annotations

import json
import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console
from rich.rule import Rule

from core.config import Config, load_config
from core.console import report_view
from core.logs import mask_secrets
from core.plugins import Registry
from core.protocols import DemoServer, DemoSettings, PipelineSpec, SinkSpec, SourceSpec
from core.report import RunReport
from core.runner import run_tenant
from core.state import StateStore, open_state

TENANT = "demo"


async def run_demo(registry: Registry, console: Console, keep_running: bool) -> None:
    specs: list[SourceSpec | SinkSpec | PipelineSpec] = [
        *registry.sources.values(),
        *registry.sinks.values(),
        *registry.pipelines.values(),
    ]
    parts = [(spec.name, spec.demo) for spec in specs if spec.demo is not None]
    now = datetime.now(UTC).replace(microsecond=0)
    settings = DemoSettings(seed=2025, first_day=now.date() + timedelta(days=1))
    with tempfile.TemporaryDirectory(prefix="passerelle-demo-") as folder:
        async with AsyncExitStack() as stack:
            servers: dict[str, DemoServer] = {}
            for name, factory in parts:
                servers[name] = await stack.enter_async_context(factory(settings))
            config = _configure(Path(folder), servers, registry)
            tenant = config.tenant(TENANT)
            async with open_state(config.worker.state_url) as store:
                story = _Story(config, registry, store, console)
                await story.run(f"1. First sync: {tenant.source} into {tenant.sink}", now)
                for name, server in servers.items():
                    story.say(name, await server.change())
                await story.run(
                    f"2. After changes in {tenant.source}: updates, deletions, "
                    "nothing rewritten that did not change",
                    now,
                )
                later = now + timedelta(days=4)
                for name, server in servers.items():
                    story.say(name, await server.attend(later))
                optional = [p for p in tenant.settings.plugins if p in registry.pipelines]
                for step, pipeline in enumerate(optional, start=3):
                    await story.run(
                        f"{step}. Four days later: the optional {pipeline} pipeline",
                        later,
                        pipeline=pipeline,
                    )
                for name, server in servers.items():
                    story.say(name, server.received())
            if keep_running:
                path = Path(folder) / "plugins.toml"
                console.print(Rule("The sandboxes keep running (Ctrl-C stops them)"))
                console.print(f"Try: passerelle check {TENANT} --config {path}", markup=False)
                console.print(path.read_text(), markup=False)
                await anyio.sleep_forever()


@dataclass
class _Story:
    config: Config
    registry: Registry
    store: StateStore
    console: Console

    async def run(self, title: str, now: datetime, pipeline: str = "timetable") -> RunReport:
        self.console.print(Rule(title))
        report = await run_tenant(self.config, self.registry, self.store, TENANT, pipeline, now=now)
        self.console.print(report_view(self.console, report))
        return report

    def say(self, part: str, lines: list[str]) -> None:
        """What a plugin's sandbox did or saw, under the plugin's registered name."""
        for line in lines:
            self.console.print(f"  {part}: {line}", markup=False, highlight=False)


def _configure(folder: Path, servers: dict[str, DemoServer], registry: Registry) -> Config:
    optional = [name for name in servers if name in registry.pipelines]
    lines = [
        "[worker]",
        f'state_url = "sqlite:///{folder / "state.db"}"',
        "",
        f"[tenants.{TENANT}]",
        f"plugins = {optional!r}".replace("'", '"'),
        "",
    ]
    for name, server in servers.items():
        lines.append(f"[tenants.{TENANT}.{name.replace('-', '_')}]")
        lines += [f"{key} = {_toml(value)}" for key, value in server.options.items()]
        lines.append("")
    path = folder / "plugins.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    config = load_config(path, registry)
    mask_secrets(config.secrets)
    if config.problems:
        raise RuntimeError(f"the demo's own configuration is invalid: {config.problems}")
    return config


def _toml(value: Any) -> str:
    """A TOML value: JSON's strings, numbers, booleans and arrays are TOML's too."""
    return json.dumps(value, ensure_ascii=False)
