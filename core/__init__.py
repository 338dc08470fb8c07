"""passerelle's core, as plugins see it.

A plugin is a module with ``@hookimpl`` functions (see ``core.hookspecs``) that register
sources, sinks, transformers, pipelines or reason codes, listed in the
``passerelle.plugins`` entry-point group of its package.

Plugins import the core's public API only: ``core`` (this package), ``core.http`` (the
HTTP toolkit: timeouts, retries, pacing) and ``core.sandbox`` (a plugin's sandbox: fault
injection, call recording, serving on a loopback port); ``PLUGIN_API`` lists them, and a
test fails when a plugin imports any other module of the core. Importing ``core`` loads no
database library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from core._public import *  # noqa: F403  (what type checkers and editors see)

PLUGIN_API: Final = ("core", "core.http", "core.sandbox")
"""The modules of the core a plugin may import; every other one may change under it."""


def __getattr__(name: str) -> Any:
    # PEP 562: the public names are imported when first asked for, then kept here.
    public = importlib.import_module("core._public")
    if name not in public.__all__:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    value = getattr(public, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *importlib.import_module("core._public").__all__])
