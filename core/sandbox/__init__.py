"""Building blocks for a plugin's sandbox: a stateful fake of its remote API.

Fault injection (``Fault``), call recording (``RequestLog``), seeded quirks (``Quirks``)
and ``serve_app``, which serves a sandbox's app on a loopback
port (``core.asgi``). Nothing here knows any particular API, and nothing in production
imports it: a sandbox is loaded by a test, or by ``passerelle demo``.
"""

from core.asgi import serve_app
from core.sandbox.faults import ConnectionDropped, Fault, FaultInjector
from core.sandbox.quirks import Quirks
from core.sandbox.recording import Recorded, RecordedRequest, Recording, RequestLog, route_template

__all__ = [
    "ConnectionDropped",
    "Fault",
    "FaultInjector",
    "Quirks",
    "Recorded",
    "RecordedRequest",
    "Recording",
    "RequestLog",
    "route_template",
    "serve_app",
]
