"""When a tenant runs: its cron expressions, read on its own wall clock.

This is the one module that speaks to croniter, so that every caller (the worker, the
``passerelle schedule`` command, the misfire policy) agrees on what a slot is.

Semantics:

- An expression is evaluated on the tenant's LOCAL WALL-CLOCK time: croniter iterates over
  naive local datetimes, and each slot is then placed in the tenant's zone with ``fold=0``.
  A school that says "at 02:30" means 02:30 on the clocks of the building, whatever the
  UTC offset that day; croniter's own aware iteration would instead run such a slot twice
  when clocks go back and move it to 03:00 when they go forward.
- Clocks go back (Europe/Paris 2025-10-26, 03:00 CEST -> 02:00 CET): 02:30 happens twice on
  the wall; the slot runs once, at the first 02:30 (``fold=0``, CEST). During the repeated
  hour nothing runs, because every wall time of that hour has already passed.
- Clocks go forward (Europe/Paris 2025-03-30, 02:00 CET -> 03:00 CEST): 02:30 does not
  exist. The slot is not lost: it runs once, at the instant zoneinfo gives the
  non-existent time with ``fold=0`` (02:30 at the old offset, +01:00), which is 03:30 CEST.
  A slot that lands on the same instant as another (02:00 and 03:00 both become 03:00 CEST)
  runs once. Where the gap is not a whole hour (Australia/Lord_Howe, 30 minutes), moved
  slots interleave with regular ones; they are still returned in the order of instants.
- Slots are chosen and compared as instants (UTC), never as wall times, so that a slot that
  has already passed is never returned again. Python compares and subtracts two datetimes
  that share a ``tzinfo`` by their wall clock, ignoring ``fold``, and adds a timedelta to
  the wall clock too; callers should compare slots and do arithmetic on them in UTC.
  (Returned slots are never ``fold=1``, so comparing two of them directly is safe.)
- ``H`` (croniter's hash syntax) is hashed with the tenant's name: the same tenant always
  gets the same minute and hour, and different tenants spread over the range, so that a
  thousand tenants do not hit their ERP at the same second. The hash is a CRC-32 of the
  name, stable across processes and machines. ``R`` (random) is refused: it would draw a
  new value on every evaluation, so the next slot would change each time it is asked for.

Every datetime returned is aware, in the schedule's zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter

_DAY = timedelta(days=1)
_YEAR = timedelta(days=366)
_TICK = timedelta(microseconds=1)
"""croniter's get_prev is strictly before its start; starting one tick later makes it
inclusive."""
_RANDOM = re.compile(r"r(\(\d+-\d+\))?(/\d+)?", re.IGNORECASE)
_VALIDATION_KEY = b"check"
"""Any key does: whether an expression is valid does not depend on what ``H`` hashes to."""


def is_valid(expression: str) -> bool:
    """Whether ``expression`` is a cron expression a Schedule accepts (``H`` included,
    ``R`` refused: see the module's docstring)."""
    parts = (part for field in expression.split() for part in field.split(","))
    if any(_RANDOM.fullmatch(part) for part in parts):
        return False
    return croniter.is_valid(expression, hash_id=_VALIDATION_KEY)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A tenant's cron expressions, evaluated in its time zone, H spread by its name."""

    expressions: tuple[str, ...]
    timezone: ZoneInfo
    hash_key: str
    """The tenant's name: croniter's ``hash_id`` for ``H``."""

    def __post_init__(self) -> None:
        if not self.expressions:
            raise ValueError("a schedule needs at least one cron expression")
        for expression in self.expressions:
            if not is_valid(expression):
                raise ValueError(f"not a cron expression: {expression!r}")

    def next_after(self, moment: datetime) -> datetime:
        """The earliest slot strictly after ``moment`` (aware), across all expressions.

        Raises ValueError if no expression ever fires again (``0 0 30 2 *``)."""
        after = _utc(moment)
        found = [
            slot
            for expression in self.expressions
            if (slot := self._first_after(expression, after)) is not None
        ]
        if not found:
            raise ValueError(f"the schedule {list(self.expressions)} never fires again")
        return min(found).astimezone(self.timezone)

    def last_at_or_before(self, moment: datetime) -> datetime | None:
        """The latest slot at or before ``moment`` (aware), or None if there is none within
        a year: what the misfire policy looks at when the worker starts."""
        before = _utc(moment)
        found = [
            slot
            for expression in self.expressions
            if (slot := self._last_at_or_before(expression, before)) is not None
        ]
        return max(found).astimezone(self.timezone) if found else None

    def upcoming(self, after: datetime, count: int) -> list[datetime]:
        """The next ``count`` slots strictly after ``after``, in order, without duplicates."""
        slots: list[datetime] = []
        moment = after
        for _ in range(count):
            moment = self.next_after(moment)
            slots.append(moment)
        return slots

    def _first_after(self, expression: str, after: datetime) -> datetime | None:
        """The earliest instant of one expression strictly after ``after`` (UTC).

        Wall times map to instants in order, except across a gap: a non-existent time
        moves forward by the gap and can land after wall times that follow it. So the
        search starts ``_margin`` early, and once a slot is found it goes on for
        ``_margin`` more, past any wall time that could still map to an earlier instant."""
        best: datetime | None = None
        horizon: datetime | None = None
        for wall in self._walls(expression, self._wall(after) - self._margin(after)):
            instant = self._instant(wall)
            if instant > after and (best is None or instant < best):
                best = instant
                horizon = self._wall(best) + self._margin(best)
            if horizon is not None and wall >= horizon:
                break  # every wall time still to come is past the horizon
        return best

    def _last_at_or_before(self, expression: str, before: datetime) -> datetime | None:
        """The latest instant of one expression at or before ``before`` (UTC), no older
        than a year; the mirror of ``_first_after``."""
        oldest = before - _YEAR
        floor = self._wall(oldest) - self._margin(oldest)
        best: datetime | None = None
        start = self._wall(before) + self._margin(before) + _TICK
        for wall in self._walls(expression, start, backwards=True):
            instant = self._instant(wall)
            if oldest <= instant <= before and (best is None or instant > best):
                best = instant
                floor = self._wall(best) - self._margin(best)
            if wall <= floor:
                break  # every wall time still to come is below the floor
        return best

    def _walls(
        self, expression: str, start: datetime, *, backwards: bool = False
    ) -> Iterator[datetime]:
        """The naive local wall times of one expression, strictly after ``start`` (or
        strictly before it, backwards), until croniter finds none within its 50 years."""
        cron = croniter(expression, start, hash_id=self.hash_key.encode())
        step = cron.get_prev if backwards else cron.get_next
        try:
            while True:
                yield step(datetime)
        except CroniterBadDateError:
            return

    def _wall(self, instant: datetime) -> datetime:
        """The tenant's wall clock at ``instant``, naive, as croniter iterates it."""
        return instant.astimezone(self.timezone).replace(tzinfo=None)

    def _instant(self, wall: datetime) -> datetime:
        """The instant (UTC) of a wall time: the first one if the wall clock shows it twice,
        the old offset's reading if it never shows it (zoneinfo's ``fold=0``)."""
        return wall.replace(tzinfo=self.timezone).astimezone(UTC)

    def _margin(self, instant: datetime) -> timedelta:
        """How far the UTC offset moves within a day of ``instant``: how far a wall time
        can be from the wall time of its instant near there. Zero on most days, so the
        search costs nothing extra outside of a change of offset."""
        offsets = [self._offset(instant + days * _DAY) for days in (-1, 0, 1)]
        return max(offsets) - min(offsets)

    def _offset(self, instant: datetime) -> timedelta:
        return self._wall(instant) - instant.astimezone(UTC).replace(tzinfo=None)


def _utc(moment: datetime) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError(f"a schedule needs an aware datetime, not {moment.isoformat()}")
    return moment.astimezone(UTC)
