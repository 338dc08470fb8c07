"""The README says what the code is: its map of the tree and its table of reason codes are
checked against the tree and the registry, so that neither can drift."""

from __future__ import annotations

import re
from pathlib import Path

from core.plugins import load_registry

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAPPED = ("core", "adapters", "sinks")
"""The folders whose every module the map must name; tests/ and bench/ are named whole."""


def _map_block() -> list[str]:
    section = README.split("## How it is built", 1)[1]
    return section.split("```", 2)[1].splitlines()[1:]


def _map_entries() -> set[str]:
    """Paths the map names: a top-level line sets the folder, an indented line names files
    (``x.py``) or sub-folders (``sandbox/``) in it, until the first word that is neither."""
    named: set[str] = set()
    folder = ""
    for line in _map_block():
        if not line.strip():
            continue
        words = line.split()
        if not line.startswith(" "):
            folder = words[0]
            named.add(folder)
            continue
        for word in words:
            if not re.fullmatch(r"[\w./-]+(\.py|/)", word):
                break
            named.add(folder + word)
    return named


def _modules() -> set[str]:
    found = set()
    for top in MAPPED:
        for path in (ROOT / top).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if path.name == "__init__.py" or "migrations" in relative.parts:
                continue
            found.add(relative.as_posix())
    return found


def _covered(module: str, named: set[str]) -> bool:
    """A module is on the map when named, or inside a sub-folder the map names whole."""
    if module in named:
        return True
    return any(
        entry.endswith("/") and entry.count("/") > 1 and module.startswith(entry) for entry in named
    )


def test_every_module_in_the_tree_is_on_the_map() -> None:
    named = _map_entries()
    missing = sorted(m for m in _modules() if not _covered(m, named))
    assert not missing, f"modules the README's map does not name: {missing}"


def test_every_module_on_the_map_exists() -> None:
    absent = sorted(entry for entry in _map_entries() if not (ROOT / entry).exists())
    assert not absent, f"the README's map names what the tree does not hold: {absent}"


def _reason_table() -> dict[str, tuple[str, str, str]]:
    section = README.split("## Run reports and reason codes", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[1], cells[2], cells[3])
    return rows


def test_the_reason_table_is_the_registered_codes() -> None:
    registered = load_registry().reasons
    table = _reason_table()
    assert sorted(table) == sorted(registered)
    for code, reason in registered.items():
        assert table[code] == (reason.status, reason.meaning, reason.action), (
            f"README row for {code} should read: "
            f"| `{code}` | {reason.status} | {reason.meaning} | {reason.action} |"
        )
