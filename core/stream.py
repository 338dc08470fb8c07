"""One pipeline run streamed: source -> transformers -> sink, with bounded memory.

One task reads the source and applies the transformers in order; ``concurrency`` tasks
write to the sink. Between them a bounded memory stream: when the sink falls behind, the
source waits (backpressure), so memory holds at most ``buffer`` records in flight
whatever the size of the timetable.

Failures stay as small as they can: a record that fails in a transformer or in the sink
(``ObjectFailed`` with its own reason, any other exception as ``unexpected_error``) is
reported, goes no further, and the others go on. Only ``RunFailed`` (from any stage) or a
broken source stops the run; an ``ObjectFailed`` escaping a source is such a break, since
the generator cannot yield again (see ``core.errors``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from typing import TypeVar

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from core.context import RunContext
from core.errors import ObjectFailed, RunFailed
from core.models import Keyed
from core.protocols import Pipeline, StreamEnd
from core.reasons import Reason
from core.state import StateUnusable

R = TypeVar("R", bound=Keyed)

DEFAULT_BUFFER = 64


async def run_pipeline(
    pipeline: Pipeline[R], ctx: RunContext, *, buffer: int = DEFAULT_BUFFER
) -> None:
    """Stream every record through the pipeline, then let the sink finish.

    Raises ``RunFailed`` when the run cannot go on; anything a single record does wrong
    ends in ``ctx.report`` instead.
    """
    send, receive = anyio.create_memory_object_stream[R](max_buffer_size=buffer)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_produce, pipeline, ctx, send)
            for _ in range(pipeline.concurrency):
                tg.start_soon(_consume, pipeline, ctx, receive.clone())
            receive.close()
    except BaseExceptionGroup as group:
        # Surface the reason the run stopped rather than the group that carried it.
        leaves = list(_leaves(group))
        failed = [exc for exc in leaves if isinstance(exc, RunFailed)]
        raise (failed or leaves)[0] from group
    end = StreamEnd(complete=ctx.report.complete, kept=ctx.report.failed_keys)
    await pipeline.sink.finish(ctx, end)


async def _produce(pipeline: Pipeline[R], ctx: RunContext, send: ObjectSendStream[R]) -> None:
    records = pipeline.source.read(ctx)
    async with send:
        try:
            async for record in records:
                transformed = await _transform(pipeline, ctx, record)
                if transformed is not None:
                    await send.send(transformed)
        except ObjectFailed as exc:  # _transform keeps its own: this one left the source
            raise RunFailed(
                "source",
                f"the source raised ObjectFailed ({exc}), a bug in the source: a source "
                "reports a record it cannot read (ctx.report.skip with keep=True, or "
                "ctx.report.fail) and goes on; the run stopped, so nothing is deleted",
            ) from exc
        finally:
            if isinstance(records, AsyncGenerator):
                # A transformer may stop the run mid-read: the source cleans up now, not
                # whenever the garbage collector finds the suspended generator.
                await records.aclose()


async def _transform(pipeline: Pipeline[R], ctx: RunContext, record: R) -> R | None:
    current = record
    for transformer in pipeline.transformers:
        try:
            result = await transformer.transform(current, ctx)
        except ObjectFailed as exc:
            _failed(ctx, current, exc)
            return None
        except (RunFailed, StateUnusable):
            raise  # the run cannot go on, whichever stage found it out
        except Exception as exc:
            _unexpected(ctx, current, exc, "a transformer")
            return None
        if result is None:
            return None
        current = result
    return current


async def _consume(pipeline: Pipeline[R], ctx: RunContext, receive: ObjectReceiveStream[R]) -> None:
    async with receive:
        async for record in receive:
            try:
                await pipeline.sink.write(record, ctx)
            except ObjectFailed as exc:
                _failed(ctx, record, exc)
            except (RunFailed, StateUnusable):
                raise  # the run cannot go on; a write it cannot record must not go on either
            except Exception as exc:
                _unexpected(ctx, record, exc, "the sink")


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def _failed(ctx: RunContext, record: Keyed, exc: ObjectFailed) -> None:
    ctx.report.fail(record.kind, exc.reason, key=record.external_id, ids=exc.ids, detail=exc.detail)


def _unexpected(ctx: RunContext, record: Keyed, exc: Exception, where: str) -> None:
    ctx.log.opt(exception=exc).error("{} failed on {} {}", where, record.kind, record.external_id)
    ctx.report.fail(
        record.kind,
        Reason.UNEXPECTED_ERROR,
        key=record.external_id,
        detail=f"{where} failed: {type(exc).__name__}: {exc}",
    )
