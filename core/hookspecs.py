"""The hooks a passerelle plugin may implement. Specifications only: no logic here.

Implement them in a module with ``@core.hookimpl`` and expose the module through the
``passerelle.plugins`` entry-point group. As in pluggy, an implementation declares only
the arguments it uses (``def passerelle_object_failed(event)`` is one), and may carry
another function name with ``@hookimpl(specname="passerelle_...")``. Hook wrappers and
``async`` implementations are refused: the plugin is listed broken.

Registration hooks hand the plugin a ``register`` callback, so one plugin module can add
several things. They are called once, when the plugin loads; a name or code registered
twice, or a registration that raises, makes that plugin broken and registers none of its
things.

Observer hooks (``passerelle_run_started``, ``passerelle_object_skipped``,
``passerelle_object_failed``, ``passerelle_run_finished``) are told what happens, for
metrics and notifications. They are plain synchronous functions, called on the run's
event loop, in the middle of the run: each must be cheap and must never block (no
network, no disk). Hand slow work, such as a webhook, to a bounded queue or a thread of
your own, and drop what does not fit. What they return is ignored; what they raise is
logged with the plugin's name, the other observers are still told, and the run goes on.
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
    """A rule said no to an object (``event.status == "skipped"``); ``event.reason`` says
    which rule. Skips are the normal life of a timetable: the run stays ``ok``."""


@hookspec
def passerelle_object_failed(tenant: str, pipeline: str, run_id: str, event: Event) -> None:
    """Something broke for one object (``event.status == "failed"``); ``event.reason``
    says what. The run goes on, and will end ``partial``."""


@hookspec
def passerelle_run_finished(report: RunReport) -> None:
    """A run has finished, whatever its outcome (a cancelled run included); ``report`` is
    its final report. Observers are told once it is stored (a dry run stores none)."""
