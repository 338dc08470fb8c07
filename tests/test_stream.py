"""The engine: backpressure, per-object failure isolation, and what stops a run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from core.context import RunContext
from core.errors import CredentialsRefused, ObjectFailed, RunFailed
from core.models import Record, Session
from core.protocols import Pipeline
from core.reasons import Reason
from core.state import StateStore
from core.stream import run_pipeline
from tests.doubles import MemorySink, MemorySource, context, instructor, session, student

pytestmark = pytest.mark.anyio


def sessions(n: int) -> list[Record]:
    teacher, learner = instructor(1), student(2)
    return [session(i, instructors=[teacher], students=[learner]) for i in range(n)]


async def test_a_slow_sink_holds_the_source_back(memory_store: StateStore) -> None:
    """With the sink stalled, the source may run ahead by the buffer, one record per
    writer, and the one it is holding: never the whole timetable."""
    source = MemorySource(sessions(1_000))
    sink = MemorySink(gate=anyio.Event())
    pipeline: Pipeline[Record] = Pipeline(source, sink, concurrency=3)
    ctx = context(memory_store)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: run_pipeline(pipeline, ctx, buffer=5))
        await wait_all_tasks_blocked()
        assert source.produced == 5 + 3 + 1
        assert gate_of(sink).is_set() is False
        gate_of(sink).set()
    assert len(sink.written) == 1_000
    assert sink.finished == [True]


def gate_of(sink: MemorySink) -> anyio.Event:
    assert sink.gate is not None
    return sink.gate


async def test_one_refused_object_does_not_stop_the_others(memory_store: StateStore) -> None:
    records = sessions(20)
    refused = {records[3].external_id, records[11].external_id}
    sink = MemorySink(refuse=refused)
    ctx = context(memory_store)
    await run_pipeline(Pipeline(MemorySource(records), sink, concurrency=4), ctx)
    assert len(sink.written) == 18
    failed = [e for e in ctx.report.report.events if e.status == "failed"]
    assert {e.key for e in failed} == refused
    assert {e.reason for e in failed} == {"write_refused"}
    assert ctx.report.report.counts["session"].failed == 2
    assert ctx.report.failed_keys == refused
    assert sink.finished == [True], "per-object failures are named, so deletions may go on"


class ExplodesOn:
    def __init__(self, key: str) -> None:
        self.key = key

    async def transform(self, record: Record, ctx: RunContext) -> Record | None:
        if record.external_id == self.key:
            raise ZeroDivisionError("a bug in a transformer")
        return record


async def test_a_transformer_bug_costs_one_record(memory_store: StateStore) -> None:
    records = sessions(5)
    sink = MemorySink()
    ctx = context(memory_store)
    pipeline = Pipeline(MemorySource(records), sink, [ExplodesOn(records[2].external_id)])
    await run_pipeline(pipeline, ctx)
    assert [r.external_id for r in sink.written if isinstance(r, Session)].count(
        records[2].external_id
    ) == 0
    assert len(sink.written) == 4
    (event,) = ctx.report.report.events
    assert (event.status, event.reason, event.key) == (
        "failed",
        Reason.UNEXPECTED_ERROR,
        records[2].external_id,
    )
    assert "ZeroDivisionError" in event.detail


class RefusesOn:
    """A transformer that cannot convert one record, and says why as a sink would."""

    def __init__(self, key: str) -> None:
        self.key = key

    async def transform(self, record: Record, ctx: RunContext) -> Record | None:
        if record.external_id == self.key:
            raise ObjectFailed("no_room", "room R12 is not in the target", ids={"room": "R12"})
        return record


async def test_object_failed_in_a_transformer_is_reported_as_itself(
    memory_store: StateStore,
) -> None:
    records = sessions(5)
    refused = records[2].external_id
    sink = MemorySink()
    ctx = context(memory_store)
    pipeline = Pipeline(MemorySource(records), sink, [RefusesOn(refused), ExplodesOn("never")])
    await run_pipeline(pipeline, ctx)
    assert refused not in {r.external_id for r in sink.written}
    assert len(sink.written) == 4, "the run goes on"
    (event,) = ctx.report.report.events
    assert (event.status, event.reason, event.key, event.ids, event.detail) == (
        "failed",
        "no_room",
        refused,
        {"room": "R12"},
        "room R12 is not in the target",
    )
    assert ctx.report.failed_keys == {refused}
    assert sink.finished == [True], "the failure is named: deletions may go on"


class TracedSource(MemorySource):
    """Says whether its clean-up ran: a source that holds a connection needs it to."""

    closed = False

    async def read(self, ctx: RunContext) -> AsyncIterator[Record]:
        try:
            async for record in super().read(ctx):
                yield record
        finally:
            self.closed = True


class StopsTheRun:
    async def transform(self, record: Record, ctx: RunContext) -> Record | None:
        raise RunFailed("target", "the account was closed")


async def test_run_failed_in_a_transformer_stops_the_run(memory_store: StateStore) -> None:
    source, sink = TracedSource(sessions(50)), MemorySink()
    with pytest.raises(RunFailed, match="the account was closed"):
        await run_pipeline(Pipeline(source, sink, [StopsTheRun()]), context(memory_store))
    assert sink.written == []
    assert sink.finished == []
    assert source.closed, "the source cleans up when the run stops, not when collected"


async def test_object_failed_escaping_a_source_ends_the_run_as_a_bug(
    memory_store: StateStore,
) -> None:
    class Raises(MemorySource):
        async def read(self, ctx: RunContext) -> AsyncIterator[Record]:
            async for record in super().read(ctx):
                yield record
            raise ObjectFailed("malformed_record", "event 9 has no start")

    sink = MemorySink()
    with pytest.raises(RunFailed) as caught:
        await run_pipeline(Pipeline(Raises(sessions(3)), sink), context(memory_store))
    message = str(caught.value)
    assert "malformed_record: event 9 has no start" in message
    assert "a bug in the source" in message
    assert "ctx.report.skip" in message, "the message says what the source should do"
    assert sink.finished == [], "a failed run must not infer deletions"


class RefusingSink(MemorySink):
    async def write(self, record: Record, ctx: RunContext) -> None:
        raise CredentialsRefused("target", "API key refused")


async def test_refused_credentials_stop_the_run_without_deletions(memory_store: StateStore) -> None:
    sink = RefusingSink()
    with pytest.raises(CredentialsRefused, match="API key refused"):
        await run_pipeline(
            Pipeline(MemorySource(sessions(50)), sink, concurrency=2), context(memory_store)
        )
    assert sink.finished == [], "a failed run must not infer deletions"


async def test_a_broken_source_stops_the_run_without_deletions(memory_store: StateStore) -> None:
    sink = MemorySink()
    with pytest.raises(RuntimeError, match="the source broke"):
        await run_pipeline(
            Pipeline(MemorySource(sessions(50), fail_after=10), sink), context(memory_store)
        )
    assert sink.finished == []


async def test_an_unnamed_failure_makes_the_run_incomplete(memory_store: StateStore) -> None:
    ctx = context(memory_store)
    ctx.report.fail("session", Reason.SERVER_ERROR, detail="timetable 3, 2025-10-22: HTTP 500")
    sink = MemorySink()
    await run_pipeline(Pipeline(MemorySource(sessions(3)), sink), ctx)
    assert sink.finished == [False]


async def test_run_failed_is_raised_as_itself_not_as_a_group(memory_store: StateStore) -> None:
    class Unreachable(MemorySource):
        async def read(self, ctx: RunContext) -> AsyncIterator[Record]:
            raise RunFailed("erp", "connection refused")
            yield  # pragma: no cover

    with pytest.raises(RunFailed) as caught:
        await run_pipeline(Pipeline(Unreachable([]), MemorySink()), context(memory_store))
    assert caught.value.service == "erp"
