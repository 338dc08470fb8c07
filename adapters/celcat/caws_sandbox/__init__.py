"""A stateful fake of CELCAT Attendance Web Services (CAWS), for the return-attendance
pipeline's tests (in process) and the demo (on a port).

It serves registers and mark definitions the way the contract describes the real server
(docs/caws.md): a password grant for a bearer token that expires, registers read by
(events, weeks) and written back whole with ``Modified`` marks, each mark recording who
set it. It is exactly as strict as the contract, and where the contract is silent it
answers the least convenient legal way, drawn from ``quirks`` (``Quirks(None)``: plainly).
Faults are injected on demand, as in the other sandboxes.

    sandbox = CawsSandbox(username="passerelle", password="pw")
    sandbox.add_register(event_id=5120, week=7, staff_id=9, student_ids=[1, 2])  # "512008"
    httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app), base_url="http://caws")
    async with serve_app(sandbox.app) as base_url: ...
"""

from adapters.celcat.caws_sandbox.app import (
    DEFAULT_MARKS,
    QUIRKY,
    CawsSandbox,
    MarkDefinition,
    register_id,
)
from core.sandbox import ConnectionDropped, Fault, Quirks, RecordedRequest, serve_app

__all__ = [
    "DEFAULT_MARKS",
    "QUIRKY",
    "CawsSandbox",
    "ConnectionDropped",
    "Fault",
    "MarkDefinition",
    "Quirks",
    "RecordedRequest",
    "register_id",
    "serve_app",
]
