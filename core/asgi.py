"""Serving an ASGI app on a loopback port: the sandboxes (demo, end-to-end tests) and the
worker's health endpoint.

A real port exercises what ``httpx.ASGITransport`` cannot: client timeouts, connection
pools, a connection dropped mid-answer. Uvicorn runs as a task of the caller's task
group, on the caller's event loop (asyncio).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

import anyio
import uvicorn
from starlette.types import ASGIApp

_STOP_GRACE = 5.0  # seconds to finish answering before the server is cancelled


class DroppedOnPurpose(Exception):
    """What an app raises to drop a connection on purpose (a sandbox's ``reset`` fault):
    the server does not log it. Inherit it beside the exception's own base."""


class _QuietFaults(logging.Filter):
    """A connection dropped on purpose is no server error to log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedOnPurpose))


_QUIET_FAULTS = _QuietFaults()


class _Server(uvicorn.Server):
    """Uvicorn without its signal handlers: Ctrl-C belongs to the host process (the demo,
    pytest), not to a sandbox running inside it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve_app(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
) -> AsyncIterator[str]:
    """Serve ``app`` until the block ends; yields its base URL, ``http://127.0.0.1:PORT``.

    ``port`` 0 picks a free one. Logs go through the ``logging`` module (uvicorn's own
    configuration is not applied), access lines off, ``DroppedOnPurpose`` unlogged.
    """
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, log_level=log_level, access_log=False,
        lifespan="off",
    )  # fmt: skip
    logging.getLogger("uvicorn.error").addFilter(_QUIET_FAULTS)  # added once, however often
    server = _Server(config)
    stopped = anyio.Event()

    async def run() -> None:
        try:
            await server.serve()
        except SystemExit:
            pass  # uvicorn exits when it cannot bind; the wait below says so
        finally:
            stopped.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        try:
            while not server.started:
                if stopped.is_set():
                    raise RuntimeError(f"the sandbox server could not start on {host}:{port}")
                await anyio.sleep(0.01)
            bound = server.servers[0].sockets[0].getsockname()[1]
            yield f"http://{host}:{bound}"
        finally:
            server.should_exit = True
            with anyio.move_on_after(_STOP_GRACE, shield=True):
                await stopped.wait()
            tg.cancel_scope.cancel()
