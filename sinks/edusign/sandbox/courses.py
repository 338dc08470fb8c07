"""Courses (attendance sheets) and the attendance of each student on them.

As the contract says: ``NAME``, ``START``, ``END``, ``PROFESSOR``,
``NEED_STUDENTS_SIGNATURE`` mandatory (400 without); ``PATCH`` requires ``ID`` only; the
list holds 40 a page and ``start``..``end`` spans at most 90 days; ``GET /v1/course/{id}``
of an unknown id answers ``No course with this ID found``, a student added twice ``Student
already in the list``, a second lock ``Course already locked``, each word for word;
creations answer ``{"ID"}``; dates are answered in UTC.

Where the contract is silent, the least convenient legal answer:

- ``START``/``END`` must carry an offset (or ``Z``), and ``END`` must be after ``START``
  (400). Professors, groups and students a course names must exist (HTTP 200 error).
- ``SCHOOL_GROUP`` is stored as given: it does not add the groups' students to the sheet.
- ``PATCH`` refuses ``STUDENTS`` (400): attendance changes one student at a time through
  ``/v1/course/attendance``, so a client that expects a PATCH to replace the list fails
  loudly here. ``editSurveys`` is accepted and ignored. ``PROFESSOR_N: null`` empties a slot.
- A locked course is frozen: PATCH, DELETE, attendance and presential-state writes are
  refused (HTTP 200). The connector promises never to rewrite one.
- ``start`` and ``end`` go together (400 otherwise) and keep courses with ``start <= START
  <= end``; ``end`` before ``start`` or more than 90 days of elapsed time after it (a
  clock change counts) is an HTTP 200 error. ``groupId``, ``studentId``, ``professorId``
  filter too. The list comes in an order of the seed's own (plainly: by ``START``).
- Every error the contract does not quote is worded by seed (``errors``): an unknown
  course on any call but ``GET /v1/course/{id}``, a student not on the sheet, a locked
  course, a refused range.
- Writes other than creations answer no result (``null``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sinks.edusign.sandbox import dates, errors, fields, render
from sinks.edusign.sandbox.endpoint import Call, Endpoint, by_api_id, by_id, listed, page_of
from sinks.edusign.sandbox.errors import ApiError, invalid
from sinks.edusign.sandbox.fields import Record

if TYPE_CHECKING:
    from sinks.edusign.sandbox.state import School

PAGE = 40
MAX_RANGE = timedelta(days=90)
SIGNATURES = "https://signatures.edusign.invalid"


def create(school: School, given: Record) -> str:
    schema = _schema(given)
    values = fields.accepted(schema, given, fields.mandatory(schema))
    _check(school, values)
    students = list(dict.fromkeys(item["studentId"] for item in values.pop("STUDENTS", [])))
    for student in students:
        school.get("student", student)
    record = fields.new_record(schema, values) | {
        "STUDENTS": [_entry(student) for student in students],
        "LOCKED": 0,
    }
    _signature_slots(record)
    return school.insert("course", record)


def sign(
    school: School,
    course_id: str,
    student_id: str,
    delay: int,
    absence_id: str | None,
    signed: bool,
) -> None:
    course = school.get("course", course_id)
    _entry_of(course, student_id).update(
        state=signed,
        signature=f"{SIGNATURES}/{course_id}/{student_id}.png" if signed else None,
        timestamp=course["START"] if signed else None,
        delay=delay,
        absenceId=absence_id,
    )


def sign_professor(school: School, course_id: str, n: int) -> None:
    course = school.get("course", course_id)
    suffix = "" if n == 1 else f"_{n}"
    if not course.get(f"PROFESSOR{suffix}"):
        raise ValueError(f"course {course_id} has no PROFESSOR{suffix}")
    course[f"PROFESSOR_SIGNATURE{suffix}"] = f"{SIGNATURES}/{course_id}/professor{suffix}.png"


def _schema(given: Record) -> fields.Schema:
    """The course fields, and the ``PROFESSOR_N`` that ``given`` names."""
    others = {name: fields.PROFESSOR_OTHER for name in given if fields.PROFESSOR_N.fullmatch(name)}
    return {**fields.COURSE, **others}


def _professor_slots(course: Record) -> list[str]:
    return ["PROFESSOR", *(name for name in course if fields.PROFESSOR_N.fullmatch(name))]


def _signature_slots(course: Record) -> None:
    """``PROFESSOR_SIGNATURE[_N]``, null until signed, for each professor slot."""
    for slot in _professor_slots(course):
        course.setdefault(slot.replace("PROFESSOR", "PROFESSOR_SIGNATURE", 1), None)


def _check(school: School, course: Record) -> None:
    """The times in order, and the professors and groups ``course`` names exist."""
    if dates.instant(course["END"]) <= dates.instant(course["START"]):
        raise invalid("END must be after START")
    for slot in _professor_slots(course):
        if course[slot] is not None:
            school.get("professor", course[slot])
    for group in course.get("SCHOOL_GROUP", []):
        school.get("group", group)


def _entry(student_id: str) -> Record:
    """A student's attendance on a sheet, before anything happened."""
    return {
        "studentId": student_id,
        "state": False,
        "timestamp": None,
        "signature": None,
        "signatureEmail": None,
        "delay": 0,
        "earlyDeparture": None,
        "absenceId": None,
        "excluded": False,
        "comment": None,
    }


def _entry_of(course: Record, student_id: str) -> Record:
    for entry in course["STUDENTS"]:
        if entry["studentId"] == student_id:
            found: Record = entry
            return found
    raise errors.not_on_sheet()


def _writable(school: School, course_id: str) -> Record:
    course = school.get("course", course_id)
    if course["LOCKED"]:
        raise errors.frozen()
    return course


def _student_id(body: Mapping[str, Any]) -> str:
    student = body.get("studentId")
    if not isinstance(student, str) or not student:
        raise invalid("studentId is required")
    return student


def _post(call: Call) -> object:
    return {"ID": create(call.school, call.part("course"))}


def _update(call: Call) -> object:
    given = call.part("course")
    if "STUDENTS" in given:
        raise invalid("STUDENTS cannot be changed by PATCH: use /v1/course/attendance")
    values = fields.accepted(fields.with_id(_schema(given)), given, ["ID"])
    course = _writable(call.school, values.pop("ID"))
    _check(call.school, course | values)
    course.update(values)
    _signature_slots(course)
    return None


def _list(call: Call) -> object:
    page = call.number("page", 0)
    start, end = call.instant("start"), call.instant("end")
    rows = list(call.school.courses.values())
    if (start is None) != (end is None):
        raise invalid("start and end go together")
    if start is not None and end is not None:
        if end < start:
            raise errors.bad_range("end must not be before start")
        if end - start > MAX_RANGE:
            raise errors.bad_range("start and end must be at most 90 days apart")
        rows = [r for r in rows if start <= dates.instant(r["START"]) <= end]
    group, student, professor = (call.query.get(n) for n in ("groupId", "studentId", "professorId"))
    rows = [
        r
        for r in rows
        if (group is None or group in r["SCHOOL_GROUP"])
        and (student is None or any(e["studentId"] == student for e in r["STUDENTS"]))
        and (professor is None or professor in (r[slot] for slot in _professor_slots(r)))
    ]
    rows.sort(key=lambda r: dates.instant(r["START"]))
    shown = page_of(listed(call, "course", rows), page, PAGE)
    return [render.course(r, call.quirks) for r in shown]


def _delete(call: Call) -> object:
    course = _writable(call.school, call.params["id"])
    del call.school.courses[course["ID"]]
    return None


def _add_student(call: Call) -> object:
    student = _student_id(call.body)
    course = _writable(call.school, call.params["course_id"])
    call.school.get("student", student)
    if any(entry["studentId"] == student for entry in course["STUDENTS"]):
        raise ApiError("Student already in the list", quoted=True)
    course["STUDENTS"].append(_entry(student))
    return None


def _remove_student(call: Call) -> object:
    student = _student_id(call.body)
    course = _writable(call.school, call.params["course_id"])
    course["STUDENTS"].remove(_entry_of(course, student))
    return None


def _lock(call: Call) -> object:
    course = call.school.get("course", call.params["id"])
    if course["LOCKED"]:
        raise ApiError("Course already locked", quoted=True)
    course["LOCKED"] = 1
    return None


def _set_absent(call: Call) -> object:
    comment = call.body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise invalid("comment must be a string")
    course = _writable(call.school, call.params["course_id"])
    entry = _entry_of(course, call.params["student_id"])
    entry.update(state=False, signature=None, timestamp=None, comment=comment)
    return None


def _set_delay(call: Call) -> object:
    delay = call.body.get("delay")
    if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
        raise invalid("delay must be a non-negative integer")
    course = _writable(call.school, call.params["course_id"])
    _entry_of(course, call.params["student_id"])["delay"] = delay
    return None


ENDPOINTS = [
    Endpoint("GET", "/v1/course", _list),
    Endpoint("POST", "/v1/course", _post),
    Endpoint("PATCH", "/v1/course", _update),
    Endpoint("PUT", "/v1/course/attendance/{course_id}", _add_student),
    Endpoint("DELETE", "/v1/course/attendance/{course_id}", _remove_student),
    Endpoint("GET", "/v1/course/lock/{id}", _lock),
    Endpoint("GET", "/v1/course/get-id/{api_id}", by_api_id("course")),
    Endpoint("GET", "/v1/course/{id}", by_id("course")),
    Endpoint("DELETE", "/v1/course/{id}", _delete),
    Endpoint("PATCH", "/v1/presential-states/set-absent/{course_id}/{student_id}", _set_absent),
    Endpoint("PATCH", "/v1/presential-states/set-delay/{course_id}/{student_id}", _set_delay),
]
