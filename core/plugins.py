"""Plugin discovery and the registry of what plugins registered.

Every plugin, built-in or installed, is a module listed in the ``passerelle.plugins``
entry-point group; the core has no other path for them. Each is loaded on its own: one
that fails to import, has a hook that does not match its spec, or whose registration
raises is recorded as broken, and only the tenants that use it are disabled.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points, version
from types import ModuleType
from typing import Any

import pluggy
from loguru import logger

from core import hookspecs, timetable
from core.protocols import PipelineSpec, SinkSpec, SourceSpec, TransformerSpec
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
    """Everything the loaded plugins registered, by name."""

    manager: pluggy.PluginManager
    sources: dict[str, SourceSpec] = field(default_factory=dict)
    sinks: dict[str, SinkSpec] = field(default_factory=dict)
    transformers: dict[str, TransformerSpec] = field(default_factory=dict)
    pipelines: dict[str, PipelineSpec] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)

    @property
    def broken(self) -> dict[str, str]:
        return {p.name: p.error for p in self.plugins if p.error is not None}

    def notify_run_started(self, tenant: str, pipeline: str, run_id: str) -> None:
        self._notify("passerelle_run_started", tenant=tenant, pipeline=pipeline, run_id=run_id)

    def notify_object_skipped(self, tenant: str, pipeline: str, run_id: str, event: Event) -> None:
        self._notify(
            "passerelle_object_skipped",
            tenant=tenant,
            pipeline=pipeline,
            run_id=run_id,
            event=event,
        )

    def notify_run_finished(self, report: RunReport) -> None:
        self._notify("passerelle_run_finished", report=report)

    def _notify(self, hook: str, **kwargs: Any) -> None:
        # Each observer on its own: one's bug must not silence the others, nor cost a
        # tenant its run.
        for impl in getattr(self.manager.hook, hook).get_hookimpls():
            try:
                impl.function(**kwargs)
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


def _collect_registrations(registry: Registry, module: ModuleType) -> tuple[str, ...]:
    """Call the module's registration hooks, committing nothing unless all succeed."""
    staged: list[tuple[dict[str, Any], str, Any]] = []
    for hook_name, attribute in _REGISTRATIONS:
        table: dict[str, Any] = getattr(registry, attribute)
        impl = getattr(module, hook_name, None)
        if impl is None:
            continue

        def register(spec: Any, table: dict[str, Any] = table, kind: str = attribute) -> None:
            taken = spec.name in table or any(
                t is table and s.name == spec.name for t, _, s in staged
            )
            if taken:
                raise ValueError(f"{kind[:-1]} {spec.name!r} is already registered")
            staged.append((table, kind, spec))

        impl(register=register)
    for table, _, spec in staged:
        table[spec.name] = spec
    return tuple(f"{kind[:-1]}:{spec.name}" for _, kind, spec in staged)


def _own_version() -> str | None:
    try:
        return version(PROJECT)
    except PackageNotFoundError:  # running from a source tree that was not installed
        return None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
