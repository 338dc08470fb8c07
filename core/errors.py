"""The failure taxonomy: what went wrong decides who hears about it and what happens next.

- ``ConfigError``: the integrator must fix the configuration; nothing is sent anywhere.
- ``TransientError``: worth retrying (timeouts, 429, 5xx); clients retry it themselves.
- ``ObjectFailed``: one object could not be transformed or written; raised by a transformer
  or a sink, it is reported and the run goes on (the run ends ``partial``). A source does
  not raise it: a generator that raises cannot yield again, so a source reports a record
  it cannot read with ``ctx.report.skip(..., keep=True)`` or ``ctx.report.fail`` and
  goes on reading. One that escapes a source is a bug in it and ends the run ``failed``.
- ``RunFailed``: the tenant cannot be synced at all this time (server unreachable,
  credentials refused); the run stops and ends ``failed``.

Messages never contain a secret: raise them with what a person needs to act, no more.
"""

from __future__ import annotations


class PasserelleError(Exception):
    """Base of every error passerelle raises on purpose."""


class ConfigError(PasserelleError):
    """Invalid configuration, found before any network call."""

    def __init__(self, problem: str, *, tenant: str | None = None, key: str | None = None):
        self.problem = problem
        self.tenant = tenant
        self.key = key
        where = []
        if tenant is not None:
            where.append(f"tenant {tenant!r}")
        if key is not None:
            where.append(f"key {key!r}")
        super().__init__(f"{', '.join(where)}: {problem}" if where else problem)


class TransientError(PasserelleError):
    """A failure that may go away if the same call is tried again later.

    ``retry_after`` is the server's own hint (``Retry-After``), in seconds, when it gave one.
    """

    def __init__(self, detail: str, *, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(detail)


class ObjectFailed(PasserelleError):
    """One object failed in a transformer or a sink; the run reports it under ``reason``
    with ``ids`` and ``detail``, the object goes no further, and the run carries on.

    Not for sources: see the module docstring."""

    def __init__(self, reason: str, detail: str, *, ids: dict[str, str] | None = None):
        self.reason = reason
        self.detail = detail
        self.ids = dict(ids or {})
        super().__init__(f"{reason}: {detail}")


class RunFailed(PasserelleError):
    """The tenant's run cannot go on: ``service`` names the server at fault."""

    def __init__(self, service: str, detail: str):
        self.service = service
        self.detail = detail
        super().__init__(f"{service}: {detail}")


class CredentialsRefused(RunFailed):
    """The server refused the tenant's credentials (401/403). Never retried."""


class ServerUnreachable(RunFailed):
    """The server could not be reached, or kept failing, after every retry."""


class AlreadyRunning(PasserelleError):
    """Another run of the tenant pipeline holds its run lock: this one did not start.

    ``holder`` says who, where known (``Holder.describe()`` of ``core.state.locks``)."""

    def __init__(self, tenant: str, pipeline: str, holder: str | None):
        self.tenant = tenant
        self.pipeline = pipeline
        self.holder = holder
        super().__init__(
            f"another run of {tenant} {pipeline} holds it ({holder or 'holder unknown'})"
        )


class AnotherWorker(PasserelleError):
    """Another ``passerelle run`` already works on this SQLite state store."""

    def __init__(self, store: str, holder: str | None):
        self.holder = holder
        super().__init__(
            f"another worker runs on the state store {store} ({holder or 'holder unknown'}); "
            "a SQLite store takes one worker: stop that one, or share a PostgreSQL store"
        )
