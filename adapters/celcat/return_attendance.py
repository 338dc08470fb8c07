"""The optional ``return-attendance`` pipeline: the attendance taken in the tenant's
attendance system (its sink's ``attendance`` reader) back to CELCAT through CAWS.

Enabled per tenant with ``plugins = ["return-attendance"]``; options under
``[tenants.NAME.return_attendance]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator

from adapters.celcat import mapping
from adapters.celcat.caws import CawsSink
from adapters.celcat.caws_client import CawsClient
from adapters.celcat.plugin import CelcatOptions, open_web_api
from core import (
    CallMeter,
    DemoServer,
    DemoSettings,
    Mark,
    Pipeline,
    PipelineSpec,
    PluginOptions,
    Presence,
    RunFailed,
    Setup,
    TenantPlan,
    Window,
    hookimpl,
)
from core.http import HttpOptions, RetryPolicy, http_client

DEFAULT_MARKS = {
    Presence.PRESENT: "P",
    Presence.ABSENT: "A",
    Presence.LATE: "L",
    Presence.EXCUSED: "E",
}


class ReturnAttendanceOptions(HttpOptions):
    """``url`` is not used: CAWS is at ``caws_url`` (requests go to {caws_url}/token...).
    What the plugin expects of CAWS, and where each assumption lives: docs/caws.md."""

    url: str = ""
    caws_url: str
    username: str
    password: SecretStr
    timetable_alias: str
    role: str
    timetable_id: int | None = None
    """The CELCAT timetable the alias opens: CAWS registers are per timetable, and an event
    id may exist in two. None: every session (an installation with one timetable). Either
    way, each Web API call names the session's own timetable (docs/caws.md, "Weeks")."""
    lookback_days: int = Field(7, ge=1, le=90)
    marks: dict[Presence, str] = Field(default_factory=lambda: dict(DEFAULT_MARKS))

    @field_validator("marks")
    @classmethod
    def _every_presence(cls, value: dict[Presence, str]) -> dict[Presence, str]:
        """A partial table changes those marks only; the others keep their default."""
        return {**DEFAULT_MARKS, **value}


def lookback(now: datetime, tz: ZoneInfo, options: PluginOptions) -> Window:
    days = options.lookback_days if isinstance(options, ReturnAttendanceOptions) else 7
    return Window.ending_on(now, tz, days)


@asynccontextmanager
async def caws_sink(
    setup: Setup[ReturnAttendanceOptions], celcat: CelcatOptions
) -> AsyncIterator[CawsSink]:
    """The CAWS sink for one tenant (``celcat``: its source's options, for the Web API);
    tests hand it transports ("caws", "celcat"), a sleep and a clock in ``setup.seams``."""
    options, seams, tenant, meter = setup.options, setup.seams, setup.tenant, setup.meter
    form = mapping.token_form(
        options.username, options.password.get_secret_value(), options.timetable_alias, options.role
    )
    caws_options = options.model_copy(update={"url": options.caws_url})
    retry = RetryPolicy(retries=options.retries)
    async with (
        http_client(
            caws_options,
            service="caws",
            tenant=tenant,
            meter=meter,
            transport=seams.transport("caws"),
        ) as caws_http,
        open_web_api(celcat, setup, retry=retry) as web_api,
    ):
        caws = CawsClient(
            caws_http,
            tenant=tenant,
            form=form,
            retry=retry,
            sleep=seams.sleep,
            monotonic=seams.monotonic,
        )
        yield CawsSink(
            caws, web_api, abbreviations=dict(options.marks), timetable=options.timetable_id
        )


@asynccontextmanager
async def open_return_attendance(
    plan: TenantPlan, meter: CallMeter
) -> AsyncIterator[Pipeline[Mark]]:
    sink_spec, sink_options = plan.sink
    source_options = plan.source[1]
    if sink_spec.attendance is None:
        raise RunFailed("return-attendance", f"the {sink_spec.name} plugin cannot read attendance")
    if not isinstance(source_options, CelcatOptions) or not isinstance(
        plan.options, ReturnAttendanceOptions
    ):
        raise RunFailed("return-attendance", "return-attendance needs a CELCAT source")
    async with (
        sink_spec.attendance(Setup(plan.tenant, plan.timezone, sink_options, meter)) as marks,
        caws_sink(Setup(plan.tenant, plan.timezone, plan.options, meter), source_options) as caws,
    ):
        yield Pipeline(marks, caws, concurrency=1)


def serve_demo(settings: DemoSettings) -> AbstractAsyncContextManager[DemoServer]:
    """CAWS for ``passerelle demo``, imported only when the demo opens it."""
    from adapters.celcat.demo import caws_demo

    return caws_demo(settings)


@hookimpl
def passerelle_register_pipelines(register: Callable[[PipelineSpec], None]) -> None:
    register(
        PipelineSpec(
            name="return-attendance",
            open=open_return_attendance,
            options=ReturnAttendanceOptions,
            optional=True,
            window=lookback,
            demo=serve_demo,
        )
    )
