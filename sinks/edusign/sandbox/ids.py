"""Edusign ids: 16-char lowercase alphanumeric strings.

Drawn from a seeded RNG, one per sandbox, so that the same test makes the same ids in the
same order and a failure replays exactly.
"""

from __future__ import annotations

import random
import string

_ALPHABET = string.ascii_lowercase + string.digits
LENGTH = 16


class IdFactory:
    """Calling it gives a new id, never one it gave before."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._given: set[str] = set()

    def __call__(self) -> str:
        while True:
            new = "".join(self._random.choices(_ALPHABET, k=LENGTH))
            if new not in self._given:
                self._given.add(new)
                return new
