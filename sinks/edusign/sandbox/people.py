"""Students and professors: the people of a school, unique by email, archived not deleted.

As the contract says: ``FIRSTNAME``, ``LASTNAME``, ``EMAIL`` mandatory (400 without);
professors listed 100 a page, ``page`` required; a student ``PATCH`` requires ``ID``,
``FIRSTNAME``, ``LASTNAME``; a second professor with an email answers ``Professor already
exists in this school`` (HTTP 200), word for word; by-email finds archived people, with
``HIDDEN`` set; creations answer ``{"ID"}``.

Where the contract is silent, the least convenient legal answer:

- Email uniqueness is per kind, case-insensitive, and counts archived people (their account
  still exists). A second student with an email is an error (HTTP 200) whose words vary
  by seed (``errors.email_taken``), as do an update to another person's email and every
  "unknown" answer: get-id and by-email included, which differ per resource.
- Lists leave archived people out, as Edusign's own lists hide them; by id, by email and
  by ``API_ID`` they are found, with ``HIDDEN`` set.
- Lists come in an order of the seed's own (stable for the same rows), and a students page
  holds fewer rows than the ``limit`` asked (the same number on every page of a list; the
  limit defaults to 100 and is capped at 1,000). by-ids answers in no particular order.
- ``search`` matches a substring of first name, last name or email, case-insensitively;
  ``updatedAfter`` keeps students changed (created, updated, archived, restored) strictly
  after it, by the sandbox's wall clock.
- A professor ``PATCH`` requires ``EMAIL`` too, as the contract's body shows it; fields
  not given are kept.
- Writes other than creations answer no result (``null``).
- A professor's ``dontSendCredentials`` is read at the top level of the body and inside
  ``professor``. The record notes the value that counts (``_dontSendCredentials``: the
  top-level one when sent, else the inner one, else None), what was sent where
  (``_dontSendCredentialsFrom``, e.g. ``{"top": True}``), and whether Edusign would have
  mailed the login (``_credentialsSent``: it does unless told not to).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Literal

from sinks.edusign.sandbox import errors, fields, render
from sinks.edusign.sandbox.endpoint import Call, Endpoint, by_api_id, by_id, listed, page_of
from sinks.edusign.sandbox.errors import ApiError, invalid
from sinks.edusign.sandbox.fields import Record

if TYPE_CHECKING:
    from sinks.edusign.sandbox.state import School

Person = Literal["student", "professor"]
STUDENTS_LIMIT = 100
STUDENTS_MAX_LIMIT = 1000
PROFESSORS_PAGE = 100
_SCHEMA = {"student": fields.STUDENT, "professor": fields.PROFESSOR}
_UPDATE_REQUIRED = {
    "student": ("ID", "FIRSTNAME", "LASTNAME"),
    "professor": ("ID", "FIRSTNAME", "LASTNAME", "EMAIL"),
}


def create_student(school: School, given: Record) -> str:
    values = fields.accepted(fields.STUDENT, given, fields.mandatory(fields.STUDENT))
    _email_free(school, "student", values["EMAIL"], errors.email_taken("student"))
    _groups_exist(school, values)
    record = fields.new_record(fields.STUDENT, values) | {"HIDDEN": 0, "_updated": _now()}
    return school.insert("student", record)


def create_professor(school: School, given: Record, top_level: object) -> str:
    """``top_level``: the body's own ``dontSendCredentials``, None when absent."""
    choices = {
        where: value
        for where, value in (("top", top_level), ("inside", given.get("dontSendCredentials")))
        if value is not None
    }
    if not all(isinstance(value, bool) for value in choices.values()):
        raise invalid("dontSendCredentials must be a boolean")
    values = fields.accepted(fields.PROFESSOR, given, fields.mandatory(fields.PROFESSOR))
    quoted = ApiError("Professor already exists in this school", quoted=True)
    _email_free(school, "professor", values["EMAIL"], quoted)
    counts = next(iter(choices.values()), None)
    record = fields.new_record(fields.PROFESSOR, values) | {
        "HIDDEN": 0,
        "_updated": _now(),
        "_dontSendCredentials": counts,
        "_dontSendCredentialsFrom": choices,
        "_credentialsSent": not counts,
    }
    return school.insert("professor", record)


def _post_student(call: Call) -> object:
    return {"ID": create_student(call.school, call.part("student"))}


def _post_professor(call: Call) -> object:
    top_level = call.body.get("dontSendCredentials")
    return {"ID": create_professor(call.school, call.part("professor"), top_level)}


def _update(kind: Person, call: Call) -> object:
    schema = fields.with_id(_SCHEMA[kind])
    values = fields.accepted(schema, call.part(kind), _UPDATE_REQUIRED[kind])
    record = call.school.get(kind, values.pop("ID"))
    if "EMAIL" in values:
        taken = errors.email_of_another(kind)
        _email_free(call.school, kind, values["EMAIL"], taken, record["ID"])
    _groups_exist(call.school, values)
    record.update(values, _updated=_now())
    return None


def _list_students(call: Call) -> object:
    page = call.number("page", 0)
    limit = min(max(call.number("limit", STUDENTS_LIMIT), 1), STUDENTS_MAX_LIMIT)
    size = call.quirks.page_size(limit, call.school.id, "student")
    after = call.instant("updatedAfter")
    search = call.query.get("search", "").casefold()
    rows = [
        r
        for r in call.school.students.values()
        if not r["HIDDEN"]
        and (after is None or r["_updated"] > after)
        and any(search in r[name].casefold() for name in ("FIRSTNAME", "LASTNAME", "EMAIL"))
    ]
    shown = page_of(listed(call, "student", rows), page, size)
    return [render.public(r, call.quirks) for r in shown]


def _list_professors(call: Call) -> object:
    page = call.number("page")
    rows = [r for r in call.school.professors.values() if not r["HIDDEN"]]
    shown = page_of(listed(call, "professor", rows), page, PROFESSORS_PAGE)
    return [render.professor(call.school, r, call.quirks) for r in shown]


def _by_email(kind: Person, call: Call) -> object:
    wanted = call.params["email"].casefold()
    found = next(
        (r for r in call.school.records(kind).values() if r["EMAIL"].casefold() == wanted), None
    )
    if found is None:
        raise errors.unknown(kind, "email")
    return render.one(call.school, kind, found, call.quirks)


def _by_ids(call: Call) -> object:
    ids = call.body.get("studentIds")
    if not isinstance(ids, list):
        raise invalid("studentIds is required")
    students = call.school.students
    found = [students[i] for i in ids if isinstance(i, str) and i in students]
    return [render.public(r, call.quirks) for r in listed(call, "student", found)]


def _set_hidden(kind: Person, hidden: int, call: Call) -> object:
    record = call.school.get(kind, call.params["id"])
    record.update(HIDDEN=hidden, _updated=_now())
    return None


def _email_free(
    school: School, kind: Person, email: str, taken: ApiError, owner: str | None = None
) -> None:
    wanted = email.casefold()
    for record in school.records(kind).values():
        if record["EMAIL"].casefold() == wanted and record["ID"] != owner:
            raise taken


def _groups_exist(school: School, values: Record) -> None:
    for group in values.get("GROUPS", []):
        school.get("group", group)


def _now() -> datetime:
    return datetime.now(UTC)


ENDPOINTS = [
    Endpoint("GET", "/v1/student", _list_students),
    Endpoint("POST", "/v1/student", _post_student),
    Endpoint("PATCH", "/v1/student", partial(_update, "student")),
    Endpoint("POST", "/v1/student/by-ids", _by_ids),
    Endpoint("GET", "/v1/student/by-email/{email}", partial(_by_email, "student")),
    Endpoint("GET", "/v1/student/get-id/{api_id}", by_api_id("student")),
    Endpoint("GET", "/v1/student/restore/{id}", partial(_set_hidden, "student", 0)),
    Endpoint("GET", "/v1/student/{id}", by_id("student")),
    Endpoint("DELETE", "/v1/student/{id}", partial(_set_hidden, "student", 1)),
    Endpoint("GET", "/v1/professor", _list_professors),
    Endpoint("POST", "/v1/professor", _post_professor),
    Endpoint("PATCH", "/v1/professor", partial(_update, "professor")),
    Endpoint("GET", "/v1/professor/by-email/{email}", partial(_by_email, "professor")),
    Endpoint("GET", "/v1/professor/get-id/{api_id}", by_api_id("professor")),
    Endpoint("GET", "/v1/professor/{id}", by_id("professor")),
    Endpoint("DELETE", "/v1/professor/{id}", partial(_set_hidden, "professor", 1)),
]
