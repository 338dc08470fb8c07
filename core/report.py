"""Run reports: what a run did, and why it left out what it left out.

A report is stored for every run and is both for people (``passerelle report``) and for
machines (``--json``). ``ReportBuilder`` is how stages add to the report while the run goes.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from core.logs import Redactor

Action = Literal["created", "updated", "deleted", "unchanged", "skipped", "failed"]
Change = Literal["created", "updated", "deleted"]


class Outcome(enum.StrEnum):
    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"


class Counts(BaseModel):
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0


class Event(BaseModel):
    """One object that was skipped (a rule said no) or failed (something broke)."""

    status: Literal["skipped", "failed"]
    reason: str
    kind: str
    key: str | None = None
    ids: dict[str, str] = Field(default_factory=dict)
    detail: str = ""


class Acted(BaseModel):
    """One object the run created, updated or deleted (in a dry run: would have).

    Said as a person reads it: ``name`` is a course's name or a person's name and email,
    ``start``/``end`` a session's times, ``changes`` what an update changes
    (``"NAME: 'Maths' -> 'Algebra'"``, ``"students: +2 -1"``).
    """

    action: Change
    kind: str
    key: str | None = None
    name: str = ""
    start: datetime | None = None
    end: datetime | None = None
    changes: list[str] = Field(default_factory=list)


class RunReport(BaseModel):
    run_id: str
    tenant: str
    pipeline: str
    started_at: datetime
    finished_at: datetime | None = None
    dry_run: bool = False
    outcome: Outcome | None = None
    error: str | None = None
    counts: dict[str, Counts] = Field(default_factory=dict)
    calls: dict[str, int] = Field(default_factory=dict)
    events: list[Event] = Field(default_factory=list)
    actions: list[Acted] = Field(default_factory=list)

    def reasons(self) -> Counter[str]:
        return Counter(event.reason for event in self.events)


class ReportBuilder:
    """Collects counts, events and API calls while a run goes.

    ``redactor`` masks the run's own secrets in every text the report stores (names,
    changes, details, the error); by default none, for a run that holds no secret.
    ``on_event`` is told about each event as it happens (the observer hooks hang there).
    """

    def __init__(
        self,
        report: RunReport,
        on_event: Callable[[Event], None] | None = None,
        *,
        redactor: Redactor | None = None,
    ) -> None:
        self.report = report
        self._on_event = on_event
        self._redact = (redactor or Redactor()).redact
        self._failed_keys: set[str] = set()
        self._complete = True

    def count(self, kind: str, action: Action, n: int = 1) -> None:
        counts = self.report.counts.setdefault(kind, Counts())
        setattr(counts, action, getattr(counts, action) + n)

    def acted(
        self,
        kind: str,
        action: Change,
        *,
        key: str | None = None,
        name: str = "",
        start: datetime | None = None,
        end: datetime | None = None,
        changes: list[str] | None = None,
    ) -> None:
        """The object was created, updated or deleted (in a dry run: would have been):
        counted, and listed so that a person can see which objects and what changed."""
        self.report.actions.append(
            Acted(
                action=action,
                kind=kind,
                key=key,
                name=self._redact(name),
                start=start,
                end=end,
                changes=[self._redact(change) for change in changes or ()],
            )
        )
        self.count(kind, action)

    def call(self, service: str, n: int = 1) -> None:
        self.report.calls[service] = self.report.calls.get(service, 0) + n

    def skip(
        self,
        kind: str,
        reason: str,
        *,
        key: str | None = None,
        ids: dict[str, str] | None = None,
        detail: str = "",
        keep: bool = False,
    ) -> None:
        """A rule said no: the object is left out, and the run is still ``ok``.

        ``keep``: the source could not read the object (a malformed record), so it is not
        known to be gone: its ``key`` is protected like a failed one (``failed_keys``), and
        without a key the run is no longer ``complete``; the run stays ``ok``."""
        if keep:
            self._protect(key)
        self._add("skipped", kind, reason, key, ids, detail)

    def fail(
        self,
        kind: str,
        reason: str,
        *,
        key: str | None = None,
        ids: dict[str, str] | None = None,
        detail: str = "",
    ) -> None:
        """Something broke. Without a ``key``, the failure may hide objects that still
        exist at the source, so the run is no longer ``complete``."""
        self._protect(key)
        self._add("failed", kind, reason, key, ids, detail)

    def _protect(self, key: str | None) -> None:
        if key is None:
            self._complete = False
        else:
            self._failed_keys.add(key)

    @property
    def failed_keys(self) -> frozenset[str]:
        """Keys of objects that failed, or were skipped with ``keep`` (unreadable): a sink
        must not take their absence for a deletion."""
        return frozenset(self._failed_keys)

    @property
    def complete(self) -> bool:
        """Whether everything in scope was read: only then may a sink infer deletions."""
        return self._complete

    def _add(
        self,
        status: Literal["skipped", "failed"],
        kind: str,
        reason: str,
        key: str | None,
        ids: dict[str, str] | None,
        detail: str,
    ) -> None:
        event = Event(
            status=status,
            reason=reason,
            kind=kind,
            key=key,
            ids=ids or {},
            detail=self._redact(detail),
        )
        self.report.events.append(event)
        self.count(kind, status)
        if self._on_event is not None:
            self._on_event(event)

    def finish(self, finished_at: datetime, *, error: str | None = None) -> RunReport:
        report = self.report
        report.finished_at = finished_at
        report.error = None if error is None else self._redact(error)
        if error is not None:
            report.outcome = Outcome.FAILED
        elif any(counts.failed for counts in report.counts.values()):
            report.outcome = Outcome.PARTIAL
        else:
            report.outcome = Outcome.OK
        return report
