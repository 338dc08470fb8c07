"""Seeded, realistic institutions: the same seed gives the same data, to the last field.

A French university's CELCAT: programmes and their groups, students in them, staff,
rooms, courses as weekly patterns Monday to Saturday between 08:00 and 19:00. With
``bad_records`` a handful of records are planted to trigger every rule of sync-rules.md,
and listed in ``Institution.planted`` so that a test knows what the sync must report.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from adapters.celcat.sandbox.bad_records import MIN_STAFF, MIN_STUDENTS, plant_bad_records
from adapters.celcat.sandbox.draft import CATEGORY_NAMES, Draft
from adapters.celcat.sandbox.names import (
    AMPHIS,
    FIRST_NAMES,
    LEVELS,
    PROGRAMMES,
    SURNAMES,
    full_name,
    slug,
)
from adapters.celcat.sandbox.state import (
    USER_NAME_FORMATS,
    Category,
    Group,
    Institution,
    Person,
    PersonKind,
    Room,
    Timetable,
    UserNameFormat,
)

FIRST_EVENT_ID = 5001
"""Every timetable numbers its events from here, so event ids repeat across timetables."""
FIRST_STUDENT_ID = 1001
_OCCURRENCES_PER_GROUP_AND_DAY = 1.5
_TIMETABLE_SUFFIXES = ("", " Alternance", " Formation continue")
_REGIMES = ("Formation initiale", "Formation initiale", "Apprentissage", "Formation continue")


def generate_institution(
    *,
    seed: int = 1,
    start: date = date(2025, 10, 20),
    days: int = 28,
    students: int = 300,
    staff: int = 30,
    groups: int = 12,
    timetables: int = 2,
    occurrences: int | None = None,
    user_name_format: UserNameFormat = "LAST, First",
    bad_records: bool = True,
) -> Institution:
    """An institution whose events occur on dates ``start`` .. ``start + days - 1``.

    ``occurrences``: about this many in total; None for about 1.5 per group and working
    day. The institution's clock (``now``) is 06:00 the day before ``start``.
    """
    if user_name_format not in USER_NAME_FORMATS:
        raise ValueError(f"user_name_format must be one of {USER_NAME_FORMATS}")
    if min(days, staff, groups, timetables) < 1 or students < groups:
        raise ValueError("needs days, staff, groups, timetables >= 1 and students >= groups")
    if bad_records and (staff < MIN_STAFF or students < MIN_STUDENTS + groups):
        raise ValueError(
            f"bad_records needs staff >= {MIN_STAFF} and students >= {MIN_STUDENTS} + groups"
        )
    by_weekday: dict[int, list[date]] = {}
    for offset in range(days):
        day = start + timedelta(days=offset)
        if day.weekday() < 6:
            by_weekday.setdefault(day.weekday(), []).append(day)
    if not by_weekday:
        raise ValueError("the days hold no Monday to Saturday")
    inst = Institution(
        user_name_format=user_name_format, now=datetime.combine(start - timedelta(days=1), time(6))
    )
    draft = Draft(random.Random(seed), inst, by_weekday)
    year = start.year if start.month >= 8 else start.year - 1
    _reference_data(draft, year, groups)
    draft.staff_pool = _people(draft, "staff", staff, 1)
    draft.student_pool = _people(draft, "student", students, FIRST_STUDENT_ID)
    if bad_records:
        plant_bad_records(draft)
    _memberships(draft)
    target = occurrences
    if target is None:
        target = round(groups * sum(map(len, by_weekday.values())) * _OCCURRENCES_PER_GROUP_AND_DAY)
    total = sum(len(e.dates) for e in draft.events)
    while total < target or len(draft.events) < timetables:
        total += len(draft.course().dates)
    _timetables(draft, year, timetables)
    return inst


def _reference_data(draft: Draft, year: int, groups: int) -> None:
    """Categories, rooms, groups: the server's, shared by every timetable."""
    inst = draft.inst
    for number, name in enumerate(CATEGORY_NAMES, 1):
        inst.categories[number] = Category(number, name)
    room_names = [*AMPHIS[: min(len(AMPHIS), 1 + groups // 10)]]
    room_names += [f"Salle {100 * (1 + n // 8) + 1 + n % 8}" for n in range(3 + groups // 2)]
    room_names.append("Labo Info 1")
    for number, name in enumerate(room_names, 1):
        inst.rooms[number] = Room(number, name, slug(name).upper())
    for number in range(1, groups + 1):
        programme = (number - 1) // len(LEVELS) % len(PROGRAMMES)
        level = LEVELS[(number - 1) % len(LEVELS)]
        section = 1 + (number - 1) // (len(LEVELS) * len(PROGRAMMES))
        discipline, code, _ = PROGRAMMES[programme]
        inst.groups[number] = Group(
            id=number,
            unique_name=f"{level}-{code}-G{section}",
            name=f"{level} {discipline} G{section}",
            department_id=programme + 1,
            academic_year=f"{year}-{year + 1}",
        )
        draft.group_programme[number] = programme


def _people(draft: Draft, kind: PersonKind, count: int, first_id: int) -> list[int]:
    """``count`` valid people with unique emails; returns their ids."""
    rng, inst = draft.rng, draft.inst
    people = inst.students if kind == "student" else inst.staff
    domain = "etu.univ-exemple.fr" if kind == "student" else "univ-exemple.fr"
    taken: set[str] = set()
    for person_id in range(first_id, first_id + count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        local = base = f"{slug(first)}.{slug(last)}"
        number = 1
        while local in taken:
            number += 1
            local = f"{base}{number}"
        taken.add(local)
        person = Person(
            id=person_id,
            unique_name="",
            name=full_name(first, last, inst.user_name_format),
            email=f"{local}@{domain}",
            department_id=rng.randint(1, len(PROGRAMMES)),
        )
        if kind == "student":
            person.unique_name = f"{draft.inst.now.year % 100:02d}{person_id:06d}"
            person.mobile_telephone = (
                _phone(rng, "6") if rng.random() < 0.85 else rng.choice((None, ""))
            )
            person.custom1 = rng.choice(_REGIMES)
        else:
            person.unique_name = f"{slug(last).upper()[:10]}{slug(first)[0].upper()}{person_id}"
            person.office_telephone = _phone(rng, "1")
            person.mobile_telephone = _phone(rng, "6") if rng.random() < 0.3 else None
        people[person_id] = person
        draft.names[kind, person_id] = (first, last)
    return list(people)


def _phone(rng: random.Random, prefix: str) -> str:
    pairs = " ".join(f"{rng.randint(0, 99):02d}" for _ in range(4))
    return f"+33 {prefix} {pairs}"


def _memberships(draft: Draft) -> None:
    """Every valid student in one group, one in ten in a second; every group gets members."""
    rng, inst = draft.rng, draft.inst
    members = list(draft.student_pool)
    rng.shuffle(members)
    group_ids = list(inst.groups)
    pairs = {(group_ids[n % len(group_ids)], s) for n, s in enumerate(members)}
    pairs |= {(rng.choice(group_ids), s) for s in members if rng.random() < 0.1}
    inst.memberships = sorted(pairs)


def _timetables(draft: Draft, year: int, count: int) -> None:
    """Deal the drafted events to the timetables, each numbering its own from 5001."""
    rng, inst = draft.rng, draft.inst
    september = date(year, 9, 1)
    first_week = september - timedelta(days=september.weekday())
    for number in range(1, count + 1):
        suffix = (
            _TIMETABLE_SUFFIXES[number - 1]
            if number <= len(_TIMETABLE_SUFFIXES)
            else f" ({number})"
        )
        inst.timetables[number] = Timetable(
            number, f"Timetable {year}-{year + 1}{suffix}", first_week
        )
    events = draft.events
    rng.shuffle(events)
    for position, event in enumerate(events):
        # The first events go one to each timetable: all of them hold event 5001.
        timetable = inst.timetables[position + 1 if position < count else rng.randint(1, count)]
        event.id = max(timetable.events, default=FIRST_EVENT_ID - 1) + 1
        timetable.events[event.id] = event
    where = {id(e): t.id for t in inst.timetables.values() for e in t.events.values()}
    for plant in draft.plants:
        for day in sorted(plant.event.dates):
            key = f"{where[id(plant.event)]}:{plant.event.id}:{day.isoformat()}"
            inst.planted.setdefault(plant.reason, set()).add(key)
            if plant.detail:
                inst.planted_detail[key] = plant.detail
