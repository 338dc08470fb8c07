"""The core's own plugin: the ``timetable`` pipeline and the rules it runs.

It registers through the same hooks as any other plugin. For each tenant it wires the
tenant's source (an ERP) to its sink (an attendance system) through the rules of
``core.rules``, then through any optional transformer the tenant enabled.

The order a timetable source yields in is part of its contract: every ``Person`` (the
ERP's directory of instructors and students) before the first ``Session``. The
duplicate-email rules settle who keeps a shared email when the first session reaches
them, so that each session is decided as it streams by, without holding the timetable in
memory; a person yielded after that fails the run (``RunFailed`` naming the person and
the rule), and nothing is deleted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from core.hookspecs import hookimpl
from core.models import Record
from core.protocols import (
    CallMeter,
    Pipeline,
    PipelineSpec,
    Setup,
    TenantPlan,
    Transformer,
)
from core.rules import (
    CategoryFilterOptions,
    CategoryRule,
    InstructorRules,
    StudentRules,
    SuspendedRule,
    WindowRule,
)


def session_rules(source_options: object) -> list[Transformer[Record]]:
    """The rules, in the order their reasons are ranked."""
    rules: list[Transformer[Record]] = [WindowRule()]
    if isinstance(source_options, CategoryFilterOptions):
        rules.append(
            CategoryRule(
                source_options.event_category_names_included,
                source_options.event_category_names_excluded,
            )
        )
    rules += [SuspendedRule(), InstructorRules(), StudentRules()]
    return rules


@asynccontextmanager
async def open_timetable(plan: TenantPlan, meter: CallMeter) -> AsyncIterator[Pipeline[Record]]:
    source_spec, source_options = plan.source
    sink_spec, sink_options = plan.sink
    async with AsyncExitStack() as stack:
        extra = [
            await stack.enter_async_context(
                spec.open(Setup(plan.tenant, plan.timezone, options, meter))
            )
            for spec, options in plan.transformers
        ]
        source = await stack.enter_async_context(
            source_spec.open(Setup(plan.tenant, plan.timezone, source_options, meter))
        )
        sink = await stack.enter_async_context(
            sink_spec.open(
                Setup(plan.tenant, plan.timezone, sink_options, meter, shared=plan.shared)
            )
        )
        yield Pipeline(
            source, sink, [*session_rules(source_options), *extra], concurrency=plan.concurrency
        )


@hookimpl
def passerelle_register_pipelines(register: Callable[[PipelineSpec], None]) -> None:
    register(PipelineSpec(name="timetable", open=open_timetable))
