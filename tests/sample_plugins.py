"""Plugins the tests load through entry points: an in-memory source and sink with secrets,
an optional transformer, and an observer.

Tests put the records a tenant's source yields in ``DATASETS[tenant]`` and read what its
sink received in ``SINKS[tenant]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import EntryPoint

from pydantic import SecretStr

from core import (
    CallMeter,
    CategoryFilterOptions,
    CredentialsRefused,
    Event,
    Pipeline,
    PipelineSpec,
    PluginOptions,
    Record,
    RunContext,
    RunReport,
    Session,
    Setup,
    SinkSpec,
    SourceSpec,
    TenantPlan,
    TransformerSpec,
    hookimpl,
)
from core.plugins import ENTRY_POINT_GROUP
from tests.doubles import MemorySink, MemorySource

DATASETS: dict[str, list[Record]] = {}
SINKS: dict[str, MemorySink] = {}
OBSERVED: list[tuple[str, str]] = []


def entry_point(name: str, module: str) -> EntryPoint:
    return EntryPoint(name=name, value=module, group=ENTRY_POINT_GROUP)


class MemSourceOptions(CategoryFilterOptions):
    api_code: SecretStr | None = None


class MemSinkOptions(PluginOptions):
    api_key: SecretStr
    refuse: list[str] = []


@asynccontextmanager
async def open_source(setup: Setup[MemSourceOptions]) -> AsyncIterator[MemorySource]:
    yield MemorySource(DATASETS.get(setup.tenant, []))


@asynccontextmanager
async def open_sink(setup: Setup[MemSinkOptions]) -> AsyncIterator[MemorySink]:
    key = setup.options.api_key.get_secret_value()
    if key.startswith("refused"):
        raise CredentialsRefused("memsink", f"key {key} refused")
    sink = SINKS.setdefault(setup.tenant, MemorySink())
    sink.refuse = set(setup.options.refuse)
    yield sink


class ShoutOptions(PluginOptions):
    suffix: str = "!"


class Shout:
    def __init__(self, suffix: str) -> None:
        self._suffix = suffix

    async def transform(self, record: Record, ctx: RunContext) -> Record | None:
        if isinstance(record, Session):
            return dataclasses.replace(record, name=record.name.upper() + self._suffix)
        return record


@asynccontextmanager
async def open_shout(setup: Setup[ShoutOptions]) -> AsyncIterator[Shout]:
    yield Shout(setup.options.suffix)


@hookimpl
def passerelle_register_sources(register: Callable[[SourceSpec], None]) -> None:
    register(SourceSpec(name="memsource", options=MemSourceOptions, open=open_source))


@hookimpl
def passerelle_register_sinks(register: Callable[[SinkSpec], None]) -> None:
    register(SinkSpec(name="memsink", options=MemSinkOptions, open=open_sink))


@hookimpl
def passerelle_register_transformers(register: Callable[[TransformerSpec], None]) -> None:
    register(TransformerSpec(name="shout", options=ShoutOptions, open=open_shout, optional=True))


@hookimpl
def passerelle_run_started(tenant: str, pipeline: str, run_id: str) -> None:
    OBSERVED.append(("started", tenant))


@hookimpl
def passerelle_object_skipped(event: Event) -> None:
    """Declares only the argument it uses, as pluggy allows."""
    OBSERVED.append(("skipped", event.reason))


@hookimpl
def passerelle_object_failed(event: Event) -> None:
    OBSERVED.append(("failed", event.reason))


@hookimpl
def passerelle_run_finished(report: RunReport) -> None:
    OBSERVED.append(("finished", str(report.outcome)))


@asynccontextmanager
async def open_echo(plan: TenantPlan, meter: CallMeter) -> AsyncIterator[Pipeline[Record]]:
    """An optional pipeline: the tenant's own source into its own sink, untouched."""
    source_spec, source_options = plan.source
    sink_spec, sink_options = plan.sink
    async with (
        source_spec.open(Setup(plan.tenant, plan.timezone, source_options, meter)) as source,
        sink_spec.open(Setup(plan.tenant, plan.timezone, sink_options, meter)) as sink,
    ):
        yield Pipeline(source, sink)


@hookimpl
def passerelle_register_pipelines(register: Callable[[PipelineSpec], None]) -> None:
    register(PipelineSpec(name="echo-back", open=open_echo, optional=True))
