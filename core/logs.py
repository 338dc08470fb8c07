"""Logging with loguru: one line per event, tenant and run bound, secrets masked.

A ``Redactor`` masks a set of secrets in text, in every form printing gives them:
``repr``, JSON, URL encoding, and these stacked. Run reports each get their own, built
from the tenant's secrets (``core.runner``). The logs have one for the process: every
configured secret is registered with ``mask_secrets`` as soon as the configuration is
read, and the sinks below mask it in the final text, tracebacks included, whatever code
logged it.

Loguru's frame variables (``diagnose``) are off: they print every local with ``repr``,
the API keys of the frames that failed among them. A traceback is written only to a sink
at DEBUG; other levels get the exception's one-line summary.

Text from outside (server bodies, names, configuration keys) reaches log lines through
messages, bound values and exception texts: every non-printable character there is
escaped, so that no value can split a line, forge one, or drive the reader's terminal.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, cast
from urllib.parse import quote, quote_plus

from loguru import logger

if TYPE_CHECKING:
    from loguru import Record

MASK = "********"
SHORT_SECRET = 8
_with_traceback = False
"""Whether a sink is at DEBUG: only then is a traceback rendered (it reads source files)."""

HUMAN_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>{extra[tenant]}</cyan> {extra[run_id]} {message}"
)
# Keys the patcher adds to each record for the formats below. Not under ``extra``: JSON
# lines serialize ``extra`` whole, and would then carry the traceback twice.
_SUMMARY, _TRACEBACK = "passerelle_exception_summary", "passerelle_traceback"
TRACEBACK_INDENT = "  | "
"""Starts every line of a traceback in text logs: an exception text holding a newline
cannot make a line that reads as a log line of its own."""

# What JSON leaves raw with ``ensure_ascii=False`` though readers split lines on it
# (``str.splitlines``, editors, some shippers) or terminals obey it: DEL, C1, U+2028/9.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with each non-printable character escaped the way ``repr`` escapes it.

    Newlines, carriage returns, ESC (ANSI CSI and OSC sequences), C0 and C1 controls,
    line and paragraph separators, bidi overrides: none can then split a line or reach a
    terminal raw. Backslashes are left alone, so paths and ordinary text read as before.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _escaped(text: str) -> set[str]:
    """``text`` as the code paths that print it escape it, one layer deep."""
    backslashed = text.replace("\\", "\\\\")
    return {
        text,
        repr(text)[1:-1],
        ascii(text)[1:-1],
        repr(text.encode("utf-8", "surrogatepass"))[2:-1],
        text.encode("unicode_escape").decode("ascii"),
        backslashed.replace("'", "\\'"),  # repr inside single quotes, libpq conninfo
        backslashed.replace('"', '\\"'),  # repr inside double quotes
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        printable(text),
    }


# What the WHATWG URL standard (httpx follows it) percent-encodes, beyond controls and
# non-ASCII, in a query, a path and a URL's user info.
_URL_UNSAFE = (' "#<>', ' "#<>?`{}', ' "#<>?`{}/:;=@[\\]^|')


def _whatwg_quoted(secret: str, unsafe: str) -> str:
    """``secret`` percent-encoded as httpx encodes a URL part: the ``%XX`` it already
    holds kept as they are, printable ASCII outside ``unsafe`` left alone."""
    pieces = re.split("(%[0-9A-Fa-f]{2})", secret)
    return "".join(
        piece
        if i % 2
        else "".join(
            c if " " < c < "\x7f" and c not in unsafe else quote(c, safe="") for c in piece
        )
        for i, piece in enumerate(pieces)
    )


def _url_encoded(secret: str) -> set[str]:
    """The secret as a URL carries it (a database URL's password, a query parameter)."""
    quoted = quote(secret, safe="")
    return {
        secret,
        quoted,
        re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quoted),
        quote(secret),
        quote(secret, safe=" +"),  # SQLAlchemy's URL rendering
        quote_plus(secret),  # forms and query parameters
        re.sub("[:@/]", lambda m: f"%{ord(m.group()):02X}", secret),  # older SQLAlchemy
        *(_whatwg_quoted(secret, unsafe) for unsafe in _URL_UNSAFE),
    }


def secret_forms(secret: str) -> set[str]:
    """Every form ``secret`` can take in a log line, a report or a terminal.

    Two escaping layers, because text is escaped again when it is embedded: a ``repr``
    inside an exception message, that message inside a JSON log line.
    """
    return {
        twice
        for encoded in _url_encoded(secret)
        for once in _escaped(encoded)
        for twice in _escaped(once)
        if twice
    }


class Redactor:
    """Masks a fixed set of secrets, in each of their forms (``secret_forms``), in text.

    A secret shorter than ``SHORT_SECRET`` characters is masked where it stands as a word
    of its own: masked inside words too, a one-letter test key would shred every line.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = frozenset(s for s in secrets if s)
        self._pattern = _pattern_of(self.secrets)

    def redact(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(MASK, text)

    def adding(self, secrets: Iterable[str]) -> Redactor:
        """This redactor with ``secrets`` masked too."""
        more = self.secrets.union(s for s in secrets if s)
        return self if more == self.secrets else Redactor(more)


def _pattern_of(secrets: frozenset[str]) -> re.Pattern[str] | None:
    """One pattern for every form of ``secrets`` (a few milliseconds for a tenant's)."""
    forms = {
        (form, len(secret) < SHORT_SECRET) for secret in secrets for form in secret_forms(secret)
    }
    # Longest first, so that a form containing another is masked whole.
    alternatives = [
        rf"(?<![\w.@-]){re.escape(form)}(?![\w.@-])" if short else re.escape(form)
        for form, short in sorted(forms, key=lambda f: len(f[0]), reverse=True)
    ]
    return re.compile("|".join(alternatives)) if alternatives else None


_log_redactor = Redactor()
"""What the log sinks (and terminal output, ``core.console``) mask: every secret the
process was told of. Reports never read it: each run brings its own ``Redactor``."""


def mask_secrets(values: Iterable[str]) -> None:
    """Mask these values, in each of their forms, in every log line from now on."""
    global _log_redactor
    _log_redactor = _log_redactor.adding(values)


def redact(text: str) -> str:
    """``text`` as the logs show it: every secret ``mask_secrets`` was told of masked."""
    return _log_redactor.redact(text)


class _Redacting:
    """A sink writing masked text; for JSON lines, with what JSON leaves raw escaped."""

    def __init__(self, stream: TextIO, *, json_lines: bool) -> None:
        self._stream = stream
        self._json_lines = json_lines

    def write(self, message: str) -> None:
        text = redact(message)
        if self._json_lines:
            text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        self._stream.write(text)
        self._stream.flush()


class _Intercept(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        level = (
            record.levelname
            if record.levelname in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
            else record.levelno
        )
        logger.opt(exception=record.exc_info).log(level, "{}: {}", record.name, record.getMessage())


def _escape_record(record: Record) -> None:
    """Escape what a log line shows from outside, before any sink formats it."""
    record["message"] = printable(record["message"])
    extra = record["extra"]
    for key, value in extra.items():
        if isinstance(value, str):
            extra[key] = printable(value)
    exception = record["exception"]
    value = exception.value if exception is not None else None
    fields = cast("dict[str, object]", record)
    # As Python ends a traceback: "TimeoutError", "ValueError: bad", even if str() fails.
    summary = "" if value is None else "".join(traceback.format_exception_only(value)).strip()
    fields[_SUMMARY] = printable(summary)
    fields[_TRACEBACK] = _traceback_text(value) if value is not None and _with_traceback else ""


def _traceback_text(exc: BaseException) -> str:
    """The traceback as Python prints it (no frame variables), each line escaped and
    indented, chained exceptions included."""
    lines = "".join(traceback.format_exception(exc)).splitlines()
    return "\n".join(TRACEBACK_INDENT + printable(line) for line in lines)


def _line_format(with_traceback: bool) -> Callable[[Record], str]:
    """One line per event, then the traceback's lines when the sink is at DEBUG."""

    def line_format(record: Record) -> str:
        if record["exception"] is None or record["exception"].value is None:
            return HUMAN_FORMAT + "\n"
        if with_traceback:
            return HUMAN_FORMAT + f" ({{{_SUMMARY}}})\n{{{_TRACEBACK}}}\n"
        return HUMAN_FORMAT + f" ({{{_SUMMARY}}})\n"

    return line_format


def configure_logging(
    *,
    json: bool = False,
    level: str = "INFO",
    stream: TextIO | None = None,
    file: Path | None = None,
) -> None:
    """Send logs to ``stream`` (stderr by default) and optionally to ``file``, as human
    lines or as JSON lines for log shippers.

    An unknown ``level`` (``ValueError``) or a file that cannot be opened (``OSError``)
    raises before anything changes: the logs in place stay as they were."""
    global _with_traceback
    debug = logger.level(level).no <= logger.level("DEBUG").no
    target = stream if stream is not None else sys.stderr
    outputs = [(target, not json and target.isatty())]
    if file is not None:
        outputs.append((file.open("a", encoding="utf-8"), False))  # open for the process's life
    logger.remove()
    logger.configure(extra={"tenant": "-", "run_id": "-", "pipeline": "-"}, patcher=_escape_record)
    _with_traceback = debug
    # Libraries log through the standard library (procrastinate, uvicorn): same lines, same
    # masking. Their chatter below WARNING stays out unless asked for with DEBUG.
    logging.basicConfig(
        handlers=[_Intercept()], level=logging.DEBUG if debug else logging.WARNING, force=True
    )
    for output, colorize in outputs:
        logger.add(
            _Redacting(output, json_lines=json).write,
            level=level,
            serialize=json,
            colorize=colorize,
            format=_line_format(debug),
            diagnose=False,  # frame variables would print every local, secrets included
            backtrace=False,
        )
