"""Registers the Edusign sink: its options (``[tenants.NAME.edusign]``) and its factory."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import httpx
from anyio.lowlevel import RunVar
from pydantic import Field, SecretStr, field_validator

from core import CallMeter, ReasonCode, Setup, SinkSpec, hookimpl
from core.http import HttpOptions, Pacer, RetryPolicy, Sleep, header_secret, http_client
from sinks.edusign.attendance import EdusignAttendance
from sinks.edusign.client import EdusignClient
from sinks.edusign.demo import edusign_demo
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


def pacer_for(
    api_key: str,
    per_minute: float,
    clock: Callable[[], float] | None = None,
    sleep: Sleep = anyio.sleep,
) -> Pacer:
    """The pacer of this API key in this process (keyed by a digest, never the key)."""
    try:
        pacers = _PACERS.get()
    except LookupError:
        pacers = {}
        _PACERS.set(pacers)
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    if digest not in pacers:
        pacers[digest] = Pacer(per_minute, clock=clock or anyio.current_time, sleep=sleep)
    return pacers[digest]


@asynccontextmanager
async def _client(
    options: EdusignOptions,
    tenant: str,
    meter: CallMeter,
    transport: httpx.AsyncBaseTransport | None,
    sleep: Sleep,
    clock: Callable[[], float] | None,
) -> AsyncIterator[EdusignClient]:
    key = options.api_key.get_secret_value()
    headers = {"Authorization": f"Bearer {key}"}
    async with http_client(
        options, service="edusign", tenant=tenant, meter=meter, headers=headers, transport=transport
    ) as http:
        yield EdusignClient(
            http,
            tenant=tenant,
            retry=RetryPolicy(retries=options.retries),
            pacer=pacer_for(key, options.requests_per_minute, clock, sleep),
            sleep=sleep,
        )


@asynccontextmanager
async def edusign_sink(
    options: EdusignOptions,
    *,
    tenant: str,
    meter: CallMeter,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = anyio.sleep,
    clock: Callable[[], float] | None = None,
    shared: bool = False,
) -> AsyncIterator[EdusignSink]:
    """A sink for one tenant; tests hand it the sandbox's transport, a clock and a sleep.
    ``shared``: other tenants write to the same school (see ``mapping.api_id``)."""
    async with _client(options, tenant, meter, transport, sleep, clock) as client:
        yield EdusignSink(
            client,
            send_credentials=options.send_credentials,
            sync_groups=options.sync_groups,
            tenant=tenant,
            shared=shared,
        )


@asynccontextmanager
async def open_sink(setup: Setup[EdusignOptions]) -> AsyncIterator[EdusignSink]:
    async with edusign_sink(
        setup.options, tenant=setup.tenant, meter=setup.meter, shared=setup.shared
    ) as sink:
        yield sink


def school_of(options: EdusignOptions) -> str:
    """The school a tenant writes to: its server and API key (as a digest, never the key).
    Tenants with the same school are opened ``shared`` (``SinkSpec.target``)."""
    key = hashlib.sha256(options.api_key.get_secret_value().encode()).hexdigest()
    return f"{options.url.rstrip('/').casefold()} {key}"


@asynccontextmanager
async def edusign_attendance(
    options: EdusignOptions,
    *,
    tenant: str,
    meter: CallMeter,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = anyio.sleep,
    clock: Callable[[], float] | None = None,
) -> AsyncIterator[EdusignAttendance]:
    """The attendance of this tenant's sheets; tests hand it the sandbox's transport."""
    async with _client(options, tenant, meter, transport, sleep, clock) as client:
        yield EdusignAttendance(client)


@asynccontextmanager
async def open_attendance(setup: Setup[EdusignOptions]) -> AsyncIterator[EdusignAttendance]:
    async with edusign_attendance(setup.options, tenant=setup.tenant, meter=setup.meter) as src:
        yield src


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
            demo=edusign_demo,
            target=school_of,
        )
    )
