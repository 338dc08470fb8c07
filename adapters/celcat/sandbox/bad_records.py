"""The bad records a real CELCAT holds, planted so that every rule of a sync has work.

Each planted record triggers one reason only: apart from what is wrong with it, it has
valid staff, valid students and an ordinary category, so that the reason reported (the
first that applies, in sync-rules.md's order) is the one planted. People are made bad
by changing generated people, so that the sizes asked for stay exact; bad people are
taken out of the pools ordinary events and groups draw from, so that no ordinary record
is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.celcat.sandbox.draft import Draft
from adapters.celcat.sandbox.names import slug

MIN_STAFF = 10
MIN_STUDENTS = 40
_UNKNOWN_ID = 90_001  # above every generated id: an assignment to a record that is not there
MALFORMATIONS = (
    "missing start",
    "unparseable date",
    "end before start",
    "name is a number",
    "name is null",
    "unknown staff id",
    "unknown student id",
    "unknown room id",
)


@dataclass(frozen=True)
class _BadPeople:
    invalid_staff: list[int]
    sharing_staff: int
    """Shares a lower-id staff member's email, and teaches."""
    invalid_students: list[int]
    sharing_student: int


def plant_bad_records(draft: Draft) -> None:
    """Plant a handful of records per reason, listed in ``draft.plants`` (occurrences) and
    in ``draft.inst.planted`` (people)."""
    bad = _bad_people(draft)
    rng = draft.rng
    for number, staff_id in enumerate(bad.invalid_staff):
        colleagues = [rng.choice(draft.staff_pool)] if number % 2 else []
        event = draft.single(draft.course(staff=[staff_id, *colleagues]))
        draft.plant(event, "invalid_instructor")
    draft.plant(draft.course(staff=[bad.sharing_staff]), "duplicate_instructor_email")
    valid = rng.sample(draft.student_pool, 15)
    draft.course(students=[*valid, *bad.invalid_students, bad.sharing_student], groups=[])
    no_valid = rng.sample(bad.invalid_students, 2)
    draft.plant(draft.course(students=no_valid, groups=[]), "no_valid_student")
    for weekly in (True, False):
        event = draft.course(staff=[])
        draft.plant(event if weekly else draft.single(event), "no_instructor")
        event = draft.course()
        event.suspended = True
        draft.plant(event if weekly else draft.single(event), "event_suspended")
    for category in ("Réunion", "Examen"):
        for _ in range(2):
            draft.plant(draft.single(draft.gathering(category)), f"category:{category}")
    _malformed(draft)


def _bad_people(draft: Draft) -> _BadPeople:
    """Four invalid staff; two staff sharing the email of a lower-id one (one teaches, one
    does not); six invalid students; one student sharing a lower-id student's email."""
    inst, rng = draft.inst, draft.rng
    picked = rng.sample(draft.staff_pool, 7)
    keeper, staff_sharer, idle = sorted(picked[:3])
    invalid_staff = picked[3:]
    for number, staff_id in enumerate(invalid_staff):
        person, (first, last) = inst.staff[staff_id], draft.names["staff", staff_id]
        if number == 0:
            person.email = f"{slug(first)}.{slug(last)}@univ-exemple"  # no top-level domain
        elif number == 1:
            person.email = ""
        elif number == 2:
            person.name = "MADONNA"  # one word: no first name
        else:
            person.name = f"{first} {last}".lower()  # no word in capitals: no last name
    local, _, domain = inst.staff[keeper].email.partition("@")
    inst.staff[staff_sharer].name = inst.staff[keeper].name  # a duplicate record of one person
    inst.staff[staff_sharer].email = f"{local.title()}@{domain}"
    inst.staff[idle].email = inst.staff[keeper].email.upper()
    for staff_id in (staff_sharer, idle, *invalid_staff):
        draft.staff_pool.remove(staff_id)
    _mark(draft, "invalid_instructor", "staff", invalid_staff)
    _mark(draft, "duplicate_instructor_email", "staff", [staff_sharer, idle])

    picked = rng.sample(draft.student_pool, 8)
    keeper, student_sharer = sorted(picked[:2])
    invalid_students = picked[2:]
    for number, student_id in enumerate(invalid_students):
        person, (first, last) = inst.students[student_id], draft.names["student", student_id]
        local, _, domain = person.email.partition("@")
        if number == 0:
            person.email = f"{local}{domain}"  # the @ forgotten
        elif number == 1:
            person.email = f"{local}@@{domain}"
        elif number == 2:
            person.email = f"élève.{slug(last)}@{domain}"  # not ASCII
        elif number == 3:
            person.email = ""
        elif number == 4:
            person.name = last.upper()  # the last name only
        else:
            person.name = f"{first} {last}".lower()
    inst.students[student_sharer].name = inst.students[keeper].name
    inst.students[student_sharer].email = inst.students[keeper].email
    for student_id in (student_sharer, *invalid_students):
        draft.student_pool.remove(student_id)
    _mark(draft, "invalid_student", "student", invalid_students)
    _mark(draft, "duplicate_student_email", "student", [student_sharer])
    return _BadPeople(invalid_staff, staff_sharer, invalid_students, student_sharer)


def _mark(draft: Draft, reason: str, kind: str, ids: list[int]) -> None:
    draft.inst.planted.setdefault(reason, set()).update(f"{kind}:{i}" for i in ids)


def _malformed(draft: Draft) -> None:
    """One single-occurrence event per way a record can be broken in its fields."""
    for kind in MALFORMATIONS:
        event = draft.single(draft.course())
        if kind == "missing start":
            event.omitted.add("start")
        elif kind == "unparseable date":
            event.overrides["start"] = f"{min(event.dates).year}-13-45T25:00:00"
        elif kind == "end before start":
            event.start, event.end = event.end, event.start
        elif kind == "name is a number":
            event.overrides["name"] = 12345
        elif kind == "name is null":
            event.overrides["name"] = None
        else:
            dangling = kind.split()[1]  # staff, student, room
            assigned = {"staff": event.staff, "student": event.students, "room": event.rooms}
            assigned[dangling].append(_UNKNOWN_ID)
            key = f"{dangling}:{_UNKNOWN_ID}"
            draft.inst.planted.setdefault("malformed_record", set()).add(key)
            draft.inst.planted_detail[key] = kind
        draft.plant(event, "malformed_record", kind)
