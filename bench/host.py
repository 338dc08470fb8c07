"""The benchmarks' sandboxes, in a process of their own, on loopback.

    python -m bench.host --plan PLAN.json [--latency-ms 20] [--per-minute 480]

Serves every tenant's CELCAT institution under ``{celcat}/{tenant}/api/...``, one Edusign
sandbox with a school per key, and a control API for the benchmark; prints one JSON line,
``{"celcat": URL, "edusign": URL, "control": URL}``, once all three listen. Every request
to either sandbox first waits ``latency-ms`` (a server on the other side of a network).

Its own process, so that the CPU and memory measured in the process that runs passerelle
are passerelle's, and so that the two use the machine's two cores.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.celcat.sandbox import CelcatSandbox
from bench.world import API_CODE, TenantSpec, celcat_minimum, change_occurrences, institution
from core.asgi import serve_app
from core.sandbox.faults import Fault
from core.sandbox.quirks import Quirks
from sinks.edusign.mapping import API_TYPE
from sinks.edusign.sandbox import EdusignSandbox, Kind, Record

KINDS: tuple[Kind, ...] = ("student", "professor", "group", "course")


class ByTenant:
    """ASGI: ``/{tenant}/rest`` goes to that tenant's app as ``/rest``."""

    def __init__(self, apps: dict[str, ASGIApp]) -> None:
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        _, tenant, rest = f"{scope['path']}/".split("/", 2)
        app = self.apps.get(tenant)
        if app is None:
            await PlainTextResponse("no such tenant", 404)(scope, receive, send)
            return
        path = "/" + rest.removesuffix("/")
        await app({**scope, "path": path, "raw_path": path.encode()}, receive, send)


class Host:
    def __init__(self, plan: dict[str, Any], latency: float) -> None:
        self.first_day = first = date.fromisoformat(plan["first_day"])
        self.tenants = [TenantSpec(**t) for t in plan["tenants"]]
        # Plain answers (pages of the size asked, always the Pagination header): the bench
        # measures passerelle against a minimum computed from whole pages; it is not a
        # conformance test (tests/contract is).
        self.celcat = {
            t.name: CelcatSandbox(
                institution(t, first), api_code=API_CODE, quirks=Quirks(None), keep_requests=0
            )
            for t in self.tenants
        }
        # The bench measures passerelle, it does not test its conformance (tests/contract
        # does): a plain server, whose answers cost no reordering or rewording.
        self.edusign = EdusignSandbox(keep_requests=0, quirks=Quirks(None))
        self.edusign.rate_limit_per_minute = plan["per_minute"]
        for key in plan["edusign_keys"]:
            self.edusign.add_school(key)
        self.edusign.faults.append(Fault(delay=latency))
        for celcat in self.celcat.values():
            celcat.faults.append(Fault(delay=latency))

    def control(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/calls", self.calls, methods=["GET"]),
                Route("/reset", self.reset, methods=["POST"]),
                Route("/objects/{key}", self.objects, methods=["GET"]),
                Route("/change/{tenant}", self.change, methods=["POST"]),
                Route("/rate", self.rate, methods=["POST"]),
                Route("/celcat-minimum/{tenant}", self.celcat_minimum, methods=["GET"]),
            ]
        )

    async def calls(self, _: Request) -> JSONResponse:
        celcat: Counter[str] = Counter()
        for sandbox in self.celcat.values():
            celcat.update(sandbox.calls)
        return JSONResponse(
            {
                "celcat": dict(celcat),
                "edusign": dict(self.edusign.calls),
                "edusign_slowed": sum(self.edusign.slowed.values()),
            }
        )

    async def reset(self, _: Request) -> JSONResponse:
        for sandbox in [*self.celcat.values(), self.edusign]:
            sandbox.reset_counts()
        self.edusign.slowed.clear()
        return JSONResponse({})

    async def objects(self, request: Request) -> JSONResponse:
        """The connector's objects in a school, per kind."""
        school = self.edusign.schools[request.path_params["key"]]
        ours = {kind: len([r for r in school.records(kind).values() if _ours(r)]) for kind in KINDS}
        return JSONResponse(ours)

    async def change(self, request: Request) -> JSONResponse:
        inst = self.celcat[request.path_params["tenant"]].institution
        fraction = float(request.query_params["fraction"])
        return JSONResponse({"sheets": change_occurrences(inst, fraction)})

    async def celcat_minimum(self, request: Request) -> JSONResponse:
        inst = self.celcat[request.path_params["tenant"]].institution
        return JSONResponse({"calls": celcat_minimum(inst, self.first_day)})

    async def rate(self, request: Request) -> JSONResponse:
        self.edusign.rate_limit_per_minute = int(request.query_params["per_minute"])
        return JSONResponse({})


def _ours(record: Record) -> bool:
    return record.get("API_TYPE") == API_TYPE


async def serve(plan: dict[str, Any], latency: float) -> None:
    host = Host(plan, latency)
    celcat = ByTenant({name: sandbox.app for name, sandbox in host.celcat.items()})
    async with (
        serve_app(celcat) as celcat_url,
        serve_app(host.edusign.app) as edusign_url,
        serve_app(host.control()) as control_url,
    ):
        ready = {"celcat": celcat_url, "edusign": edusign_url, "control": control_url}
        print(json.dumps(ready), flush=True)
        await anyio.sleep_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    try:
        plan = json.loads(args.plan.read_text(encoding="utf-8"))
        anyio.run(serve, plan, args.latency_ms / 1000)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
