"""The typed async protocols a plugin implements, and the specs it registers them with.

pluggy only registers and observes; execution is plain ``await``. Every spec (source,
sink, transformer, pipeline) has one verb, ``open``: a factory returning an *async
context manager*, so the plugin owns its resources (HTTP clients, connections) for
exactly the length of a run:

    @asynccontextmanager
    async def open_source(setup: Setup[MyOptions]) -> AsyncIterator[MySource]:
        transport = setup.seams.transport("my-erp")
        async with httpx.AsyncClient(timeout=10, transport=transport) as http:
            yield MySource(http, setup.options, sleep=setup.seams.sleep)

A factory is the only way to open its spec, in production and in tests alike: what a
test substitutes (HTTP transports, sleep, a monotonic clock) comes in ``setup.seams``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo

import anyio

from core.context import RunContext, Window
from core.options import PluginOptions

if TYPE_CHECKING:
    import httpx

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
R_contra = TypeVar("R_contra", contravariant=True)
O = TypeVar("O", bound=PluginOptions)  # noqa: E741


class CallMeter(Protocol):
    """Counts API calls by service; the count ends up in the run report."""

    def __call__(self, service: str) -> None: ...


def _ignore_call(service: str) -> None:
    """A meter for calls made outside a run (``passerelle check``)."""


@dataclass(frozen=True, slots=True)
class Seams:
    """The outside world as a plugin reaches it, which tests substitute; the defaults
    are production's. A plugin asks for what it uses: ``seams.transport("edusign")``."""

    transports: Mapping[str, httpx.AsyncBaseTransport] = field(default_factory=dict)
    """HTTP transports by service name (the name the plugin counts calls under, e.g.
    ``"celcat"``): a test's in-process sandbox. A service not listed uses the network."""
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    """How a plugin waits (retries, pacing): a test's fake sleep costs no real time."""
    monotonic: Callable[[], float] = anyio.current_time
    """Seconds from an arbitrary start, for intervals (pacing, token lifetimes); not a
    date: ``core.runner.Clock`` is the datetime of a run."""

    def transport(self, service: str) -> httpx.AsyncBaseTransport | None:
        """The transport substituted for ``service``; None: the network."""
        return self.transports.get(service)


PRODUCTION = Seams()


@dataclass(frozen=True, slots=True)
class Setup(Generic[O]):
    """What a factory is given to open a source, sink or pipeline for one tenant."""

    tenant: str
    timezone: ZoneInfo
    options: O
    meter: CallMeter = _ignore_call
    shared: bool = False
    """The tenant's sink target is also another tenant's (``SinkSpec.target``): the sink
    must tell its own objects from theirs."""
    seams: Seams = PRODUCTION
    """What tests substitute (transports, sleep, monotonic clock); production's by default."""


class Source(Protocol[R_co]):
    def read(self, ctx: RunContext) -> AsyncIterator[R_co]:
        """Yield the records in scope for this run, in the order its pipeline documents
        (the timetable's: every ``Person`` before the first ``Session``).

        A record that cannot be read is reported (``ctx.report.skip(..., keep=True)``, or
        ``ctx.report.fail``) and the source goes on. Never raise ``ObjectFailed``: the
        generator could not yield again, so it ends the run. Raise ``RunFailed`` only
        when nothing more can be read.
        """
        ...

    async def check(self) -> list[str]:
        """Prove the credentials work; return lines that say what the server shows."""
        ...


class Transformer(Protocol[R]):
    async def transform(self, record: R, ctx: RunContext) -> R | None:
        """Return the record (maybe changed) to pass it on, or None to drop it.

        A transformer that drops a record says why, with ``ctx.report.skip``.
        """
        ...


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """What a sink's ``finish`` is told about the stream that just ended: everything a
    deletion may rest on, passed explicitly (the run report is for people, not control).
    """

    complete: bool
    """The source read everything in scope. When false, what was not seen is not known to
    be gone, and nothing may be deleted."""
    kept: frozenset[str] = frozenset()
    """Keys that failed, or could not be read, before or in the sink: they still exist at
    the source, and their objects must not be deleted."""


class Sink(Protocol[R_contra]):
    async def write(self, record: R_contra, ctx: RunContext) -> None:
        """Make the target match ``record``. Raise ``ObjectFailed`` for this one object."""
        ...

    async def finish(self, ctx: RunContext, end: StreamEnd) -> None:
        """Called once the stream is exhausted, e.g. to delete what vanished.

        ``end`` holds every input a deletion may rest on: see ``StreamEnd``.
        """
        ...

    async def check(self) -> list[str]:
        """Prove the credentials work; return lines that say what the server shows."""
        ...


@dataclass(frozen=True, slots=True)
class Pipeline(Generic[R]):
    source: Source[R]
    sink: Sink[R]
    transformers: Sequence[Transformer[R]] = ()
    concurrency: int = 4


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """What every part of one demo agrees on: the same seed, the same first day."""

    seed: int
    first_day: date


class DemoServer(Protocol):
    """One plugin's sandbox, served for the demo."""

    @property
    def options(self) -> dict[str, Any]:
        """The tenant's configuration section for this plugin, pointing at the sandbox."""
        ...

    async def change(self) -> list[str]:
        """Change the source's data as people would; say what changed."""
        ...

    async def attend(self, now: datetime) -> list[str]:
        """Have the sheets that ended by ``now`` signed; say what was done."""
        ...

    def received(self) -> list[str]:
        """What this sandbox was sent, worth showing."""
        ...


DemoFactory = Callable[[DemoSettings], AbstractAsyncContextManager[DemoServer]]
"""Serves a plugin's sandbox for ``passerelle demo``."""


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source type. ``name`` is also the tenant's config section that selects it."""

    name: str
    options: type[PluginOptions]
    open: Callable[[Setup[Any]], AbstractAsyncContextManager[Source[Any]]]
    demo: DemoFactory | None = None


@dataclass(frozen=True, slots=True)
class SinkSpec:
    """A sink type. ``name`` is also the tenant's config section that selects it.

    ``attendance``, when the target takes attendance, opens a source of ``Mark`` records
    for the sessions this sink wrote (read from its state), so that attendance can flow
    back to the ERP without the ERP's plugin knowing the target.
    """

    name: str
    options: type[PluginOptions]
    open: Callable[[Setup[Any]], AbstractAsyncContextManager[Sink[Any]]]
    attendance: Callable[[Setup[Any]], AbstractAsyncContextManager[Source[Any]]] | None = None
    demo: DemoFactory | None = None
    target: Callable[[Any], str | None] | None = None
    """What a tenant's options write to (e.g. one account), as a string holding no secret:
    tenants whose targets are equal share it, and their sinks are opened ``shared``."""


@dataclass(frozen=True, slots=True)
class TransformerSpec:
    """A transformer. Optional ones run when a tenant lists ``name`` in ``plugins``."""

    name: str
    open: Callable[[Setup[Any]], AbstractAsyncContextManager[Transformer[Any]]]
    options: type[PluginOptions] = PluginOptions
    optional: bool = False


@dataclass(frozen=True, slots=True)
class TenantPlan:
    """What a pipeline factory needs to build a tenant's pipeline: its resolved plugins."""

    tenant: str
    timezone: ZoneInfo
    source: tuple[SourceSpec, PluginOptions]
    sink: tuple[SinkSpec, PluginOptions]
    transformers: Sequence[tuple[TransformerSpec, PluginOptions]] = field(default=())
    options: PluginOptions = field(default_factory=PluginOptions)
    concurrency: int = 4
    shared: bool = False
    """Another tenant's sink writes to the same target (``Setup.shared``)."""


@dataclass(frozen=True, slots=True)
class PipelineSpec:
    """A pipeline: how to wire a tenant's source, transformers and sink.

    An ``optional`` pipeline runs only for tenants that list ``name`` in ``plugins``; its
    options live in the section ``name`` with ``-`` written ``_``.
    """

    name: str
    open: Callable[[TenantPlan, CallMeter], AbstractAsyncContextManager[Pipeline[Any]]]
    options: type[PluginOptions] = PluginOptions
    optional: bool = False
    window: Callable[[datetime, ZoneInfo, PluginOptions], Window] | None = None
    """The run's dates; None: the timetable window, tomorrow through the horizon."""
    demo: DemoFactory | None = None

    @property
    def section(self) -> str:
        return self.name.replace("-", "_")
