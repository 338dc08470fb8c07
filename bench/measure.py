"""What a scenario measures of its own process: wall time, CPU time, peak memory."""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from core.logs import configure_logging


@dataclass
class Elapsed:
    """Filled in when the ``stopwatch`` block ends."""

    wall: float = 0.0
    cpu: float = 0.0


@contextmanager
def stopwatch() -> Iterator[Elapsed]:
    """Wall-clock and CPU seconds (user + system, this process) spent in the block."""
    elapsed = Elapsed()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield elapsed
    finally:
        elapsed.wall = time.perf_counter() - wall
        elapsed.cpu = time.process_time() - cpu


def peak_rss_mib() -> float:
    """The most resident memory this process has held so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(result: dict[str, Any]) -> None:
    """A scenario's result, as the last line of its standard output."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def quiet_logs() -> None:
    """Only warnings and errors from passerelle: a scenario's output is its figures."""
    configure_logging(level="WARNING")
