"""What every stage of a run is handed: who, when, which dates, and where to report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from loguru import logger

from core.report import ReportBuilder

if TYPE_CHECKING:
    from loguru import Logger

    from core.state import TenantState


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

    @property
    def log(self) -> Logger:
        return logger.bind(tenant=self.tenant, run_id=self.run_id, pipeline=self.pipeline)
