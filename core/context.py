"""What every stage of a run is handed: who, when, which dates, and where to report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from loguru import logger

from core.reasons import Reason
from core.report import ReportBuilder
from core.synced import TenantState

if TYPE_CHECKING:
    from loguru import Logger


@dataclass(frozen=True, slots=True)
class Window:
    """The dates a timetable run may create or change, both ends included.

    Today and earlier are never touched ("past or same day"); later than ``last`` is not
    fetched yet.
    """

    first: date
    last: date

    @classmethod
    def starting_after(cls, now: datetime, tz: ZoneInfo, horizon_days: int) -> Window:
        today = now.astimezone(tz).date()
        return cls(today + timedelta(days=1), today + timedelta(days=horizon_days))

    @classmethod
    def ending_on(cls, now: datetime, tz: ZoneInfo, lookback_days: int) -> Window:
        """The last ``lookback_days`` days, today included: for looking back at what
        already happened (attendance)."""
        today = now.astimezone(tz).date()
        return cls(today - timedelta(days=lookback_days), today)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


@dataclass(frozen=True, slots=True)
class DeletionGuard:
    """How many deletions one run may make on its own (like ``rsync --max-delete``).

    A run that would delete more than ``max_share`` of the connector's objects of a kind
    in the window, and more than ``floor`` of them, deletes none: a source misread as
    "nothing" must not empty the target. ``allowed`` (an integrator's confirmation)
    lifts it."""

    max_share: float = 0.3
    floor: int = 5
    allowed: bool = False

    def trips(self, would_delete: int, held: int) -> bool:
        return (
            not self.allowed and would_delete > self.floor and would_delete > self.max_share * held
        )


@dataclass(frozen=True, slots=True)
class RunContext:
    tenant: str
    pipeline: str
    run_id: str
    now: datetime
    timezone: ZoneInfo
    window: Window
    dry_run: bool
    report: ReportBuilder
    state: TenantState
    deletion_guard: DeletionGuard = DeletionGuard()

    def may_delete(self, kind: str, would_delete: int, held: int) -> bool:
        """Whether a sink may delete ``would_delete`` of the ``held`` objects of ``kind`` it
        holds in the window. When not, it deletes none of them, and the run reports one
        failed ``deletions_guarded`` event with the counts (the run ends ``partial``); a
        dry run gives the same verdict."""
        guard = self.deletion_guard
        if not guard.trips(would_delete, held):
            return True
        self.report.fail(
            kind,
            Reason.DELETIONS_GUARDED,
            ids={"would_delete": str(would_delete), "held": str(held)},
            detail=f"this run would delete {would_delete} of the {held} {kind}(s) the "
            f"connector holds in the window, more than {guard.max_share:.0%} and more than "
            f"{guard.floor}: none was deleted. If the source really dropped them, confirm "
            "with `passerelle sync TENANT --allow-mass-deletion` (or allow_mass_deletion)",
        )
        return False

    @property
    def log(self) -> Logger:
        return logger.bind(tenant=self.tenant, run_id=self.run_id, pipeline=self.pipeline)
