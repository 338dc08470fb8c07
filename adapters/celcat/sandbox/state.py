"""What the sandbox's CELCAT server holds: plain dataclasses, changed by tests between syncs.

The model follows CELCAT's own notions closely enough that a client meets the same shapes
as on a real server: an event is a weekly pattern of one timetable (times, the dates it
occurs on) and its staff, students, rooms and groups belong to the event, so to all its
occurrences. People, rooms, groups and categories are the server's, shared by timetables.

Every event mutation stamps ``lastModified`` from the institution's own clock (``now``),
which moves a second per change: stamps strictly increase and stay reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal, TypeAlias

Json: TypeAlias = bool | int | float | str | list["Json"] | dict[str, "Json"] | None
PersonKind = Literal["student", "staff"]
UserNameFormat = Literal["LAST, First", "First LAST", "LAST First"]
USER_NAME_FORMATS: tuple[UserNameFormat, ...] = ("LAST, First", "First LAST", "LAST First")


@dataclass
class Person:
    """A student or a staff member: one combined ``name``, as CELCAT keeps it."""

    id: int
    unique_name: str
    name: str
    email: str
    mobile_telephone: str | None = None
    office_telephone: str | None = None
    home_telephone: str | None = None
    department_id: int | None = None
    custom1: str | None = None
    custom2: str | None = None
    custom3: str | None = None
    lookup_id1: int | None = None
    lookup_id2: int | None = None
    lookup_id3: int | None = None
    origin_id: str | None = None


@dataclass
class Room:
    id: int
    name: str
    unique_name: str


@dataclass
class Group:
    id: int
    unique_name: str
    name: str
    department_id: int | None
    academic_year: str


@dataclass
class Category:
    id: int
    name: str


@dataclass
class Event:
    """A weekly pattern: the same times on each date of ``dates``.

    ``overrides`` and ``omitted`` are planted malformations: values rendered instead of
    the real ones, and fields left out of the JSON, so that a record can be broken in its
    fields while the answer stays valid JSON.
    """

    id: int
    name: str
    category_id: int
    start: time
    end: time
    dates: set[date]
    created: datetime
    last_modified: datetime
    suspended: bool = False
    notes: str = ""
    staff: list[int] = field(default_factory=list)
    students: list[int] = field(default_factory=list)
    rooms: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    overrides: dict[str, Json] = field(default_factory=dict)
    omitted: set[str] = field(default_factory=set)


@dataclass
class Timetable:
    """One timetable; weeks are counted from ``first_week`` (a Monday), which is week 1."""

    id: int
    name: str
    first_week: date
    events: dict[int, Event] = field(default_factory=dict)

    def week_of(self, day: date) -> int:
        monday = day - timedelta(days=day.weekday())
        return (monday - self.first_week).days // 7 + 1


@dataclass
class Institution:
    """One CELCAT server's data, and what the generator planted in it.

    ``planted`` maps a reason code of sync-rules.md to the keys of the records planted
    to trigger it: ``"{timetable_id}:{event_id}:{yyyy-mm-dd}"`` for an occurrence,
    ``"student:{id}"``, ``"staff:{id}"`` or ``"room:{id}"`` for a person or a room.
    ``planted_detail`` says, for the ``malformed_record`` keys, what is broken.
    """

    user_name_format: UserNameFormat
    now: datetime
    timetables: dict[int, Timetable] = field(default_factory=dict)
    categories: dict[int, Category] = field(default_factory=dict)
    students: dict[int, Person] = field(default_factory=dict)
    staff: dict[int, Person] = field(default_factory=dict)
    rooms: dict[int, Room] = field(default_factory=dict)
    groups: dict[int, Group] = field(default_factory=dict)
    memberships: list[tuple[int, int]] = field(default_factory=list)
    planted: dict[str, set[str]] = field(default_factory=dict)
    planted_detail: dict[str, str] = field(default_factory=dict)

    def event(self, timetable_id: int, event_id: int) -> Event:
        """The event, or KeyError naming both ids."""
        try:
            return self.timetables[timetable_id].events[event_id]
        except KeyError:
            raise KeyError(f"no event {event_id} in timetable {timetable_id}") from None

    def occurrence_count(self) -> int:
        return sum(len(e.dates) for t in self.timetables.values() for e in t.events.values())

    def tick(self) -> datetime:
        """Advance the clock by a second and return it: the stamp of one change."""
        self.now += timedelta(seconds=1)
        return self.now

    # Changes to CELCAT between two syncs. Each stamps the event's lastModified.

    def rename_event(self, timetable_id: int, event_id: int, name: str) -> None:
        self._touch(timetable_id, event_id).name = name

    def move_event(self, timetable_id: int, event_id: int, from_date: date, to_date: date) -> None:
        """One occurrence moves to another date; the others stay."""
        event = self.event(timetable_id, event_id)
        if from_date not in event.dates:
            raise ValueError(f"event {event_id} does not occur on {from_date}")
        if to_date in event.dates:
            raise ValueError(f"event {event_id} already occurs on {to_date}")
        event.dates.remove(from_date)
        event.dates.add(to_date)
        event.last_modified = self.tick()

    def set_times(self, timetable_id: int, event_id: int, start: time, end: time) -> None:
        event = self._touch(timetable_id, event_id)
        event.start, event.end = start, end

    def suspend_event(self, timetable_id: int, event_id: int, suspended: bool = True) -> None:
        self._touch(timetable_id, event_id).suspended = suspended

    def remove_event(self, timetable_id: int, event_id: int) -> None:
        """The whole event goes, and its assignments with it."""
        self.event(timetable_id, event_id)
        del self.timetables[timetable_id].events[event_id]

    def remove_occurrence(self, timetable_id: int, event_id: int, day: date) -> None:
        event = self.event(timetable_id, event_id)
        if day not in event.dates:
            raise ValueError(f"event {event_id} does not occur on {day}")
        event.dates.remove(day)
        event.last_modified = self.tick()

    def add_student_to_event(self, timetable_id: int, event_id: int, student_id: int) -> None:
        _add(self._touch(timetable_id, event_id).students, student_id)

    def remove_student_from_event(self, timetable_id: int, event_id: int, student_id: int) -> None:
        event = self.event(timetable_id, event_id)
        _remove(event.students, student_id, "student")
        event.last_modified = self.tick()

    def add_staff_to_event(self, timetable_id: int, event_id: int, staff_id: int) -> None:
        _add(self._touch(timetable_id, event_id).staff, staff_id)

    def remove_staff_from_event(self, timetable_id: int, event_id: int, staff_id: int) -> None:
        event = self.event(timetable_id, event_id)
        _remove(event.staff, staff_id, "staff")
        event.last_modified = self.tick()

    def set_event_rooms(self, timetable_id: int, event_id: int, room_ids: list[int]) -> None:
        self._touch(timetable_id, event_id).rooms = list(dict.fromkeys(room_ids))

    def set_person(
        self,
        kind: PersonKind,
        id: int,
        name: str | None = None,
        email: str | None = None,
        mobile: str | None = None,
    ) -> None:
        """Change a person's name, email or mobile phone; None leaves a field as it is."""
        person = (self.students if kind == "student" else self.staff)[id]
        if name is not None:
            person.name = name
        if email is not None:
            person.email = email
        if mobile is not None:
            person.mobile_telephone = mobile

    def add_event(
        self,
        timetable_id: int,
        *,
        name: str,
        category_id: int,
        dates: set[date],
        start: time,
        end: time,
        staff: list[int] | None = None,
        students: list[int] | None = None,
        rooms: list[int] | None = None,
        groups: list[int] | None = None,
        notes: str = "",
    ) -> int:
        """A new event, with the timetable's next id; returns that id."""
        events = self.timetables[timetable_id].events
        event_id = max(events, default=5000) + 1
        stamp = self.tick()
        events[event_id] = Event(
            id=event_id,
            name=name,
            category_id=category_id,
            start=start,
            end=end,
            dates=set(dates),
            created=stamp,
            last_modified=stamp,
            notes=notes,
            staff=list(staff or []),
            students=list(students or []),
            rooms=list(rooms or []),
            groups=list(groups or []),
        )
        return event_id

    def _touch(self, timetable_id: int, event_id: int) -> Event:
        event = self.event(timetable_id, event_id)
        event.last_modified = self.tick()
        return event


def _add(ids: list[int], new: int) -> None:
    if new not in ids:
        ids.append(new)


def _remove(ids: list[int], old: int, kind: str) -> None:
    if old not in ids:
        raise ValueError(f"{kind} {old} is not on the event")
    ids.remove(old)
