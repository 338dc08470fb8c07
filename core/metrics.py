"""Prometheus metrics of the worker: what runs did, and whether the scheduler is alive.

The metrics live on a ``CollectorRegistry`` of their own, never on the library's global
one, so that tests and several workers in one process each count their own runs.

Runs are fed through the ``passerelle_run_finished`` observer hook, like any plugin would
be (see ``metrics_plugin``), so the metrics see exactly what other observers see.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from core.hookspecs import hookimpl
from core.report import Counts, Outcome, RunReport

# From one second to one hour: below a second the differences tell nothing, and a run past
# the hour is abnormal whatever it did, so finer buckets there would only cost series.
DURATION_BUCKETS: tuple[float, ...] = (
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
)  # fmt: skip

# A run that ended so counts as the tenant being synced: a ``partial`` run wrote all it
# could and only left out the objects that failed (each one in its report), whereas a
# ``failed`` run may have written nothing. Alerting on a stale ``last_success`` therefore
# means "this tenant has not been synced", not "this tenant had one bad object".
SUCCESSFUL = frozenset({Outcome.OK, Outcome.PARTIAL})

_RUN = ("tenant", "pipeline")


class Metrics:
    """The worker's metrics, and the last tick of its scheduler loop for the health check.

    Dry runs are not counted: they write nothing, so their "would create" counts would
    inflate ``objects_total`` and their success would hide a tenant that is not synced.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._runs = Counter(
            "passerelle_runs_total",
            "Finished runs, by outcome (ok, partial, failed).",
            [*_RUN, "outcome"],
            registry=self.registry,
        )
        self._objects = Counter(
            "passerelle_objects_total",
            "Objects handled by runs, by kind and action.",
            [*_RUN, "kind", "action"],
            registry=self.registry,
        )
        self._calls = Counter(
            "passerelle_api_calls_total",
            "Calls made to remote APIs by runs, by service.",
            [*_RUN, "service"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "passerelle_run_duration_seconds",
            "Wall-clock duration of finished runs.",
            _RUN,
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._last_success = Gauge(
            "passerelle_last_success_timestamp_seconds",
            "Unix time at which the last ok or partial run ended (the tenant was synced).",
            _RUN,
            registry=self.registry,
        )
        self._last_tick_gauge = Gauge(
            "passerelle_scheduler_last_tick_seconds",
            "Unix time of the scheduler loop's last tick: alert on time() minus this.",
            registry=self.registry,
        )
        self._last_tick: float | None = None

    def observe(self, report: RunReport) -> None:
        """Count a finished run. Raises ``ValueError`` for a report that has not finished,
        as its duration and outcome are unknown."""
        if report.finished_at is None or report.outcome is None:
            raise ValueError(f"run {report.run_id} has not finished")
        if report.dry_run:
            return
        run = (report.tenant, report.pipeline)
        self._runs.labels(*run, report.outcome.value).inc()
        for kind, counts in report.counts.items():
            for action in Counts.model_fields:
                self._objects.labels(*run, kind, action).inc(getattr(counts, action))
        for service, calls in report.calls.items():
            self._calls.labels(*run, service).inc(calls)
        # Wall-clock times: a clock stepped back during the run must not make it negative.
        seconds = (report.finished_at - report.started_at).total_seconds()
        self._duration.labels(*run).observe(max(0.0, seconds))
        if report.outcome in SUCCESSFUL:
            self._last_success.labels(*run).set(report.finished_at.timestamp())

    def tick(self, now: float) -> None:
        """The scheduler loop is alive at ``now`` (monotonic seconds).

        The health check compares monotonic times, which no clock change can fool; the
        gauge shows Unix time instead, the only time Prometheus can compare with its own.
        """
        self._last_tick = now
        self._last_tick_gauge.set_to_current_time()

    @property
    def last_tick(self) -> float | None:
        """Monotonic seconds of the last tick, ``None`` before the first one."""
        return self._last_tick

    def alive(self, now: float, within: float) -> bool:
        """Whether the loop ticked at most ``within`` seconds before ``now`` (monotonic);
        never before the first tick, so a loop that never started is not alive."""
        return self._last_tick is not None and now - self._last_tick <= within

    def render(self) -> tuple[bytes, str]:
        """The exposition body and its content type, in Prometheus text format."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _MetricsObserver:
    """Feeds finished runs to ``Metrics`` through the observer hook, as a plugin would."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    @hookimpl
    def passerelle_run_finished(self, report: RunReport) -> None:
        self._metrics.observe(report)


def metrics_plugin(metrics: Metrics) -> object:
    """An observer plugin for ``registry.manager.register(..., name="metrics")``."""
    return _MetricsObserver(metrics)
