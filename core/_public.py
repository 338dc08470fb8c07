"""The names ``core`` exports, loaded on first use (see ``core/__init__.py``).

Kept apart so that importing ``core``, or any module of it such as ``core.cli``, costs
nothing until a name is asked for: ``passerelle --help`` loads no pydantic model.
"""

from core.concurrency import Once
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
from core.fingerprints import fingerprint
from core.hookspecs import hookimpl
from core.models import Group, Mark, Person, PersonKind, Presence, Record, Session
from core.options import PluginOptions
from core.protocols import (
    CallMeter,
    DemoServer,
    DemoSettings,
    Pipeline,
    PipelineSpec,
    Seams,
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
from core.rules import CategoryFilterOptions, fold
from core.synced import Synced, TenantState

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
    "Once",
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
    "Seams",
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
    "fingerprint",
    "fold",
    "hookimpl",
]
