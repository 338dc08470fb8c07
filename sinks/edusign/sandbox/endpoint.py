"""What a route's operation sees of a request (``Call``), and the operations every kind of
resource shares: one by Edusign id, and the id behind an ``API_ID``.

An operation returns the ``result`` of the envelope or raises ``ApiError``; ``app`` does
the HTTP around it, so operations stay plain functions over a ``School``. A write other
than a creation returns None: the contract promises nothing of its answer, so the
sandbox gives nothing (``result: null``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from core.sandbox import Quirks
from sinks.edusign.sandbox import dates, render
from sinks.edusign.sandbox.errors import invalid, unknown
from sinks.edusign.sandbox.fields import Record

if TYPE_CHECKING:
    from sinks.edusign.sandbox.state import Kind, School

_NUMBER = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Call:
    """One request to ``school``: path parameters, query (a repeated name keeps its last
    value) and JSON body (``{}`` when there is none); ``quirks`` are the sandbox's answers
    where the contract is silent."""

    school: School
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: Mapping[str, Any]
    quirks: Quirks

    def number(self, name: str, default: int | None = None) -> int:
        """A non-negative integer query parameter; required when ``default`` is None."""
        text = self.query.get(name)
        if text is None:
            if default is None:
                raise invalid(f"{name} is required")
            return default
        if not _NUMBER.fullmatch(text):
            raise invalid(f"{name} must be a non-negative integer")
        return int(text)

    def instant(self, name: str) -> datetime | None:
        """A date-time query parameter, None when absent."""
        text = self.query.get(name)
        if text is None:
            return None
        found = dates.parse(text)
        if found is None:
            raise invalid(f"{name} must be an ISO 8601 date-time with an offset")
        return found

    def part(self, name: str) -> Record:
        """The object the body wraps under ``name`` (``{"student": {...}}``)."""
        value = self.body.get(name)
        if value is None:
            raise invalid(f"{name} is required")
        if not isinstance(value, dict):
            raise invalid(f"{name} must be an object")
        return value


Op = Callable[[Call], object]


class Endpoint(NamedTuple):
    method: str
    path: str
    op: Op


def by_id(kind: Kind) -> Op:
    """``GET /v1/{kind}/{id}``: archived ones too, with ``HIDDEN`` set. An unknown course
    is the contract's ``No course with this ID found``, word for word."""

    def op(call: Call) -> object:
        found = call.school.records(kind).get(call.params["id"])
        if found is None:
            raise unknown(kind, quoted=kind == "course")
        return render.one(call.school, kind, found, call.quirks)

    return op


def by_api_id(kind: Kind) -> Op:
    """``GET /v1/{kind}/get-id/{api_id}``: ``{"id"}``, or an error (HTTP 200) worded as
    the quirks choose, differently per resource."""

    def op(call: Call) -> object:
        found = call.school.find(kind, call.params["api_id"])
        if found is None:
            raise unknown(kind, "API_ID")
        return {"id": found["ID"]}

    return op


def listed(call: Call, kind: Kind, rows: list[Record]) -> list[Record]:
    """``rows`` (in the sandbox's plain order) in the order the quirks give this list:
    the same permutation for the same rows, so that paging through it stays consistent."""
    return call.quirks.order(rows, call.school.id, kind)


def page_of(rows: list[Record], page: int, size: int) -> list[Record]:
    return rows[page * size : (page + 1) * size]
