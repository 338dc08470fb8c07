"""The worker's HTTP face for its orchestrator and Prometheus: liveness and metrics.

``/healthz`` says whether the scheduler loop still ticks, which is what a restart can fix;
a tenant whose runs fail is no reason to restart the worker, so it shows in ``/metrics``
only. Neither answer carries secrets or tenant configuration: only what ``Metrics`` holds.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.metrics import Metrics


def health_app(metrics: Metrics, *, clock: Callable[[], float], stale_after: float) -> Starlette:
    """``GET /healthz`` (200 while the loop ticked within ``stale_after`` seconds of
    ``clock()``, 503 otherwise) and ``GET /metrics``; every other path is a 404.

    ``clock`` must be the one the loop ticks with (monotonic seconds).
    """

    async def healthz(request: Request) -> Response:
        now = clock()
        if metrics.alive(now, stale_after):
            return JSONResponse({"status": "ok"})
        last = metrics.last_tick
        ago = None if last is None else round(now - last, 1)  # None: never ticked
        return JSONResponse({"status": "stale", "last_tick_seconds_ago": ago}, status_code=503)

    async def exposition(request: Request) -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", exposition, methods=["GET"]),
        ]
    )
    app.router.redirect_slashes = False  # "/healthz/" is a 404, not a redirect to "/healthz"
    return app
