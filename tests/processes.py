"""Waiting on another process: for a line in its log, a port, a file, never for a time.

A real ``passerelle`` process tells what it did only through its log and its ports, so
the tests poll those; the deadline is a safety net that turns a hang into a failure
naming what never happened, not a measure of how long anything should take.
"""

from __future__ import annotations

import inspect
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process

PASSERELLE = str(Path(sys.executable).parent / "passerelle")
DEADLINE = 60.0
"""Seconds before a wait gives up: generous, as a loaded machine may start a process
slowly; a test waits that long only when what it waits for never happens."""
POLL = 0.05
"""Seconds between two looks at another process's log or port."""


async def wait_for(
    condition: Callable[[], bool | Awaitable[bool]], what: str, seconds: float = DEADLINE
) -> None:
    """Return once ``condition()`` holds; fail the test naming ``what`` if it never does."""
    with anyio.move_on_after(seconds):
        # Polls another process (its log, its port): there is no event to wait on.
        while True:
            met = condition()
            if inspect.isawaitable(met):
                met = await met
            if met:
                return
            await anyio.sleep(POLL)
    pytest.fail(f"{what}: not seen within {seconds:g} s")


def logged(log: Path, text: str) -> bool:
    """Whether ``text`` is in the log file ``log`` (which may not exist yet)."""
    return log.exists() and text in log.read_text(encoding="utf-8", errors="replace")


async def ended(process: Process, seconds: float = DEADLINE) -> int:
    """``process``'s exit code once it ends; one that does not is killed, and the test fails."""
    try:
        with anyio.fail_after(seconds):
            return await process.wait()
    finally:
        if process.returncode is None:
            process.kill()


async def terminated(process: Process) -> int:
    """Send SIGTERM to ``process`` and return its exit code once it has stopped."""
    process.send_signal(signal.SIGTERM)
    return await ended(process)


@asynccontextmanager
async def running(process: Process) -> AsyncIterator[Process]:
    """``process`` for the block; killed at its end if still running, so that a failing
    test ends instead of waiting for a worker that never stops by itself."""
    async with process:
        try:
            yield process
        finally:
            if process.returncode is None:
                process.kill()
