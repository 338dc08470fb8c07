"""Logging with loguru: one line per event, tenant and run bound, secrets masked.

Every configured secret is registered here as soon as the configuration is read; the
sinks below mask them in the final text, tracebacks included, whatever code logged it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from loguru import logger

MASK = "********"
_secrets: set[str] = set()

HUMAN_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>{extra[tenant]}</cyan> {extra[run_id]} {message}"
)


def mask_secrets(values: Iterable[str]) -> None:
    """Mask these values in every log line from now on. Short values are masked too:
    a secret is a secret, and a false positive only hides a few characters."""
    _secrets.update(v for v in values if v)


def redact(text: str) -> str:
    # Longest first, so that a secret containing another is masked whole.
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class _Redacting:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, message: str) -> None:
        self._stream.write(redact(message))
        self._stream.flush()


def configure_logging(
    *,
    json: bool = False,
    level: str = "INFO",
    stream: TextIO | None = None,
    file: Path | None = None,
) -> None:
    """Send logs to ``stream`` (stderr by default) and optionally to ``file``, as human
    lines or as JSON lines for log shippers."""
    logger.remove()
    logger.configure(extra={"tenant": "-", "run_id": "-", "pipeline": "-"})
    target = stream if stream is not None else sys.stderr
    outputs = [(target, not json and target.isatty())]
    if file is not None:
        outputs.append((file.open("a", encoding="utf-8"), False))  # open for the process's life
    for output, colorize in outputs:
        logger.add(
            _Redacting(output).write,
            level=level,
            serialize=json,
            colorize=colorize,
            format=HUMAN_FORMAT,
        )
