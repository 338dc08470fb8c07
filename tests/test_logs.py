"""Logs: one line per event with tenant and run bound, JSON on request, secrets masked."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from loguru import logger

from core.logs import MASK, configure_logging, mask_secrets, redact

SECRET = "tok-9f8e7d6c5b4a"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    yield
    configure_logging()


def log_with_secret() -> None:
    log = logger.bind(tenant="acme", run_id="r-42")
    log.info("calling with Authorization: Bearer {}", SECRET)
    try:
        raise PermissionError(f"server refused key {SECRET}")
    except PermissionError:
        log.exception("request failed")


def test_human_lines_mask_secrets_in_messages_and_tracebacks() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    mask_secrets([SECRET])
    log_with_secret()
    text = stream.getvalue()
    assert SECRET not in text
    assert f"Bearer {MASK}" in text
    assert f"server refused key {MASK}" in text, "the traceback is masked too"
    assert "acme r-42 calling with" in text


def test_json_lines_carry_tenant_and_run_and_mask_secrets() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream, json=True)
    mask_secrets([SECRET])
    log_with_secret()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, "one line per event, traceback included"
    records = [json.loads(line)["record"] for line in lines]
    assert [r["extra"]["tenant"] for r in records] == ["acme", "acme"]
    assert [r["extra"]["run_id"] for r in records] == ["r-42", "r-42"]
    assert SECRET not in stream.getvalue()


def test_a_longer_secret_containing_a_shorter_one_is_masked_whole() -> None:
    mask_secrets(["abc", "xxabcxx"])
    assert redact("key=xxabcxx; code=abc") == f"key={MASK}; code={MASK}"


def test_a_short_secret_is_masked_as_a_word_not_inside_words() -> None:
    mask_secrets(["k9"])
    assert redact("key k9 sent; ok; bk9x; user@k9.example") == (
        f"key {MASK} sent; ok; bk9x; user@k9.example"
    )
