"""passerelle's core: the public API that plugins import (and nothing else of the core).

A plugin is a module with ``@hookimpl`` functions (see ``core.hookspecs``) that register
sources, sinks, transformers or pipelines, listed in the ``passerelle.plugins``
entry-point group of its package.
"""

from core.context import DeletionGuard, RunContext, Window
from core.errors import (
    ConfigError,
    CredentialsRefused,
    ObjectFailed,
    PasserelleError,
    RunFailed,
    ServerUnreachable,
    TransientError,
)
from core.hookspecs import hookimpl
from core.models import Group, Mark, Person, PersonKind, Presence, Record, Session
from core.options import PluginOptions
from core.protocols import (
    CallMeter,
    DemoServer,
    DemoSettings,
    Pipeline,
    PipelineSpec,
    Setup,
    Sink,
    SinkSpec,
    Source,
    SourceSpec,
    StreamEnd,
    TenantPlan,
    Transformer,
    TransformerSpec,
)
from core.reasons import Reason, ReasonCode
from core.report import Acted, Change, Event, Outcome, RunReport
from core.rules import CategoryFilterOptions
from core.state import Synced, TenantState

__all__ = [
    "Acted",
    "CallMeter",
    "CategoryFilterOptions",
    "Change",
    "ConfigError",
    "CredentialsRefused",
    "DeletionGuard",
    "DemoServer",
    "DemoSettings",
    "Event",
    "Group",
    "Mark",
    "ObjectFailed",
    "Outcome",
    "PasserelleError",
    "Person",
    "PersonKind",
    "Pipeline",
    "PipelineSpec",
    "PluginOptions",
    "Presence",
    "Reason",
    "ReasonCode",
    "Record",
    "RunContext",
    "RunFailed",
    "RunReport",
    "ServerUnreachable",
    "Session",
    "Setup",
    "Sink",
    "SinkSpec",
    "Source",
    "SourceSpec",
    "StreamEnd",
    "Synced",
    "TenantPlan",
    "TenantState",
    "Transformer",
    "TransformerSpec",
    "TransientError",
    "Window",
    "hookimpl",
]
