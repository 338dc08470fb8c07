"""Logging with loguru: one line per event, tenant and run bound, secrets masked.

Every configured secret is registered here as soon as the configuration is read; the
sinks below mask them in the final text, tracebacks included, whatever code logged it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from loguru import logger

MASK = "********"
SHORT_SECRET = 8
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

HUMAN_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>{extra[tenant]}</cyan> {extra[run_id]} {message}"
)


def mask_secrets(values: Iterable[str]) -> None:
    """Mask these values in every log line and report from now on.

    A secret shorter than ``SHORT_SECRET`` characters is masked where it stands as a word
    of its own: masked inside words too, a one-letter test key would shred every line.
    """
    global _pattern
    _secrets.update(v for v in values if v)
    # Longest first, so that a secret containing another is masked whole.
    alternatives = [
        re.escape(s) if len(s) >= SHORT_SECRET else rf"(?<![\w.@-]){re.escape(s)}(?![\w.@-])"
        for s in sorted(_secrets, key=len, reverse=True)
    ]
    _pattern = re.compile("|".join(alternatives)) if alternatives else None


def redact(text: str) -> str:
    return text if _pattern is None else _pattern.sub(MASK, text)


class _Redacting:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, message: str) -> None:
        self._stream.write(redact(message))
        self._stream.flush()


class _Intercept(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        level = (
            record.levelname
            if record.levelname in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
            else record.levelno
        )
        logger.opt(exception=record.exc_info).log(level, "{}: {}", record.name, record.getMessage())


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
    # Libraries log through the standard library (procrastinate, uvicorn): same lines, same
    # masking. Their chatter below WARNING stays out unless asked for with DEBUG.
    logging.basicConfig(
        handlers=[_Intercept()],
        level=logging.DEBUG if level == "DEBUG" else logging.WARNING,
        force=True,
    )
    for output, colorize in outputs:
        logger.add(
            _Redacting(output).write,
            level=level,
            serialize=json,
            colorize=colorize,
            format=HUMAN_FORMAT,
        )
