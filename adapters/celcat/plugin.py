"""Registers the CELCAT source: its options (``[tenants.NAME.celcat]``) and its factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import httpx
from pydantic import Field, SecretStr, field_validator

from adapters.celcat import mapping
from adapters.celcat.client import CelcatClient
from adapters.celcat.demo import celcat_demo
from adapters.celcat.names import NameFormat
from adapters.celcat.reasons import REASONS
from adapters.celcat.source import CelcatSource
from core import CallMeter, CategoryFilterOptions, ReasonCode, Setup, SourceSpec, hookimpl
from core.http import HttpOptions, RetryPolicy, Sleep, header_secret, http_client


class CelcatOptions(CategoryFilterOptions, HttpOptions):
    """``url`` is the Web API's base: requests go to ``{url}/api/...``."""

    api_code: SecretStr | None = None
    user_name_format: NameFormat = "LAST, First"
    timetable_ids: list[int] = []
    """Read only these timetables (one pass each); empty: every timetable CELCAT lists."""
    page_size: int = Field(1000, ge=10, le=10_000)
    """The ``pageSize`` asked for. A server may serve fewer rows a page; nothing depends on
    it (docs/celcat-webapi.md, "Paging"), but a size it honours saves calls."""
    concurrency: int = Field(8, ge=1, le=64)

    _api_code_in_a_header = field_validator("api_code")(header_secret)

    def headers(self) -> dict[str, str]:
        """The headers every Web API request carries: the ApiCode, when there is one."""
        if self.api_code is None:
            return {}
        return {mapping.API_CODE_HEADER: self.api_code.get_secret_value()}


@asynccontextmanager
async def celcat_source(
    options: CelcatOptions,
    *,
    tenant: str,
    meter: CallMeter,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = anyio.sleep,
) -> AsyncIterator[CelcatSource]:
    """A source for one tenant; tests hand it the sandbox's transport and a fake sleep."""
    headers = options.headers()
    async with http_client(
        options, service="celcat", tenant=tenant, meter=meter, headers=headers, transport=transport
    ) as http:
        client = CelcatClient(
            http,
            tenant=tenant,
            retry=RetryPolicy(retries=options.retries),
            page_size=options.page_size,
            sleep=sleep,
        )
        yield CelcatSource(
            client,
            name_format=options.user_name_format,
            timetable_ids=options.timetable_ids,
            concurrency=options.concurrency,
        )


@asynccontextmanager
async def open_source(setup: Setup[CelcatOptions]) -> AsyncIterator[CelcatSource]:
    async with celcat_source(setup.options, tenant=setup.tenant, meter=setup.meter) as source:
        yield source


@hookimpl
def passerelle_register_reasons(register: Callable[[ReasonCode], None]) -> None:
    for reason in REASONS:
        register(reason)


@hookimpl
def passerelle_register_sources(register: Callable[[SourceSpec], None]) -> None:
    register(SourceSpec(name="celcat", options=CelcatOptions, open=open_source, demo=celcat_demo))
