"""Retries: backoff with jitter, the server's Retry-After, and when to give up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import certifi
import pytest
from loguru import logger
from pydantic import ValidationError

from core.errors import CredentialsRefused, TransientError
from core.http import HttpOptions, RetryPolicy, http_client, retry_after, retrying

pytestmark = pytest.mark.anyio


class FakeSleep:
    """Records the waits instead of waiting: tests control the clock."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Flaky:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "answer"


async def test_transient_failures_are_retried_with_growing_waits() -> None:
    sleep, call = FakeSleep(), Flaky([TransientError("503")] * 3)
    policy = RetryPolicy(retries=4, initial=1.0, maximum=60.0)
    assert await retrying(call, policy, sleep=sleep) == "answer"
    assert call.calls == 4
    assert len(sleep.waits) == 3
    # Exponential with up to 1 s of jitter: 1, 2, 4 plus jitter.
    for wait, base in zip(sleep.waits, (1.0, 2.0, 4.0), strict=True):
        assert base <= wait <= base + 1.0


async def test_retry_after_is_honoured_and_capped() -> None:
    sleep = FakeSleep()
    call = Flaky([TransientError("429", retry_after=7.0), TransientError("429", retry_after=9e9)])
    policy = RetryPolicy(retries=3, longest_retry_after=120.0)
    assert await retrying(call, policy, sleep=sleep) == "answer"
    assert sleep.waits == [7.0, 120.0]


async def test_gives_up_after_the_last_try_with_the_last_error() -> None:
    sleep, call = FakeSleep(), Flaky([TransientError(f"503 #{i}") for i in range(10)])
    with pytest.raises(TransientError, match="503 #2"):
        await retrying(call, RetryPolicy(retries=2), sleep=sleep)
    assert call.calls == 3


async def test_other_errors_are_never_retried() -> None:
    sleep, call = FakeSleep(), Flaky([CredentialsRefused("X", "401")])
    with pytest.raises(CredentialsRefused):
        await retrying(call, RetryPolicy(retries=5), sleep=sleep)
    assert call.calls == 1
    assert sleep.waits == []


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("-5", None),
    ],
)
def test_retry_after_header(header: str | None, seconds: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert retry_after(header, now=now) == seconds


def test_tls_is_verified_unless_a_tenant_says_otherwise(tmp_path: Path) -> None:
    assert HttpOptions.model_validate({"url": "https://x"}).verify_tls is True
    bundle = tmp_path / "ca.pem"
    bundle.write_text(Path(certifi.where()).read_text())
    options = HttpOptions.model_validate({"url": "https://x", "ca_bundle": str(bundle)})
    assert options.ca_bundle == bundle
    with pytest.raises(ValidationError, match="ca_bundle"):
        HttpOptions.model_validate({"url": "https://x", "ca_bundle": str(tmp_path / "none")})


async def test_turning_verification_off_is_logged() -> None:
    logged: list[str] = []
    sink = logger.add(logged.append, level="WARNING", format="{message}")
    try:
        for verify in (True, False):
            options = HttpOptions.model_validate({"url": "https://x", "verify_tls": verify})
            async with http_client(options, service="celcat", tenant="acme", meter=lambda _: None):
                pass
    finally:
        logger.remove(sink)
    assert len(logged) == 1
    assert "TLS certificate verification is OFF for https://x" in logged[0]
