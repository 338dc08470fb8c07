"""Registers the CELCAT source: its options (``[tenants.NAME.celcat]``) and its factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from pydantic import Field, SecretStr, field_validator

from adapters.celcat import mapping
from adapters.celcat.client import CelcatClient
from adapters.celcat.names import NameFormat
from adapters.celcat.reasons import REASONS
from adapters.celcat.source import CelcatSource
from core import (
    CategoryFilterOptions,
    DemoServer,
    DemoSettings,
    ReasonCode,
    Setup,
    SourceSpec,
    hookimpl,
)
from core.http import HttpOptions, RetryPolicy, header_secret, http_client


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
async def open_web_api(
    options: CelcatOptions, setup: Setup[Any], *, retry: RetryPolicy
) -> AsyncIterator[CelcatClient]:
    """A Web API client for ``setup``'s tenant (the source's, or return-attendance's);
    tests hand it the "celcat" transport and a sleep in ``setup.seams``."""
    async with http_client(
        options,
        service="celcat",
        tenant=setup.tenant,
        meter=setup.meter,
        headers=options.headers(),
        transport=setup.seams.transport("celcat"),
    ) as http:
        yield CelcatClient(
            http,
            tenant=setup.tenant,
            retry=retry,
            page_size=options.page_size,
            sleep=setup.seams.sleep,
        )


@asynccontextmanager
async def open_source(setup: Setup[CelcatOptions]) -> AsyncIterator[CelcatSource]:
    options = setup.options
    async with open_web_api(options, setup, retry=RetryPolicy(retries=options.retries)) as client:
        yield CelcatSource(
            client,
            name_format=options.user_name_format,
            timetable_ids=options.timetable_ids,
            concurrency=options.concurrency,
        )


def serve_demo(settings: DemoSettings) -> AbstractAsyncContextManager[DemoServer]:
    """The sandbox for ``passerelle demo``, imported only when the demo opens it: a
    process that does not run the demo loads no sandbox."""
    from adapters.celcat.demo import celcat_demo

    return celcat_demo(settings)


@hookimpl
def passerelle_register_reasons(register: Callable[[ReasonCode], None]) -> None:
    for reason in REASONS:
        register(reason)


@hookimpl
def passerelle_register_sources(register: Callable[[SourceSpec], None]) -> None:
    register(SourceSpec(name="celcat", options=CelcatOptions, open=open_source, demo=serve_demo))
