"""State URLs as integrators write them in config, turned into SQLAlchemy async URLs.

Config says ``sqlite:///passerelle-state.db`` or ``postgresql://user@host:5432/db``; the
async drivers (aiosqlite, psycopg 3) are an implementation detail nobody should have to
spell. Errors name the config key and never echo a password.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from core.errors import ConfigError

KEY = "worker.state_url"
SQLITE = "sqlite+aiosqlite"
POSTGRES = "postgresql+psycopg"

_DRIVERS = {
    "sqlite": SQLITE,
    SQLITE: SQLITE,
    "postgresql": POSTGRES,
    "postgres": POSTGRES,
    POSTGRES: POSTGRES,
}
_EXAMPLES = "sqlite:///passerelle-state.db or postgresql://user@host:5432/db"
# From the "user:" that starts the rest of the URL to its last "@": over-masks a URL with
# an "@" in its path or query rather than risk showing a password with "@" or "/" in it.
_PASSWORD = re.compile(r"^([^:/@]*):.*@")


class StateUnusable(ConfigError):
    """The state store cannot be opened, read or written: missing, unreadable, locked,
    not a database, a schema this passerelle does not know, a server that does not answer.

    A ``ConfigError`` (key ``worker.state_url``) as far as callers go: nothing can run
    until someone fixes the store or the URL, and the exit code is the same (2).
    ``where`` is the state URL with its password masked; ``problem`` says what is wrong,
    with that password taken out too, in case a driver's message quoted it."""

    def __init__(self, problem: str, where: str | None = None, *, password: str | None = None):
        if password:
            problem = problem.replace(password, "***").replace(quote(password, safe=""), "***")
        super().__init__(problem, key=KEY)
        self.where = where
        self.args = (f"state store {where}: {problem}" if where else f"state store: {problem}",)

    def at(self, url: str) -> StateUnusable:
        """The same problem, naming the store at ``url`` (as written in config)."""
        return StateUnusable(self.problem, masked(url), password=password_of(url))


def password_of(url: str) -> str | None:
    """The password in state URL ``url``, as the server receives it (decoded), if any."""
    try:
        return make_url(url).password
    except (ArgumentError, ValueError):
        return None


def engine_url(url: str) -> URL:
    """The async engine URL for a state URL from config.

    A relative SQLite path is made absolute against the current directory now, so the
    store stays the same file whatever the process does with its directory later. The
    result is a ``URL`` rather than a string because its ``str()`` hides the password.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise _error(f"{masked(url)!r} is not a URL; write {_EXAMPLES}") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise _error(
            f"{masked(url)!r}: unsupported database {parsed.drivername!r}; write {_EXAMPLES}"
        )
    if driver == SQLITE:
        return _sqlite(parsed, url)
    return parsed.set(drivername=driver)


def is_memory(url: URL) -> bool:
    """Whether ``url`` (from ``engine_url``) names an in-memory SQLite database."""
    return url.drivername == SQLITE and url.database is None


def masked(url: str) -> str:
    """``url`` as written, with any password replaced by ``***``."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    return scheme + separator + _PASSWORD.sub(r"\1:***@", rest, count=1)


def _sqlite(parsed: URL, raw: str) -> URL:
    if parsed.host or parsed.username or parsed.password or parsed.port:
        raise _error(
            f"{masked(raw)!r}: a SQLite URL names a file, not a server; "
            "write sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    if not parsed.database or parsed.database == ":memory:":
        return URL.create(SQLITE, query=parsed.query)
    path = Path(parsed.database).absolute()
    if not path.parent.is_dir():
        raise _error(f"the directory of the state file {str(path)!r} does not exist")
    return parsed.set(drivername=SQLITE, database=str(path))


def _error(problem: str) -> ConfigError:
    return ConfigError(problem, key=KEY)
