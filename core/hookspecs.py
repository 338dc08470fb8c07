"""The hooks a passerelle plugin may implement. Specifications only: no logic here.

Registration hooks hand the plugin a ``register`` callback, so one plugin module can add
several things. Observer hooks are told what happens, for metrics and notifications;
what they return is ignored and what they raise is logged, never fatal to a run.

Implement them in a module with ``@core.hookimpl`` and expose the module through the
``passerelle.plugins`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from core.protocols import PipelineSpec, SinkSpec, SourceSpec, TransformerSpec
from core.reasons import ReasonCode
from core.report import Event, RunReport

hookspec = pluggy.HookspecMarker("passerelle")
hookimpl = pluggy.HookimplMarker("passerelle")


@hookspec
def passerelle_register_sources(register: Callable[[SourceSpec], None]) -> None:
    """Register source types (an ERP adapter): ``register(SourceSpec(...))``.

    A tenant selects a source by having a config section named like it.
    """


@hookspec
def passerelle_register_sinks(register: Callable[[SinkSpec], None]) -> None:
    """Register sink types (a target such as Edusign): ``register(SinkSpec(...))``.

    A tenant selects a sink by having a config section named like it.
    """


@hookspec
def passerelle_register_transformers(register: Callable[[TransformerSpec], None]) -> None:
    """Register record transformers: ``register(TransformerSpec(...))``."""


@hookspec
def passerelle_register_pipelines(register: Callable[[PipelineSpec], None]) -> None:
    """Register pipelines (how a source, transformers and a sink are wired for a tenant)."""


@hookspec
def passerelle_register_reasons(register: Callable[[ReasonCode], None]) -> None:
    """Register the reason codes this plugin reports: ``register(ReasonCode(...))``.

    A code is registered once, by the plugin that emits it; what it means and what the
    customer does about it is then shown by ``passerelle explain`` and the README.
    """


@hookspec
def passerelle_run_started(tenant: str, pipeline: str, run_id: str) -> None:
    """A tenant's pipeline run has started."""


@hookspec
def passerelle_object_skipped(tenant: str, pipeline: str, run_id: str, event: Event) -> None:
    """An object was skipped or failed during a run; ``event`` says which and why."""


@hookspec
def passerelle_run_finished(report: RunReport) -> None:
    """A run has finished (whatever its outcome); ``report`` is its final report."""
