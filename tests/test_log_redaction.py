"""Logs never show a secret in any escaped form, and no logged value can split a line.

Secrets here hold what escaping changes: ``\\``, ``"``, ``'``, ``%``, ``{}`` and letters
outside ASCII. They are logged the ways code really logs them: inside an exception's
message as ``repr`` does, in a dict held by a local variable of the failing frame, in a
URL with the password percent-encoded; as text and as JSON lines, at INFO and at DEBUG.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import httpx
import pytest
from loguru import logger
from sqlalchemy import make_url

from core.logs import MASK, configure_logging, mask_secrets, redact

TOKEN = "tokQ8w2e"
SECRETS = {
    "backslash": f"Sé\\cret-Code-{TOKEN}1",
    "double quote": f'Ke"y-{TOKEN}2',
    "single quote": f"it's-{TOKEN}3",
    "percent and braces": f"p%41{{}}{{0}}-{TOKEN}4",
    "everything": f"Pä\\ss\"wö'rd%41{{}}é-{TOKEN}5",
}
LEVELS_AND_FORMATS = [
    pytest.param(level, json_lines, id=f"{level}-{'json' if json_lines else 'text'}")
    for level in ("INFO", "DEBUG")
    for json_lines in (False, True)
]
LINE_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ")
"""How a text log line starts: a line starting so anywhere else is a forged one."""


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    yield
    configure_logging()


def forms(secret: str) -> set[str]:
    """The forms a secret takes once printed: raw, repr, JSON, URL, unicode_escape."""
    return {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(repr(secret)[1:-1], ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
        secret.encode("unicode_escape").decode("ascii"),
    }


def assert_no_secret(text: str) -> None:
    for name, secret in SECRETS.items():
        for form in forms(secret):
            assert form not in text, (name, form)
    assert TOKEN not in text, "a secret shows, half masked"


def logs(*, level: str, json_lines: bool) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(stream=stream, level=level, json=json_lines)
    mask_secrets(SECRETS.values())
    return stream


def call_server(api_code: str) -> None:
    headers = {"ApiCode": api_code, "Accept": "application/json"}  # a local of the frame
    raise PermissionError(f"refused with headers {headers!r}")


@pytest.mark.parametrize(("level", "json_lines"), LEVELS_AND_FORMATS)
@pytest.mark.parametrize("name", SECRETS)
def test_a_secret_in_a_failing_frame_never_shows(name: str, level: str, json_lines: bool) -> None:
    stream = logs(level=level, json_lines=json_lines)
    try:
        call_server(SECRETS[name])
    except PermissionError:
        logger.bind(tenant="acme").exception("celcat call failed")
    text = stream.getvalue()
    assert "celcat call failed" in text
    assert "PermissionError" in text, "what failed is still said"
    assert_no_secret(text)


@pytest.mark.parametrize(("level", "json_lines"), LEVELS_AND_FORMATS)
def test_a_state_url_password_never_shows_url_encoded(level: str, json_lines: bool) -> None:
    password = SECRETS["everything"]
    url = make_url("postgresql+psycopg://passerelle@db.example:5432/state").set(password=password)
    stream = logs(level=level, json_lines=json_lines)
    rendered = url.render_as_string(hide_password=False)
    logger.warning("state store unreachable: {}", rendered)
    logger.warning("connecting to postgresql://passerelle:{}@db.example/state", quote(password))
    logger.warning("GET {}", httpx.URL(f"https://db.example/keys/{password}?key={password}"))
    logger.warning(
        "GET {}", httpx.Request("GET", "https://db.example/", params={"k": password}).url
    )
    try:
        raise ConnectionError(f"cannot open {rendered!r}")
    except ConnectionError:
        logger.exception("state store failed")
    text = stream.getvalue()
    assert "db.example" in text, "the rest of the URL still shows"
    assert_no_secret(text)


def test_redact_masks_each_escaped_form_whole() -> None:
    secret = SECRETS["everything"]
    mask_secrets([secret])
    for form in forms(secret):
        assert redact(f"<{form}>") == f"<{MASK}>", form


def fail_with_a_local() -> None:
    password = "a-local-no-one-should-read"  # a local of the failing frame
    raise PermissionError(f"refused ({len(password)} characters)")


def test_frame_variables_are_not_logged_and_the_traceback_waits_for_debug() -> None:
    for level, traceback_shown in (("INFO", False), ("DEBUG", True)):
        stream = logs(level=level, json_lines=False)
        try:
            fail_with_a_local()
        except PermissionError:
            logger.exception("celcat call failed")
        text = stream.getvalue()
        assert "PermissionError: refused (26 characters)" in text, "the exception is said"
        assert ("Traceback" in text) is traceback_shown, (level, text)
        assert ("in fail_with_a_local" in text) is traceback_shown, (level, text)
        assert "a-local-no-one-should-read" not in text, "frame variables are not printed"


HOSTILE = (
    "bad\n2026-01-01 00:00:00.000 INFO    acme - all is well\r\x1b[2J\x1b]0;owned\x07\x85\u2028!"
)


@pytest.mark.parametrize(("level", "json_lines"), LEVELS_AND_FORMATS)
def test_no_message_or_bound_value_splits_a_line(level: str, json_lines: bool) -> None:
    stream = logs(level=level, json_lines=json_lines)
    logger.bind(tenant="acme\n", run_id=HOSTILE).info("CELCAT answered: {}", HOSTILE)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "\x1b" not in lines[0], "no escape sequence reaches the terminal"
    if json_lines:
        record = json.loads(lines[0])["record"]
        assert record["extra"]["tenant"] == "acme\\n"
        assert "all is well" in record["message"]


@pytest.mark.parametrize(("level", "json_lines"), LEVELS_AND_FORMATS)
def test_no_exception_text_forges_a_log_line(level: str, json_lines: bool) -> None:
    stream = logs(level=level, json_lines=json_lines)
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        logger.exception("CELCAT answered 400")
    text = stream.getvalue()
    assert "\x1b" not in text
    lines = text.splitlines()
    if json_lines:
        assert len(lines) == 1, lines
    else:
        assert [line for line in lines if LINE_START.match(line)] == lines[:1], lines
