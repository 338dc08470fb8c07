"""Plugin discovery and the registry of what plugins registered.

Every plugin, built-in or installed, is a module listed in the ``passerelle.plugins``
entry-point group; the core has no other path for them. Each is loaded on its own: one
that fails to import, has a hook that does not match its spec, or whose registration
raises is recorded as broken, and only the tenants that use it are disabled.

Hooks are called the way pluggy calls them: each implementation is handed only the
arguments it declares (``impl.argnames``), and it is found under the hook it implements,
whatever its function's name (``@hookimpl(specname=...)``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points, version
from types import ModuleType
from typing import Any

import pluggy
from loguru import logger

from core import hookspecs, timetable
from core.protocols import PipelineSpec, SinkSpec, SourceSpec, TransformerSpec
from core.reasons import CORE_REASONS, ReasonCode
from core.report import Event, RunReport

ENTRY_POINT_GROUP = "passerelle.plugins"
PROJECT = "passerelle"


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """What ``passerelle plugins`` shows about one plugin."""

    name: str
    version: str | None
    origin: str
    hooks: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    error: str | None = None


@dataclass
class Registry:
    """Everything the loaded plugins registered, by name (reason codes: by code, the
    core's own included)."""

    manager: pluggy.PluginManager
    sources: dict[str, SourceSpec] = field(default_factory=dict)
    sinks: dict[str, SinkSpec] = field(default_factory=dict)
    transformers: dict[str, TransformerSpec] = field(default_factory=dict)
    pipelines: dict[str, PipelineSpec] = field(default_factory=dict)
    reasons: dict[str, ReasonCode] = field(
        default_factory=lambda: {str(reason.code): reason for reason in CORE_REASONS}
    )
    plugins: list[PluginInfo] = field(default_factory=list)

    @property
    def broken(self) -> dict[str, str]:
        return {p.name: p.error for p in self.plugins if p.error is not None}

    def notify_run_started(self, tenant: str, pipeline: str, run_id: str) -> None:
        self._notify("passerelle_run_started", tenant=tenant, pipeline=pipeline, run_id=run_id)

    def notify_event(self, tenant: str, pipeline: str, run_id: str, event: Event) -> None:
        """Tell ``passerelle_object_skipped`` or ``passerelle_object_failed``, as ``event``
        says."""
        hook = (
            "passerelle_object_failed" if event.status == "failed" else "passerelle_object_skipped"
        )
        self._notify(hook, tenant=tenant, pipeline=pipeline, run_id=run_id, event=event)

    def notify_run_finished(self, report: RunReport) -> None:
        self._notify("passerelle_run_finished", report=report)

    def _notify(self, hook: str, **kwargs: Any) -> None:
        # Not ``self.manager.hook.<name>(...)``: pluggy's call loop stops at the first
        # implementation that raises and raises it here. Each observer is called on its
        # own instead, in pluggy's order and with pluggy's arguments: one's bug must not
        # silence the others, nor cost a tenant its run.
        for impl in reversed(getattr(self.manager.hook, hook).get_hookimpls()):
            try:
                _call(impl, kwargs)
            except Exception:
                logger.opt(exception=True).error("plugin {!r} failed in {}", impl.plugin_name, hook)


def load_registry(plugins: Iterable[EntryPoint] | None = None) -> Registry:
    """Load the core's own plugin and every entry point of the group, each on its own."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    registry = Registry(manager)
    _add(registry, "timetable", lambda: timetable, version=_own_version(), origin="core.timetable")
    found = entry_points(group=ENTRY_POINT_GROUP) if plugins is None else plugins
    for ep in sorted(found, key=lambda ep: ep.name):
        dist = f"{ep.dist.name} " if ep.dist is not None else ""
        _add(
            registry,
            ep.name,
            ep.load,
            version=ep.dist.version if ep.dist else None,
            origin=f"{dist}({ep.value})",
        )
    return registry


@functools.cache
def default_registry() -> Registry:
    """The registry of the installed plugins, loaded once per process."""
    return load_registry()


_REGISTRATIONS: tuple[tuple[str, str], ...] = (
    ("passerelle_register_sources", "sources"),
    ("passerelle_register_sinks", "sinks"),
    ("passerelle_register_transformers", "transformers"),
    ("passerelle_register_pipelines", "pipelines"),
    ("passerelle_register_reasons", "reasons"),
)


def _add(
    registry: Registry,
    name: str,
    load: Callable[[], ModuleType],
    *,
    version: str | None,
    origin: str,
) -> None:
    manager = registry.manager
    try:
        module = load()
        manager.register(module, name=name)
        manager.check_pending()
        _check_impls(manager, module)
    except Exception as exc:
        if manager.has_plugin(name):
            manager.unregister(name=name)
        registry.plugins.append(PluginInfo(name, version, origin, error=_describe(exc)))
        logger.error("plugin {!r} could not be loaded: {}", name, _describe(exc))
        return
    hooks = tuple(sorted(caller.name for caller in manager.get_hookcallers(module) or ()))
    try:
        provides = _collect_registrations(registry, module)
    except Exception as exc:
        manager.unregister(module)
        registry.plugins.append(PluginInfo(name, version, origin, hooks, error=_describe(exc)))
        logger.error("plugin {!r} failed to register: {}", name, _describe(exc))
        return
    registry.plugins.append(PluginInfo(name, version, origin, hooks, provides))


def _check_impls(manager: pluggy.PluginManager, module: object) -> None:
    """Refuse what would be silently ignored: a hook wrapper wraps nothing here (hooks are
    called one implementation at a time), and an ``async`` implementation would only make
    a coroutine nobody awaits."""
    impls = [
        (caller.name, impl)
        for caller in manager.get_hookcallers(module) or ()
        for impl in caller.get_hookimpls()
        if impl.plugin is module
    ]
    wrappers = sorted(name for name, impl in impls if impl.wrapper or impl.hookwrapper)
    if wrappers:
        raise ValueError(f"passerelle hooks take no wrappers: {', '.join(wrappers)}")
    coroutines = sorted(name for name, impl in impls if inspect.iscoroutinefunction(impl.function))
    if coroutines:
        raise ValueError(f"passerelle hooks are synchronous, not async: {', '.join(coroutines)}")


def _collect_registrations(registry: Registry, module: object) -> tuple[str, ...]:
    """Call the module's registration hooks, committing nothing unless all succeed."""
    staged: list[tuple[dict[str, Any], str, str, Any]] = []
    for hook_name, attribute in _REGISTRATIONS:
        table: dict[str, Any] = getattr(registry, attribute)
        kind = attribute.removesuffix("s")

        def register(item: Any, table: dict[str, Any] = table, kind: str = kind) -> None:
            key = str(item.code) if isinstance(item, ReasonCode) else item.name
            if key in table or any(t is table and k == key for t, _, k, _ in staged):
                raise ValueError(f"{kind} {key!r} is already registered")
            staged.append((table, kind, key, item))

        for impl in _own_impls(registry.manager, hook_name, module):
            _call(impl, {"register": register})
    for table, _, key, item in staged:
        table[key] = item
    return tuple(f"{kind}:{key}" for _, kind, key, _ in staged)


def _own_impls(manager: pluggy.PluginManager, hook: str, plugin: object) -> list[pluggy.HookImpl]:
    """``plugin``'s implementations of ``hook``, in the order pluggy would call them."""
    impls = getattr(manager.hook, hook).get_hookimpls()
    return [impl for impl in reversed(impls) if impl.plugin is plugin]


def _call(impl: pluggy.HookImpl, kwargs: Mapping[str, object]) -> object:
    """Call one implementation as pluggy's own call loop does: with the arguments it
    declares only (registration checked they are all the spec's)."""
    args = [kwargs[name] for name in impl.argnames]
    optional = {name: kwargs[name] for name in impl.kwargnames if name in kwargs}
    return impl.function(*args, **optional)


def _own_version() -> str | None:
    try:
        return version(PROJECT)
    except PackageNotFoundError:  # running from a source tree that was not installed
        return None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
