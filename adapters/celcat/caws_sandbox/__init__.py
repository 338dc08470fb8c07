"""A stateful fake of CELCAT Attendance Web Services (CAWS), for the return-attendance
pipeline's tests (in process) and the demo (on a port).

It serves registers and mark definitions the way the contract (celcat-webapi.md, "CAWS")
describes the real server: a password grant for a bearer token that expires, registers
read by (events, weeks) and written back whole with ``Modified`` marks, each mark
recording who set it. Faults are injected on demand, as in the other sandboxes.

    sandbox = CawsSandbox(username="passerelle", password="pw")
    sandbox.add_register(event_id=5120, week=7, staff_id=9, student_ids=[1, 2])  # "512008"
    httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app), base_url="http://caws")
    async with serve_app(sandbox.app) as base_url: ...
"""

from adapters.celcat.caws_sandbox.app import (
    DEFAULT_MARKS,
    CawsSandbox,
    MarkDefinition,
    register_id,
)
from core.sandbox.faults import ConnectionDropped, Fault
from core.sandbox.recording import RecordedRequest
from core.serve import serve_app

__all__ = [
    "DEFAULT_MARKS",
    "CawsSandbox",
    "ConnectionDropped",
    "Fault",
    "MarkDefinition",
    "RecordedRequest",
    "register_id",
    "serve_app",
]
