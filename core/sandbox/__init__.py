"""Building blocks for a plugin's sandbox: a stateful fake of its remote API.

Fault injection (``Fault``) and call recording (``RequestLog``); ``core.asgi`` serves the
app on a loopback port. Nothing here knows any particular API.
"""

from core.sandbox.faults import ConnectionDropped, Fault, FaultInjector
from core.sandbox.recording import RecordedRequest, RequestLog, route_template

__all__ = [
    "ConnectionDropped",
    "Fault",
    "FaultInjector",
    "RecordedRequest",
    "RequestLog",
    "route_template",
]
