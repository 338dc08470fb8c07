"""A stateful fake of CELCAT's Web API, for tests (in process) and the demo (on a port).

It serves an ``Institution`` (generated, seeded, with planted bad records) the way the
contract (docs/celcat-webapi.md) describes the real server, and injects faults on demand.
Where the contract is silent it answers the least convenient legal way, drawn from
``quirks`` (quirky by default; ``Quirks(None)`` answers plainly).
It imports nothing of the CELCAT adapter it tests: the field names are written out again
in ``render``, so that a mapping typo fails a contract test.

    inst = generate_institution(seed=1, start=date(2025, 10, 20), days=28)
    sandbox = CelcatSandbox(inst, api_code="s3cret")  # quirks=Quirks(None): plain answers
    httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app), base_url="http://celcat")
    async with serve_app(sandbox.app) as base_url: ...
"""

from adapters.celcat.sandbox.app import CelcatSandbox
from adapters.celcat.sandbox.generator import generate_institution
from adapters.celcat.sandbox.state import Institution, UserNameFormat
from core.sandbox import ConnectionDropped, Fault, Quirks, RecordedRequest, serve_app

__all__ = [
    "CelcatSandbox",
    "ConnectionDropped",
    "Fault",
    "Institution",
    "Quirks",
    "RecordedRequest",
    "UserNameFormat",
    "generate_institution",
    "serve_app",
]
