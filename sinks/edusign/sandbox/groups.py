"""Groups of students: ``POST`` answers ``{"ID"}``; ``PATCH`` replaces ``STUDENTS`` as a
whole (the contract's reading of public clients).

Where the contract is silent, the least convenient legal answer: ``NAME`` is mandatory
(the contract marks none; a nameless group is of no use); ``STUDENTS`` and ``PARENT`` must
name existing records; the list (not paged) comes in an order of the seed's own, and a
group's ``STUDENTS`` too; writes other than creations answer no result. Deleting a group
leaves the ids that referred to it (a student's ``GROUPS``, a course's ``SCHOOL_GROUP``)
in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sinks.edusign.sandbox import fields, render
from sinks.edusign.sandbox.endpoint import Call, Endpoint, by_api_id, by_id, listed
from sinks.edusign.sandbox.fields import Record

if TYPE_CHECKING:
    from sinks.edusign.sandbox.state import School


def create(school: School, given: Record) -> str:
    values = _checked(school, given, fields.GROUP, fields.mandatory(fields.GROUP))
    return school.insert("group", fields.new_record(fields.GROUP, values))


def _checked(school: School, given: Record, schema: fields.Schema, required: list[str]) -> Record:
    """The accepted fields, references checked, students listed once each."""
    values = fields.accepted(schema, given, required)
    if "STUDENTS" in values:
        values["STUDENTS"] = list(dict.fromkeys(values["STUDENTS"]))
        for student in values["STUDENTS"]:
            school.get("student", student)
    if values.get("PARENT"):
        school.get("group", values["PARENT"])
    return values


def _post(call: Call) -> object:
    return {"ID": create(call.school, call.part("group"))}


def _update(call: Call) -> object:
    values = _checked(call.school, call.part("group"), fields.with_id(fields.GROUP), ["ID"])
    record = call.school.get("group", values.pop("ID"))
    record.update(values)
    return None


def _list(call: Call) -> object:
    rows = listed(call, "group", list(call.school.groups.values()))
    return [render.public(r, call.quirks) for r in rows]


def _delete(call: Call) -> object:
    record = call.school.get("group", call.params["id"])
    del call.school.groups[record["ID"]]
    return None


ENDPOINTS = [
    Endpoint("GET", "/v1/group", _list),
    Endpoint("POST", "/v1/group", _post),
    Endpoint("PATCH", "/v1/group", _update),
    Endpoint("GET", "/v1/group/get-id/{api_id}", by_api_id("group")),
    Endpoint("GET", "/v1/group/{id}", by_id("group")),
    Endpoint("DELETE", "/v1/group/{id}", _delete),
]
