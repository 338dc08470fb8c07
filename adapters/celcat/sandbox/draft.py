"""An institution being generated: the seeded choices that ordinary and planted records share.

Events are drafted without ids and without a timetable; the generator shuffles them
before numbering, so planted records sit among ordinary ones instead of at the end.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from adapters.celcat.sandbox.names import MEETINGS, NOTES, OPTIONS, PROGRAMMES
from adapters.celcat.sandbox.state import Event, Institution

TEACHING = ("Lecture", "Cours magistral", "TD", "TP")
CATEGORY_NAMES = (*TEACHING, "Examen", "Réunion")
_TEACHING_WEIGHTS = (1, 3, 4, 3)
_STARTS = tuple(
    time(h, m)
    for h, m in (
        (8, 0), (8, 30), (9, 0), (10, 0), (10, 15), (11, 0), (13, 0), (13, 30), (14, 0),
        (15, 0), (15, 30), (16, 0), (17, 0),
    )
)  # fmt: skip
_DURATIONS = (60, 90, 120, 120, 180)  # minutes
_LAST_END = 19 * 60
_WEEKDAY_WEIGHTS = (5, 5, 5, 5, 5, 1)  # Monday..Saturday: Saturday mornings are rarer


@dataclass
class Plant:
    """A drafted event planted to trigger ``reason``; ``detail`` says how, when it matters."""

    event: Event
    reason: str
    detail: str = ""


@dataclass
class Draft:
    """The generator's working state: one seeded ``rng`` for every choice, so that a seed
    gives the same institution, and the pools ordinary and planted events draw from."""

    rng: random.Random
    inst: Institution
    by_weekday: dict[int, list[date]]
    group_programme: dict[int, int] = field(default_factory=dict)
    """Group id -> index in ``PROGRAMMES``: what the group studies."""
    names: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    """(kind, id) -> (first name, last name), for bad records made from a person."""
    staff_pool: list[int] = field(default_factory=list)
    """Valid staff that ordinary events may use."""
    student_pool: list[int] = field(default_factory=list)
    """Valid students that ordinary events may use."""
    events: list[Event] = field(default_factory=list)
    plants: list[Plant] = field(default_factory=list)

    def category_id(self, name: str) -> int:
        return next(c.id for c in self.inst.categories.values() if c.name == name)

    def course(self, **assigned: list[int]) -> Event:
        """An ordinary course: a teaching category, 1-2 staff, a group or a list of
        students, a room; ``assigned`` replaces any of ``staff``, ``students``,
        ``groups``, ``rooms``."""
        category = self.rng.choices(TEACHING, _TEACHING_WEIGHTS)[0]
        if self.rng.random() < 0.75:
            group = self.rng.choice(list(self.group_programme))
            subject = self.rng.choice(PROGRAMMES[self.group_programme[group]][2])
            groups, students = [group], []
        else:
            subject = self.rng.choice(OPTIONS)
            size = min(len(self.student_pool), self.rng.randint(10, 40))
            groups, students = [], self.rng.sample(self.student_pool, size)
        teachers = min(len(self.staff_pool), 2 if self.rng.random() < 0.2 else 1)
        chosen = {
            "staff": self.rng.sample(self.staff_pool, teachers),
            "students": students,
            "groups": groups,
            "rooms": [self.rng.choice(list(self.inst.rooms))],
        }
        short = "CM" if category == "Cours magistral" else category
        return self.event(f"{subject} - {short}", category, **(chosen | assigned))

    def gathering(self, category: str) -> Event:
        """A meeting or an exam: a group, a room, one member of staff."""
        group = self.rng.choice(list(self.group_programme))
        if category == "Réunion":
            name = self.rng.choice(MEETINGS)
        else:
            name = f"Examen {self.rng.choice(PROGRAMMES[self.group_programme[group]][2])}"
        return self.event(
            name,
            category,
            staff=[self.rng.choice(self.staff_pool)],
            groups=[group],
            rooms=[self.rng.choice(list(self.inst.rooms))],
        )

    def event(
        self,
        name: str,
        category: str,
        *,
        staff: list[int],
        students: list[int] | None = None,
        groups: list[int] | None = None,
        rooms: list[int],
    ) -> Event:
        """A drafted event on a seeded weekly pattern; id 0 until the generator numbers it."""
        start, end = self._slot()
        created, modified = self._stamps()
        event = Event(
            id=0,
            name=name,
            category_id=self.category_id(category),
            start=start,
            end=end,
            dates=self._dates(),
            created=created,
            last_modified=modified,
            notes=self.rng.choice(NOTES) if self.rng.random() < 0.1 else "",
            staff=staff,
            students=students or [],
            rooms=rooms,
            groups=groups or [],
        )
        self.events.append(event)
        return event

    def plant(self, event: Event, reason: str, detail: str = "") -> None:
        self.plants.append(Plant(event, reason, detail))

    def single(self, event: Event) -> Event:
        """Keep one occurrence of ``event``: a planted record stays a small fraction."""
        event.dates = {min(event.dates)}
        return event

    def _dates(self) -> set[date]:
        """Every week (most courses), one date, or some weeks, on one weekday."""
        weekdays = sorted(self.by_weekday)
        weights = [_WEEKDAY_WEIGHTS[d] for d in weekdays]
        candidates = self.by_weekday[self.rng.choices(weekdays, weights)[0]]
        pattern = self.rng.random()
        if pattern < 0.6:
            return set(candidates)
        if pattern < 0.85:
            return {self.rng.choice(candidates)}
        return {d for d in candidates if self.rng.random() < 0.5} or {candidates[0]}

    def _slot(self) -> tuple[time, time]:
        """08:00..19:00, 1 to 3 hours."""
        start = self.rng.choice(_STARTS)
        begin = start.hour * 60 + start.minute
        minutes = self.rng.choice([d for d in _DURATIONS if begin + d <= _LAST_END])
        end = begin + minutes
        return start, time(end // 60, end % 60)

    def _stamps(self) -> tuple[datetime, datetime]:
        """Created weeks to months before now, last modified since."""
        day = self.inst.now.date() - timedelta(days=self.rng.randint(20, 150))
        created = datetime.combine(day, time(8)) + timedelta(seconds=self.rng.randint(0, 36_000))
        since = int((self.inst.now - created).total_seconds())
        return created, created + timedelta(seconds=self.rng.randint(0, since))
