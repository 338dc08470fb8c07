"""A stateful fake of Edusign's external API v1, for tests (in process) and the demo (on a
port).

It serves schools (one per API key) the way the contract (edusign-v1.md) describes the
real server: the envelope, business errors with HTTP 200, paging, dates answered in UTC,
the rate limit's slow-down; and injects faults on demand. It imports nothing of the
Edusign connector it tests: the field names are written out again in ``fields``, so that
a mapping typo fails a contract test.

    sandbox = EdusignSandbox()
    school = sandbox.add_school("key-acme", name="Acme Formation")
    httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app), base_url="http://edusign",
                      headers={"Authorization": "Bearer key-acme"})
    async with serve_app(sandbox.app) as base_url: ...
"""

from core.sandbox import ConnectionDropped, Fault, RecordedRequest, serve_app
from sinks.edusign.sandbox.app import EdusignSandbox
from sinks.edusign.sandbox.errors import ApiError
from sinks.edusign.sandbox.fields import Record
from sinks.edusign.sandbox.state import Kind, School

__all__ = [
    "ApiError",
    "ConnectionDropped",
    "EdusignSandbox",
    "Fault",
    "Kind",
    "Record",
    "RecordedRequest",
    "School",
    "serve_app",
]
