"""Shared fixtures: the async test runner, and state stores on every supported backend.

``state_url`` runs a test once per backend (in-memory SQLite, a SQLite file, and
PostgreSQL when ``PASSERELLE_TEST_POSTGRES_URL`` names a server); ``store`` opens it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings
from sqlalchemy.engine import make_url

from core.state import StateStore, open_state

POSTGRES_ENV = "PASSERELLE_TEST_POSTGRES_URL"

# A shell starts a background job (`.ci/run &`) with SIGINT ignored, and every process
# below inherits that: the commands the tests stop with SIGINT, as Ctrl-C would, would
# then never hear it. Tests are a terminal's user: they get the default handling back.
signal.signal(signal.SIGINT, signal.default_int_handler)

# Property tests assert behaviour, not speed: no per-example deadline on a busy machine.
settings.register_profile("passerelle", deadline=None)
settings.load_profile("passerelle")

_MEMORY = "sqlite-memory"
_FILE = "sqlite-file"
_POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)


README = Path(__file__).parents[1] / "README.md"


@pytest.fixture(scope="session")
def toy_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's plugin example, as a package: its code is the README's Python block."""
    folder = tmp_path_factory.mktemp("toy_plugin")
    shutil.copy(Path(__file__).parent / "fixtures" / "toy_plugin" / "pyproject.toml", folder)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    (example,) = [b for b in blocks if "def passerelle_register_sources" in b]
    (folder / "toy_erp.py").write_text(example, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory, toy_plugin: Path) -> Path:
    """A folder where pip installed the fixture plugins (``toy``, ``broken``) as it would
    for a user; put it on PYTHONPATH to have them discovered."""
    target = tmp_path_factory.mktemp("site")
    fixtures = Path(__file__).parent / "fixtures"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
            str(target),
            str(toy_plugin),
            str(fixtures / "broken_plugin"),
        ],
        check=True,
        capture_output=True,
    )
    return target


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` what is end to end by what it asks for, so that ``make test-fast``
    leaves it out: PostgreSQL (marked ``postgres`` or asking for ``postgres_url``, then
    marked ``postgres`` too) and whole syncs against the sandboxes (the ``world`` fixture).
    A test that starts a process says so itself, with ``pytest.mark.slow``."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if item.get_closest_marker("postgres") is not None or "postgres_url" in fixtures:
            item.add_marker(pytest.mark.postgres)
            item.add_marker(pytest.mark.slow)
        if "world" in fixtures:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A state URL for a fresh schema of the test server, dropped afterwards, so tests
    can run again and side by side. The schema is chosen through the connection's
    ``search_path``, as the store does not name schemas."""
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"needs PostgreSQL: set {POSTGRES_ENV}=postgresql://USER@HOST:5432/DB")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_url(server).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            make_url(server)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=[_MEMORY, _FILE, _POSTGRES])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A state URL per backend, each one a new, empty store."""
    return _url_for(request, tmp_path)


@pytest.fixture(params=[_FILE, _POSTGRES])
def durable_state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A state URL per backend that outlives the store opened on it."""
    return _url_for(request, tmp_path)


@pytest.fixture
async def store(state_url: str) -> AsyncIterator[StateStore]:
    async with open_state(state_url) as opened:
        yield opened


def _url_for(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    backend: str = request.param
    if backend == _MEMORY:
        return "sqlite://"
    if backend == _FILE:
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def memory_store() -> AsyncIterator[StateStore]:
    """An in-memory store, for tests about something other than the store."""
    async with open_state("sqlite://") as opened:
        yield opened


pytest_plugins = ["tests.worlds"]  # the `world` fixture of the end-to-end tests
