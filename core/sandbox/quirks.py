"""The least convenient legal answer, where a contract is silent: drawn from a seed.

A sandbox that always answers in the order, page size and wording our client happens to
expect hides every dependency on them. ``Quirks`` makes those choices for a sandbox, the
same way for the same seed (so a failing test replays exactly) and differently across
seeds (so a suite run over several seeds tries several servers):

- ``order``: a list in an order the contract never promised (a fixed permutation per
  seed and list, so that paging through it stays consistent);
- ``page_size``: fewer rows per page than the client asked for;
- ``decorate``: unknown extra fields in every record, as a newer server version adds;
- ``reword``: an error message the contract does not quote, said another way;
- ``header``: whether an optional response header is sent at all.

``Quirks(None)`` answers plainly (the request's order, size and wording): for a test that
is about something else and says so.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

_EXTRA_FIELDS: tuple[tuple[str, Any], ...] = (
    ("_links", {"self": "about:blank"}),
    ("revision", 7),
    ("externalRef", None),
    ("Tags", []),
    ("x_server_note", "added by a newer server version"),
)
_PREFIXES = ("", "Error: ", "Request failed - ", "E1042 ")
_SUFFIXES = ("", ".", " (see the documentation)", " [ref 0x2f]")


@dataclass(frozen=True)
class Quirks:
    """Seeded answers to what a contract leaves open. ``seed`` None: no quirks."""

    seed: int | None = 0

    @property
    def active(self) -> bool:
        return self.seed is not None

    def _rng(self, *salt: object) -> random.Random:
        # A string seed hashed by hashlib, not hash(): stable across processes.
        text = "|".join(map(str, (self.seed, *salt)))
        return random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))

    def order(self, rows: Sequence[T], *salt: object) -> list[T]:
        """``rows`` in an order of this seed's own, the same at every call with the same
        rows and salt (a client paging through a list sees one consistent list)."""
        shuffled = list(rows)
        if self.active:
            self._rng("order", *salt).shuffle(shuffled)
        return shuffled

    def page_size(self, asked: int, *salt: object) -> int:
        """The rows a page holds when ``asked`` were asked for: fewer, when quirky (at
        least 1, and the same for every page of one list)."""
        if not self.active or asked <= 1:
            return asked
        return max(1, self._rng("page", *salt).randint(max(1, asked // 4), max(1, asked - 1)))

    def decorate(self, record: dict[str, Any], *salt: object) -> dict[str, Any]:
        """``record`` with a few unknown extra fields (never replacing a real one)."""
        if not self.active:
            return record
        rng = self._rng("fields", *salt)
        extra = rng.sample(_EXTRA_FIELDS, k=rng.randint(1, 3))
        return {**{k: v for k, v in extra if k not in record}, **record}

    def reword(self, message: str, *salt: object) -> str:
        """``message`` said another way: the contract does not quote it, so a client must
        not depend on its words."""
        if not self.active:
            return message
        rng = self._rng("reword", message, *salt)
        body = rng.choice((message, message.upper(), message.lower(), message.rstrip(".")))
        return f"{rng.choice(_PREFIXES)}{body}{rng.choice(_SUFFIXES)}"

    def header(self, name: str, *salt: object) -> bool:
        """Whether a header the contract does not promise on every answer is sent."""
        return not self.active or self._rng("header", name, *salt).random() < 0.5
