"""The benchmark's side of the sandbox host's control API (see ``bench.host``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True, slots=True)
class Calls:
    """Requests the sandboxes received, per route (``"GET /v1/course"``)."""

    celcat: Counter[str]
    edusign: Counter[str]
    edusign_slowed: int

    @property
    def edusign_writes(self) -> int:
        return sum(n for route, n in self.edusign.items() if route.split()[0] in WRITES)

    @property
    def edusign_reads(self) -> int:
        return self.edusign.total() - self.edusign_writes


class Control:
    def __init__(self, url: str) -> None:
        self._http = httpx.AsyncClient(base_url=url, timeout=60.0)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **params: Any) -> Any:
        response = await self._http.request(method, path, params=params)
        response.raise_for_status()
        return response.json()

    async def calls(self) -> Calls:
        got = await self._call("GET", "/calls")
        return Calls(Counter(got["celcat"]), Counter(got["edusign"]), got["edusign_slowed"])

    async def reset(self) -> None:
        await self._call("POST", "/reset")

    async def objects(self, key: str) -> dict[str, int]:
        """The connector's objects in the school of ``key``, per kind."""
        objects: dict[str, int] = await self._call("GET", f"/objects/{key}")
        return objects

    async def change(self, tenant: str, fraction: float) -> int:
        """Change about ``fraction`` of the tenant's occurrences; the sheets changed."""
        changed: int = (await self._call("POST", f"/change/{tenant}", fraction=fraction))["sheets"]
        return changed

    async def celcat_minimum(self, tenant: str) -> int:
        """The fewest CELCAT calls that read the tenant's window (see ``bench.world``)."""
        calls: int = (await self._call("GET", f"/celcat-minimum/{tenant}"))["calls"]
        return calls

    async def rate(self, per_minute: int) -> None:
        await self._call("POST", "/rate", per_minute=per_minute)
