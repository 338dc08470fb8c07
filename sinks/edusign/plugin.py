"""Registers the Edusign sink: its options (``[tenants.NAME.edusign]``) and its factory."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from anyio.lowlevel import RunVar
from pydantic import Field, SecretStr, field_validator

from core import DemoServer, DemoSettings, ReasonCode, Seams, Setup, SinkSpec, hookimpl
from core.http import HttpOptions, Pacer, RetryPolicy, header_secret, http_client
from sinks.edusign.attendance import EdusignAttendance
from sinks.edusign.client import EdusignClient
from sinks.edusign.reasons import REASONS
from sinks.edusign.sink import EdusignSink

_PACERS: RunVar[dict[str, Pacer]] = RunVar("passerelle_edusign_pacers")
"""One pacer per API key and event loop: tenants sharing a key share its budget."""


class EdusignOptions(HttpOptions):
    """``url``: requests go to ``{url}/v1/...``."""

    url: str = "https://ext.edusign.fr"
    api_key: SecretStr
    send_credentials: bool = False
    sync_groups: bool = False
    # Edusign allows 480 a minute per key; more is only for a sandbox (demo, tests).
    requests_per_minute: float = Field(450, gt=0, le=60_000)

    _api_key_in_a_header = field_validator("api_key")(header_secret)


def pacer_for(api_key: str, per_minute: float, seams: Seams) -> Pacer:
    """The pacer of this API key in this process (keyed by a digest, never the key)."""
    try:
        pacers = _PACERS.get()
    except LookupError:
        pacers = {}
        _PACERS.set(pacers)
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    if digest not in pacers:
        pacers[digest] = Pacer(per_minute, monotonic=seams.monotonic, sleep=seams.sleep)
    return pacers[digest]


@asynccontextmanager
async def _client(setup: Setup[EdusignOptions]) -> AsyncIterator[EdusignClient]:
    """The one client both factories use; tests hand it a transport, a monotonic clock
    and a sleep in ``setup.seams``."""
    options, seams = setup.options, setup.seams
    key = options.api_key.get_secret_value()
    headers = {"Authorization": f"Bearer {key}"}
    async with http_client(
        options,
        service="edusign",
        tenant=setup.tenant,
        meter=setup.meter,
        headers=headers,
        transport=seams.transport("edusign"),
    ) as http:
        yield EdusignClient(
            http,
            tenant=setup.tenant,
            retry=RetryPolicy(retries=options.retries),
            pacer=pacer_for(key, options.requests_per_minute, seams),
            sleep=seams.sleep,
        )


@asynccontextmanager
async def open_sink(setup: Setup[EdusignOptions]) -> AsyncIterator[EdusignSink]:
    """A sink for one tenant. ``setup.shared``: other tenants write to the same school
    (see ``mapping.api_id``)."""
    async with _client(setup) as client:
        yield EdusignSink(
            client,
            send_credentials=setup.options.send_credentials,
            sync_groups=setup.options.sync_groups,
            tenant=setup.tenant,
            shared=setup.shared,
        )


def school_of(options: EdusignOptions) -> str:
    """The school a tenant writes to: its server and API key (as a digest, never the key).
    Tenants with the same school are opened ``shared`` (``SinkSpec.target``)."""
    key = hashlib.sha256(options.api_key.get_secret_value().encode()).hexdigest()
    return f"{options.url.rstrip('/').casefold()} {key}"


@asynccontextmanager
async def open_attendance(setup: Setup[EdusignOptions]) -> AsyncIterator[EdusignAttendance]:
    """The attendance of this tenant's sheets."""
    async with _client(setup) as client:
        yield EdusignAttendance(client)


def serve_demo(settings: DemoSettings) -> AbstractAsyncContextManager[DemoServer]:
    """The sandbox for ``passerelle demo``, imported only when the demo opens it: a
    process that does not run the demo loads no sandbox."""
    from sinks.edusign.demo import edusign_demo

    return edusign_demo(settings)


@hookimpl
def passerelle_register_reasons(register: Callable[[ReasonCode], None]) -> None:
    for reason in REASONS:
        register(reason)


@hookimpl
def passerelle_register_sinks(register: Callable[[SinkSpec], None]) -> None:
    register(
        SinkSpec(
            name="edusign",
            options=EdusignOptions,
            open=open_sink,
            attendance=open_attendance,
            demo=serve_demo,
            target=school_of,
        )
    )
