"""Small concurrency tools the sinks share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import anyio

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Once(Generic[K, V]):
    """Computes each key's value once per run, however many tasks ask at the same time.

    The first caller computes; the others wait for its result (or its error, raised to
    each of them). Sinks need this where two records written concurrently share an object
    to create: the same new student on two sessions must be created once, not twice.
    """

    def __init__(self) -> None:
        self._done: dict[K, V] = {}
        self._failed: dict[K, BaseException] = {}
        self._running: dict[K, anyio.Event] = {}

    async def get(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        while True:
            if key in self._done:
                return self._done[key]
            if key in self._failed:
                raise self._failed[key]
            running = self._running.get(key)
            if running is None:
                break
            await running.wait()
        self._running[key] = event = anyio.Event()
        try:
            self._done[key] = value = await compute()
            return value
        except Exception as exc:
            self._failed[key] = exc
            raise
        finally:
            del self._running[key]
            event.set()

    def known(self) -> dict[K, V]:
        return dict(self._done)
