"""Configuration: ``plugins.toml`` plus ``PASSERELLE_...`` environment variables.

pydantic-settings reads and merges the two (the environment wins); the core validates
its own keys, and each plugin's section with the schema that plugin declared. Every
problem becomes a ``ConfigError`` that names the tenant and the key, collected for all
tenants at once so that ``passerelle check`` can list them together.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.errors import ConfigError
from core.options import PluginOptions, secret_file_problem
from core.plugins import Registry
from core.protocols import PipelineSpec, TransformerSpec
from core.schedule import is_valid

ENV_PREFIX = "PASSERELLE_"
# Twice a day, minute AND hour spread per tenant: in croniter, "H 11-12" would run at
# hour 11 and at hour 12; "H H(11-12)" picks one hour of the two.
DEFAULT_SCHEDULE = ("H H(11-12) * * *", "H H(18-20) * * *")
_TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_]*")  # fullmatch: "$" would let "acme\n" in


class WorkerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    state_url: str = "sqlite:///passerelle-state.db"
    max_concurrent_tenants: int = Field(8, ge=1, le=1000)
    grace_minutes: float = Field(60, ge=0)
    shutdown_timeout_seconds: float = Field(60, ge=0)
    health_address: str | None = None
    stalled_after_seconds: float = Field(60, gt=0)
    lock_wait_seconds: float = Field(0, ge=0)
    """How long a run waits for another run of its tenant pipeline to end before it
    refuses (see ``StateStore.run_lock``); 0: it refuses at once."""
    run_deadline_seconds: float = Field(10_800, gt=0)
    """A run still going after this long is cancelled and reported ``failed`` (a server
    that hangs or asks to retry in a week must not hold its tenant, nor a place among
    ``max_concurrent_tenants``, for ever). Three hours: far above any normal run, below
    the gap between the default schedule's two slots. A tenant may set its own."""

    @property
    def coordinated(self) -> bool:
        """Several workers may share a PostgreSQL state store; SQLite means one process."""
        return self.state_url.startswith(("postgresql", "postgres:"))

    @field_validator("health_address")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is not None:
            host, _, port = value.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"expected HOST:PORT, e.g. 127.0.0.1:9108, got {value!r}")
        return value


class TenantSettings(BaseModel):
    """A tenant's own keys; its tables (plugin sections) are validated apart."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "Europe/Paris"
    schedule: tuple[str, ...] = DEFAULT_SCHEDULE
    horizon_days: int = Field(14, ge=1, le=90)
    plugins: tuple[str, ...] = ()
    concurrency: int = Field(4, ge=1, le=64)
    max_deletion_share: float = Field(0.3, ge=0, le=1)
    """The deletion guard: a run deleting more than this share of the connector's sheets
    in the window (and more than ``deletion_guard_floor``) deletes none."""
    deletion_guard_floor: int = Field(5, ge=0)
    """At or below this many deletions in one run, the guard never trips."""
    allow_mass_deletion: bool = False
    """Lifts the deletion guard for every run of the tenant (``--allow-mass-deletion``: one
    run)."""
    run_deadline_seconds: float | None = Field(None, gt=0)
    """This tenant's own run deadline; unset: ``[worker] run_deadline_seconds``."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("schedule")
    @classmethod
    def _cron_expressions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one cron expression")
        for expression in value:
            if not is_valid(expression):
                raise ValueError(f"not a cron expression: {expression!r}")
        return value


@dataclass(frozen=True)
class TenantConfig:
    """One tenant, validated: its own keys and each of its plugin sections."""

    name: str
    settings: TenantSettings
    sections: dict[str, PluginOptions]
    source: str
    sink: str
    shared: bool = False
    """Another tenant's sink writes to the same target (see ``_shared``)."""

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)


@dataclass(frozen=True)
class Config:
    path: Path | None
    worker: WorkerConfig
    tenants: dict[str, TenantConfig]
    problems: list[ConfigError] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    """Every secret value configured, valid tenant or not, for logs to mask."""

    def tenant(self, name: str) -> TenantConfig:
        """The named tenant, or the ConfigErrors that disable it."""
        mine = [p for p in self.problems if p.tenant in (name, None)]
        if mine:
            raise ConfigErrors(mine)
        if name not in self.tenants:
            known = ", ".join(sorted(self.tenants)) or "none"
            raise ConfigError(f"no such tenant (configured: {known})", tenant=name)
        return self.tenants[name]


class PluginUnavailable(ConfigError):
    """The tenant uses a plugin that failed to load: only this tenant is disabled."""


class ConfigErrors(ConfigError):
    """Several problems at once; its message lists each on its own line."""

    def __init__(self, problems: list[ConfigError]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def config_path(given: Path | None) -> Path:
    if given is not None:
        return given
    return Path(os.environ.get(f"{ENV_PREFIX}CONFIG", "plugins.toml"))


def load_config(path: Path | None, registry: Registry) -> Config:
    """Read and validate the configuration. Raises ConfigError only for problems that
    concern every tenant (no file, unreadable TOML, bad ``[worker]``)."""
    path = config_path(path)
    if not path.is_file():
        raise ConfigError(f"configuration file not found: {path}")
    raw = _read_raw(path)
    try:
        worker = WorkerConfig.model_validate(raw.get("worker", {}))
    except ValidationError as exc:
        raise ConfigErrors(_errors(exc, tenant=None, prefix="worker")) from None
    tenants: dict[str, TenantConfig] = {}
    problems: list[ConfigError] = []
    secrets: list[str] = []
    for name, table in raw.get("tenants", {}).items():
        secrets += _raw_secrets(table, registry)
        try:
            tenants[name] = _tenant(name, table, registry)
        except ConfigErrors as exc:
            problems.extend(exc.problems)
        except ConfigError as exc:
            problems.append(exc)
    secrets += [s for t in tenants.values() for o in t.sections.values() for s in o.secrets()]
    secrets += url_passwords(worker.state_url)
    return Config(path, worker, _shared(tenants, registry), problems, secrets)


def url_passwords(url: str) -> list[str]:
    """The password of a state URL as written (percent-encoded, maybe) and as decoded:
    a driver's message or a traceback may quote either."""
    try:
        written = urlsplit(url).password
    except ValueError:
        return []
    return [] if not written else list(dict.fromkeys([written, unquote(written)]))


def _shared(tenants: dict[str, TenantConfig], registry: Registry) -> dict[str, TenantConfig]:
    """Marks the tenants whose sink writes where another valid tenant's does (the same
    ``SinkSpec.target``): their sinks must keep each tenant to its own objects."""
    targets: dict[str, str] = {}
    for name, tenant in tenants.items():
        spec = registry.sinks[tenant.sink]
        target = spec.target(tenant.sections[tenant.sink]) if spec.target else None
        if target is not None:
            targets[name] = f"{spec.name}:{target}"
    counts = Counter(targets.values())
    return {
        name: replace(tenant, shared=counts[targets[name]] > 1) if name in targets else tenant
        for name, tenant in tenants.items()
    }


def _raw_secrets(table: dict[str, Any], registry: Registry) -> list[str]:
    """Secret values as written, even in a tenant whose configuration is invalid."""
    listed = table.get("plugins")
    enabled = tuple(p for p in listed if isinstance(p, str)) if isinstance(listed, list) else ()
    names = {
        name
        for schema in _section_schemas(registry, enabled).values()
        for name in schema.secret_fields
    }
    found: list[str] = []
    for section in table.values():
        if isinstance(section, dict):
            for key, value in section.items():
                if key in names:
                    found += [
                        v
                        for v in (value if isinstance(value, list) else [value])
                        if isinstance(v, str)
                    ]
    return found


def _read_raw(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            tomllib.load(fh)  # pydantic-settings would hide the line of a syntax error
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays or tables
        raise ConfigError(f"{path} is not usable TOML: it is nested too deeply") from None

    class _Settings(BaseSettings):
        model_config = SettingsConfigDict(
            env_prefix=ENV_PREFIX,
            env_nested_delimiter="__",
            case_sensitive=False,
            extra="ignore",
            toml_file=path,
        )
        worker: dict[str, Any] = {}
        tenants: dict[str, dict[str, Any]] = {}

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return env_settings, TomlConfigSettingsSource(settings_cls)

    try:
        return _Settings().model_dump()
    except ValidationError as exc:
        raise ConfigErrors(_errors(exc, tenant=None, prefix="")) from None
    except RecursionError:
        raise ConfigError(f"{path} is not usable TOML: it is nested too deeply") from None


def _tenant(name: str, table: dict[str, Any], registry: Registry) -> TenantConfig:
    if not _TENANT_NAME.fullmatch(name):
        raise ConfigError(
            "a tenant name is lower-case letters, digits and '_' (so that environment "
            "variables can name it)",
            tenant=name,
        )
    own = {k: v for k, v in table.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in table.items() if isinstance(v, dict)}
    try:
        settings = TenantSettings.model_validate(own)
    except ValidationError as exc:
        raise ConfigErrors(_errors(exc, tenant=name, prefix="")) from None

    problems: list[ConfigError] = []
    optional = _optional_names(registry)
    for plugin in settings.plugins:
        if plugin not in optional:
            problems.append(_unknown(registry, name, "plugins", plugin, "optional plugin"))
    schemas = _section_schemas(registry, settings.plugins)
    enabled = {p.replace("-", "_") for p in settings.plugins if p in optional}
    sections: dict[str, PluginOptions] = {}
    for section in sorted(tables.keys() | (enabled & schemas.keys())):
        schema = schemas.get(section)
        if schema is None:
            problems.append(_unknown(registry, name, section, section, "section"))
            continue
        unreadable = _secret_file_problems(name, section, schema, tables.get(section, {}))
        if unreadable:  # never read: a FIFO would hang, /dev/zero would fill the memory
            problems.extend(unreadable)
            continue
        try:
            sections[section] = schema.model_validate(tables.get(section, {}))
        except ValidationError as exc:
            problems.extend(_errors(exc, tenant=name, prefix=section))

    source = _exactly_one(name, "source", sorted(registry.sources), sections, problems)
    sink = _exactly_one(name, "sink", sorted(registry.sinks), sections, problems)
    if problems or source is None or sink is None:
        raise ConfigErrors(problems)
    return TenantConfig(name, settings, sections, source, sink)


def _secret_file_problems(
    tenant: str, section: str, schema: type[PluginOptions], table: dict[str, Any]
) -> list[ConfigError]:
    """A ``<secret>_file`` must name a small regular file (``secret_file_problem``); the
    schema reads it (and checks again on the open file), but this says which key."""
    problems = []
    for name in sorted(schema.secret_fields):
        given = table.get(f"{name}_file")
        if given is None:
            continue
        path = Path(str(given))
        try:
            info = path.stat()  # follows symbolic links, as orchestrators' secrets are
        except OSError:
            continue
        problem = secret_file_problem(path, info)
        if problem is not None:
            problems.append(ConfigError(problem, tenant=tenant, key=f"{section}.{name}_file"))
    return problems


def _section_schemas(
    registry: Registry, enabled: tuple[str, ...]
) -> dict[str, type[PluginOptions]]:
    """Which sections this tenant may have: every source and sink, and its enabled plugins."""
    schemas: dict[str, type[PluginOptions]] = {}
    schemas.update({s.name: s.options for s in registry.sources.values()})
    schemas.update({s.name: s.options for s in registry.sinks.values()})
    for spec in _optional_specs(registry):
        if spec.name in enabled:
            schemas[spec.name.replace("-", "_")] = spec.options
    return schemas


def _optional_specs(registry: Registry) -> list[PipelineSpec | TransformerSpec]:
    specs: list[PipelineSpec | TransformerSpec] = [
        *registry.pipelines.values(),
        *registry.transformers.values(),
    ]
    return [spec for spec in specs if spec.optional]


def _optional_names(registry: Registry) -> list[str]:
    return [spec.name for spec in _optional_specs(registry)]


def _unknown(registry: Registry, tenant: str, key: str, name: str, what: str) -> ConfigError:
    plugin = name.replace("_", "-")
    for broken in (name, plugin):
        if broken in registry.broken:
            return PluginUnavailable(
                f"plugin {broken!r} could not be loaded "
                f"({registry.broken[broken]}); this tenant is disabled",
                tenant=tenant,
                key=key,
            )
    if what == "section" and plugin in _optional_names(registry):
        return ConfigError(
            f"section of plugin {plugin!r}, which is not in this tenant's 'plugins' list",
            tenant=tenant,
            key=key,
        )
    return ConfigError(f"unknown {what} {name!r}", tenant=tenant, key=key)


def _exactly_one(
    tenant: str,
    what: str,
    names: list[str],
    sections: dict[str, PluginOptions],
    problems: list[ConfigError],
) -> str | None:
    found = [n for n in names if n in sections]
    if len(found) == 1:
        return found[0]
    if found:
        problems.append(
            ConfigError(
                f"sections {', '.join(found)} are all {what}s; a tenant has exactly one",
                tenant=tenant,
            )
        )
    elif not any((p.key or "").split(".")[0] in names for p in problems):
        choices = ", ".join(f"[tenants.{tenant}.{n}]" for n in names)
        problems.append(
            ConfigError(
                f"no {what} configured: add one of {choices}"
                if names
                else f"no {what} plugin is installed",
                tenant=tenant,
            )
        )
    return None


def _errors(exc: ValidationError, *, tenant: str | None, prefix: str) -> list[ConfigError]:
    """One ConfigError per problem. Built from location and message only: pydantic's own
    text would quote the input, which may be a secret."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        path = [prefix] if prefix else []
        path += [str(part) for part in error["loc"]]
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append(ConfigError(message, tenant=tenant, key=".".join(path) or None))
    return problems
