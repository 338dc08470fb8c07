"""A whole world for end-to-end tests: a generated CELCAT institution, an Edusign school,
a state store between them, and a clock that only moves when someone sleeps."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from adapters.celcat.plugin import CelcatOptions, open_source
from adapters.celcat.sandbox import CelcatSandbox, Institution, generate_institution
from core.protocols import Pipeline, Seams, Setup
from core.report import RunReport
from core.state import StateStore, open_state
from core.stream import run_pipeline
from core.timetable import session_rules
from sinks.edusign.plugin import EdusignOptions, open_sink
from sinks.edusign.sandbox import EdusignSandbox, School
from tests.doubles import PARIS, context

NOW = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)  # window: Oct 21..Nov 3
KEY = "edusign-key-acme-0001"
WRITES = ("POST", "PATCH", "PUT", "DELETE")


class FakeClock:
    """Time that passes only when someone sleeps, jumping to the sleeper's wake-up time:
    pacing and retries cost no real time, and concurrent sleeps overlap as they would."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        wake = self.now + max(seconds, 0.0)
        await anyio.lowlevel.checkpoint()
        self.now = max(self.now, wake)


@dataclass
class World:
    """A CELCAT institution, an Edusign school, and a state store between them."""

    inst: Institution
    celcat: CelcatSandbox
    edusign: EdusignSandbox
    school: School
    store: StateStore
    clock: FakeClock = field(default_factory=FakeClock)
    sink_options: dict[str, Any] = field(default_factory=dict)
    celcat_options: dict[str, Any] = field(default_factory=dict)
    tenant: str = "acme"
    shared: bool = False
    """Another tenant writes to this world's school (``Setup.shared``)."""

    async def sync(
        self, *, now: datetime = NOW, dry_run: bool = False, store: StateStore | None = None
    ) -> RunReport:
        ctx = context(store or self.store, tenant=self.tenant, now=now, dry_run=dry_run)
        builder = ctx.report
        celcat = CelcatOptions.model_validate(
            {"url": "http://celcat", "api_code": "c", **self.celcat_options}
        )
        edusign = EdusignOptions.model_validate(
            {"url": "http://edusign", "api_key": KEY, **self.sink_options}
        )
        seams = self.seams()
        async with (
            open_source(Setup(self.tenant, PARIS, celcat, builder.call, seams=seams)) as source,
            open_sink(
                Setup(self.tenant, PARIS, edusign, builder.call, shared=self.shared, seams=seams)
            ) as sink,
        ):
            await run_pipeline(Pipeline(source, sink, session_rules(celcat), concurrency=4), ctx)
        return builder.finish(now)

    def seams(self) -> Seams:
        """Both sandboxes in process, and the world's clock for every wait."""
        return Seams(
            transports={
                "celcat": httpx.ASGITransport(self.celcat.app),
                "edusign": httpx.ASGITransport(self.edusign.app),
            },
            sleep=self.clock.sleep,
            monotonic=self.clock,
        )

    def writes(self) -> Counter[str]:
        return Counter({k: n for k, n in self.edusign.calls.items() if k.split()[0] in WRITES})

    def ours(self, kind: str) -> list[dict[str, Any]]:
        records = {
            "course": self.school.courses,
            "student": self.school.students,
            "professor": self.school.professors,
            "group": self.school.groups,
        }[kind]
        return [r for r in records.values() if r.get("API_TYPE") == "passerelle"]

    def course(self, key: str) -> dict[str, Any] | None:
        return self.school.find("course", key)


@asynccontextmanager
async def new_world(seed: int = 5) -> AsyncIterator[World]:
    """A world of its own: a generated institution, an empty school, an empty store."""
    inst = generate_institution(
        seed=seed,
        start=date(2025, 10, 21),
        days=14,
        students=80,
        staff=14,
        groups=6,
        timetables=2,
    )
    edusign = EdusignSandbox()
    school = edusign.add_school(KEY, name="Acme Formation")
    async with open_state("sqlite://") as store:
        world = World(inst, CelcatSandbox(inst, api_code="c"), edusign, school, store)
        edusign.clock = world.clock  # the sandbox's clock is the test's
        yield world


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with new_world() as made:
        yield made
