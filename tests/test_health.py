"""The worker's metrics and health endpoint, over real HTTP on a loopback port.

Time is a variable the tests advance: staleness is checked without sleeping.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.asgi import serve_app
from core.health import health_app
from core.metrics import Metrics, metrics_plugin
from core.plugins import load_registry
from core.report import Action, ReportBuilder, RunReport

pytestmark = pytest.mark.anyio

STALE_AFTER = 30.0
MORNING = datetime(2025, 10, 20, 8, 0, tzinfo=UTC)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class FakeClock:
    """Monotonic seconds that only move when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def parse(text: str) -> Samples:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def run(
    tenant: str,
    started_at: datetime,
    seconds: float,
    *,
    counts: dict[str, dict[Action, int]] | None = None,
    calls: dict[str, int] | None = None,
    failed_keys: tuple[str, ...] = (),
    error: str | None = None,
    dry_run: bool = False,
) -> RunReport:
    """A finished report, its outcome decided by ``ReportBuilder`` as in a real run."""
    builder = ReportBuilder(
        RunReport(
            run_id=f"{tenant}-{started_at:%H%M}",
            tenant=tenant,
            pipeline="timetable",
            started_at=started_at,
            dry_run=dry_run,
        )
    )
    for kind, actions in (counts or {}).items():
        for action, n in actions.items():
            builder.count(kind, action, n)
    for service, n in (calls or {}).items():
        builder.call(service, n)
    for key in failed_keys:
        builder.fail("session", "rejected", key=key)
    return builder.finish(started_at + timedelta(seconds=seconds), error=error)


async def test_healthz_follows_the_scheduler_ticks() -> None:
    metrics, clock = Metrics(), FakeClock()
    app = health_app(metrics, clock=clock, stale_after=STALE_AFTER)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        never = await client.get("/healthz")
        assert never.status_code == 503
        assert never.json() == {"status": "stale", "last_tick_seconds_ago": None}

        metrics.tick(clock())
        assert (await client.get("/healthz")).json() == {"status": "ok"}

        clock.now += STALE_AFTER
        assert (await client.get("/healthz")).status_code == 200, "stale_after is inclusive"

        clock.now += 0.5
        stale = await client.get("/healthz")
        assert stale.status_code == 503
        assert stale.json() == {"status": "stale", "last_tick_seconds_ago": 30.5}

        metrics.tick(clock())
        again = await client.get("/healthz")
        assert again.status_code == 200
        assert again.json() == {"status": "ok"}


async def test_metrics_count_runs_by_tenant_and_outcome() -> None:
    metrics = Metrics()
    ok = run(
        "acme",
        MORNING,
        150,
        counts={"session": {"created": 3, "updated": 1, "unchanged": 10}},
        calls={"celcat": 4, "edusign": 5},
    )
    partial = run(
        "acme",
        MORNING + timedelta(hours=1),
        40,
        counts={"session": {"created": 1}},
        calls={"celcat": 2},
        failed_keys=("s1", "s2"),
    )
    failed = run("globex", MORNING, 2, calls={"celcat": 1}, error="CELCAT refused the key")
    assert [r.outcome for r in (ok, partial, failed)] == ["ok", "partial", "failed"]
    for report in (ok, partial, failed):
        metrics.observe(report)
    before_tick = time.time()
    metrics.tick(123.0)

    app = health_app(metrics, clock=FakeClock(), stale_after=STALE_AFTER)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    samples = parse(answer.text)

    acme = {"tenant": "acme", "pipeline": "timetable"}
    globex = {"tenant": "globex", "pipeline": "timetable"}
    runs = "passerelle_runs_total"
    assert value(samples, runs, **acme, outcome="ok") == 1
    assert value(samples, runs, **acme, outcome="partial") == 1
    assert value(samples, runs, **acme, outcome="failed") is None
    assert value(samples, runs, **globex, outcome="failed") == 1
    assert value(samples, runs, **globex, outcome="ok") is None

    objects = "passerelle_objects_total"
    expected = {"created": 4, "updated": 1, "deleted": 0, "unchanged": 10, "failed": 2}
    for action, n in expected.items():
        assert value(samples, objects, **acme, kind="session", action=action) == n, action
    assert not any(name == objects and ("tenant", "globex") in labels for name, labels in samples)

    calls = "passerelle_api_calls_total"
    assert value(samples, calls, **acme, service="celcat") == 6
    assert value(samples, calls, **acme, service="edusign") == 5
    assert value(samples, calls, **globex, service="celcat") == 1

    duration = "passerelle_run_duration_seconds"
    assert value(samples, f"{duration}_count", **acme) == 2
    assert value(samples, f"{duration}_sum", **acme) == 190
    assert value(samples, f"{duration}_bucket", **acme, le="60.0") == 1
    assert value(samples, f"{duration}_bucket", **acme, le="300.0") == 2
    assert value(samples, f"{duration}_count", **globex) == 1

    success = "passerelle_last_success_timestamp_seconds"
    assert partial.finished_at is not None
    assert value(samples, success, **acme) == partial.finished_at.timestamp()
    assert value(samples, success, **globex) is None, "a failed run is no success"

    tick = value(samples, "passerelle_scheduler_last_tick_seconds")
    assert tick is not None
    assert before_tick <= tick <= time.time(), "the gauge is Unix time, not monotonic"


async def test_only_healthz_and_metrics_are_served() -> None:
    app = health_app(Metrics(), clock=FakeClock(), stale_after=STALE_AFTER)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        for path in ("/", "/healthz/", "/metrics/", "/tenants", "/config"):
            assert (await client.get(path)).status_code == 404, path


async def test_the_observer_hook_feeds_the_metrics() -> None:
    metrics, registry = Metrics(), load_registry([])
    registry.manager.register(metrics_plugin(metrics), name="metrics")
    registry.notify_run_finished(run("acme", MORNING, 10))
    samples = parse(metrics.render()[0].decode())
    labels = {"tenant": "acme", "pipeline": "timetable"}
    assert value(samples, "passerelle_runs_total", **labels, outcome="ok") == 1


def test_dry_runs_are_not_counted() -> None:
    metrics = Metrics()
    metrics.observe(run("acme", MORNING, 10, counts={"session": {"created": 5}}, dry_run=True))
    samples = parse(metrics.render()[0].decode())
    assert not any(("tenant", "acme") in labels for _, labels in samples), "nothing per run"


def test_a_clock_stepped_back_gives_no_negative_duration() -> None:
    metrics = Metrics()
    metrics.observe(run("acme", MORNING, -3600))
    samples = parse(metrics.render()[0].decode())
    labels = {"tenant": "acme", "pipeline": "timetable"}
    assert value(samples, "passerelle_run_duration_seconds_sum", **labels) == 0
    assert value(samples, "passerelle_run_duration_seconds_count", **labels) == 1


def test_an_unfinished_run_is_refused() -> None:
    report = RunReport(run_id="r1", tenant="acme", pipeline="timetable", started_at=MORNING)
    with pytest.raises(ValueError, match="has not finished"):
        Metrics().observe(report)


def test_metrics_of_two_workers_do_not_collide() -> None:
    first, second = Metrics(), Metrics()
    first.observe(run("acme", MORNING, 10))
    labels = {"tenant": "acme", "pipeline": "timetable", "outcome": "ok"}
    assert value(parse(first.render()[0].decode()), "passerelle_runs_total", **labels) == 1
    assert value(parse(second.render()[0].decode()), "passerelle_runs_total", **labels) is None
