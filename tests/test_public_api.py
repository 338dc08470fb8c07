"""What plugins may import of the core is listed once, in ``core.PLUGIN_API``: the plugins
keep to it, the package docstring and the README say the same list, and importing it is
light (no database library)."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import core
from core import PLUGIN_API

ROOT = Path(__file__).parents[1]
PLUGINS = ("adapters", "sinks", "tests/fixtures")
"""Where plugin code lives: the built-in plugins and the third-party test plugins."""
README = (ROOT / "README.md").read_text(encoding="utf-8")
SENTENCE = "Plugins import the core's public API only:"


def _core_modules(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Each module of the core that ``tree`` imports, with its line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:
                if _is_submodule(node.module, alias.name):
                    yield node.lineno, f"{node.module}.{alias.name}"


def _is_submodule(package: str, name: str) -> bool:
    """Whether ``from package import name`` imports a module, as Python decides: the
    package's attribute if it has one (``core.fingerprint`` is the function it exports),
    else the submodule of that name."""
    if not package.startswith("core") or not _is_module(package):
        return False
    attribute = getattr(importlib.import_module(package), name, None)
    return isinstance(attribute, ModuleType) or (
        attribute is None and _is_module(f"{package}.{name}")
    )


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _sources() -> Iterator[tuple[str, str]]:
    """Every plugin source file, and the README's plugin example, as (where, text)."""
    for top in PLUGINS:
        for path in sorted((ROOT / top).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")
    for block in re.findall(r"```python\n(.*?)```", README, re.DOTALL):
        if "@hookimpl" in block:
            yield "README.md (plugin example)", block


def test_plugins_import_the_public_api_only() -> None:
    outside = [
        f"{where}:{line} imports {module}"
        for where, text in _sources()
        for line, module in _core_modules(ast.parse(text, where))
        if (module == "core" or module.startswith("core.")) and module not in PLUGIN_API
    ]
    assert not outside, f"plugins import outside core.PLUGIN_API {PLUGIN_API}: {outside}"


def test_the_checker_sees_every_way_of_importing_a_module() -> None:
    tree = ast.parse(
        "import core.state\n"
        "from core.rules import fold\n"
        "from core import state, Once\n"
        "from core import fingerprint\n"  # the function core exports, not the module
        "from core import http\n"
    )
    assert sorted(_core_modules(tree)) == [
        (1, "core.state"),
        (2, "core.rules"),
        (3, "core"),
        (3, "core.state"),
        (4, "core"),
        (5, "core"),
        (5, "core.http"),
    ]


def _listed(text: str, marker: str, quote: str) -> list[str]:
    """The core modules quoted in the first sentence of ``text`` that starts with
    ``marker``, up to its semicolon."""
    flat = " ".join(text.split())
    assert marker in flat, f"no sentence starting {marker!r}"
    sentence = flat.split(marker, 1)[1].split(";", 1)[0]
    return re.findall(rf"{re.escape(quote)}(core(?:\.\w+)*){re.escape(quote)}", sentence)


def test_the_package_docstring_lists_the_public_api() -> None:
    assert core.__doc__ is not None
    assert _listed(core.__doc__, SENTENCE, "``") == list(PLUGIN_API)


def test_the_readme_lists_the_public_api() -> None:
    assert _listed(README, SENTENCE, "`") == list(PLUGIN_API)


def test_every_public_module_exists() -> None:
    assert all(_is_module(name) for name in PLUGIN_API)


def test_importing_core_loads_no_database_library() -> None:
    heavy = ("sqlalchemy", "alembic", "psycopg", "aiosqlite", "procrastinate")
    script = (
        "import sys, core; "
        f"print('\\n'.join(sorted(m for m in sys.modules if m.startswith({heavy!r}))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.split() == []
