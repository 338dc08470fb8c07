"""The JSON shapes of the Web API: the sandbox's only module that knows its field names.

They are written out here from the contract (docs/celcat-webapi.md), not imported from the
adapter's mapping, so that a typo on either side makes a contract test fail instead of
agreeing with itself.
"""

from __future__ import annotations

from datetime import date, datetime

from adapters.celcat.sandbox.state import Event, Group, Json, Person, Room, Timetable

_LOCAL = "%Y-%m-%dT%H:%M:%S"  # local date-time, no offset: the timetable's own time


def named(id: int, name: str) -> Json:
    """A timetable or a category."""
    return {"id": id, "name": name}


def event(t: Timetable, e: Event, day: date | None) -> Json:
    """``e`` as it occurs on ``day``; with no day (an event with no occurrence left),
    ``start``, ``end``, ``week`` and ``dayOfWeek`` are null.

    ``week`` counts from the timetable's first week (1); ``dayOfWeek`` is 0 for Monday
    to 6 for Sunday."""
    record: dict[str, Json] = {
        "id": e.id,
        "name": e.name,
        "eventCategoryId": e.category_id,
        "start": None if day is None else datetime.combine(day, e.start).strftime(_LOCAL),
        "end": None if day is None else datetime.combine(day, e.end).strftime(_LOCAL),
        "week": None if day is None else t.week_of(day),
        "dayOfWeek": None if day is None else day.weekday(),
        "suspended": e.suspended,
        "notes": e.notes,
        "lastModified": e.last_modified.strftime(_LOCAL),
        "created": e.created.strftime(_LOCAL),
    }
    record |= e.overrides
    for name in e.omitted:
        del record[name]
    return record


def assignment(event_id: int, field: str, other_id: int) -> Json:
    """``field`` is ``staffId``, ``studentId``, ``roomId`` or ``groupId``."""
    return {"eventId": event_id, field: other_id}


def membership(group_id: int, student_id: int) -> Json:
    return {"groupId": group_id, "studentId": student_id}


def person(p: Person) -> Json:
    """A student or a member of staff: the same fields."""
    return {
        "id": p.id,
        "uniqueName": p.unique_name,
        "name": p.name,
        "email": p.email,
        "mobileTelephone": p.mobile_telephone,
        "officeTelephone": p.office_telephone,
        "homeTelephone": p.home_telephone,
        "departmentId": p.department_id,
        "custom1": p.custom1,
        "custom2": p.custom2,
        "custom3": p.custom3,
        "lookupId1": p.lookup_id1,
        "lookupId2": p.lookup_id2,
        "lookupId3": p.lookup_id3,
        "originId": p.origin_id,
    }


def room(r: Room) -> Json:
    return {"id": r.id, "name": r.name, "uniqueName": r.unique_name}


def group(g: Group) -> Json:
    return {
        "id": g.id,
        "uniqueName": g.unique_name,
        "name": g.name,
        "departmentId": g.department_id,
        "academicYear": g.academic_year,
    }
