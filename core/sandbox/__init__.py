"""Building blocks for a plugin's sandbox: a stateful fake of its remote API.

Fault injection (``Fault``), call recording (``RequestLog``), and serving an ASGI app on
a loopback port (``serve_app``). Nothing here knows any particular API.
"""

from core.sandbox.faults import ConnectionDropped, Fault, FaultInjector
from core.sandbox.recording import RecordedRequest, RequestLog, route_template
from core.serve import serve_app

__all__ = [
    "ConnectionDropped",
    "Fault",
    "FaultInjector",
    "RecordedRequest",
    "RequestLog",
    "route_template",
    "serve_app",
]
