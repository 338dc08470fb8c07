"""Schedules: wall-clock slots across changes of offset, H spreading, and the invariants the
worker relies on (strictly after, inclusive before, in order, no duplicates).

Pure: every moment is given, nothing reads the clock or sleeps. Slots are compared as UTC
instants, because Python compares two datetimes of the same zone by their wall clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.config import DEFAULT_SCHEDULE
from core.schedule import Schedule, is_valid

PARIS = ZoneInfo("Europe/Paris")
AUTUMN = date(2025, 10, 26)  # 03:00 CEST -> 02:00 CET
SPRING = date(2025, 3, 30)  # 02:00 CET -> 03:00 CEST
TICK = timedelta(microseconds=1)
"""Taken from UTC instants only: arithmetic on a zoned datetime moves its wall clock, and
one microsecond before 03:00 CEST on the spring day is 02:59:59 at +01:00, an hour later."""


def paris(*expressions: str, tenant: str = "acme") -> Schedule:
    return Schedule(expressions, PARIS, tenant)


def at(day: date, hour: int = 0, minute: int = 0, zone: ZoneInfo = PARIS) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def slots_on(schedule: Schedule, day: date) -> list[datetime]:
    """Every slot whose local date is ``day``, walking next_after from the day before."""
    slots: list[datetime] = []
    slot = schedule.next_after(at(day - timedelta(days=1), 23, 59, schedule.timezone))
    while slot.date() == day:
        slots.append(slot)
        slot = schedule.next_after(slot)
    return slots


def strictly_increasing(slots: list[datetime]) -> bool:
    instants = [utc(s) for s in slots]
    return all(a < b for a, b in pairwise(instants))


# Changes of UTC offset


def test_a_slot_in_the_repeated_hour_runs_once_at_the_first_pass() -> None:
    schedule = paris("30 2 * * *")
    slots = schedule.upcoming(at(date(2025, 10, 24), 12), 4)

    assert [s for s in slots if s.date() == AUTUMN] == [at(AUTUMN, 2, 30)]
    assert utc(slots[1]) == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # CEST, fold=0
    gaps = [utc(b) - utc(a) for a, b in pairwise(slots)]
    assert gaps == [timedelta(hours=24), timedelta(hours=25), timedelta(hours=24)]


def test_a_slot_in_the_skipped_hour_runs_once_after_the_gap() -> None:
    schedule = paris("30 2 * * *")
    slots = schedule.upcoming(at(date(2025, 3, 28), 12), 4)

    on_the_day = [s for s in slots if s.date() == SPRING]
    assert len(on_the_day) == 1
    assert utc(on_the_day[0]) == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert (on_the_day[0].hour, on_the_day[0].minute) == (3, 30)
    assert on_the_day[0].utcoffset() == timedelta(hours=2)
    gaps = [utc(b) - utc(a) for a, b in pairwise(slots)]
    assert gaps == [timedelta(hours=24), timedelta(hours=23), timedelta(hours=24)]


def test_hourly_follows_the_wall_clock_23_hours_in_spring_24_in_autumn() -> None:
    schedule = paris("0 * * * *")

    spring = slots_on(schedule, SPRING)
    assert [s.hour for s in spring] == [0, 1, *range(3, 24)]  # 02:00 is 03:00 CEST, once
    assert strictly_increasing(spring)

    autumn = slots_on(schedule, AUTUMN)
    assert [s.hour for s in autumn] == list(range(24))  # 02:00 once, not again in CET
    assert strictly_increasing(autumn)


@pytest.mark.parametrize("change", [SPRING, AUTUMN])
def test_a_morning_slot_keeps_its_local_time_across_a_change(change: date) -> None:
    schedule = paris("0 9 * * *")
    before, after = schedule.upcoming(at(change - timedelta(days=1)), 3)[::2]

    assert (before.hour, before.minute, after.hour, after.minute) == (9, 0, 9, 0)
    assert before.utcoffset() != after.utcoffset()


def test_nothing_runs_again_during_the_repeated_hour() -> None:
    schedule = paris("30 2 * * *")
    second_pass = datetime(2025, 10, 26, 2, 15, fold=1, tzinfo=PARIS)  # 01:15 UTC, CET

    assert schedule.next_after(second_pass) == at(AUTUMN + timedelta(days=1), 2, 30)
    assert utc(schedule.last_at_or_before(second_pass) or second_pass) == datetime(
        2025, 10, 26, 0, 30, tzinfo=UTC
    )


def test_a_slot_moved_by_the_gap_is_still_due_after_the_gap() -> None:
    schedule = paris("15 2 * * *")
    just_after_the_gap = at(SPRING, 3, 5)  # the 02:15 slot is at 03:15 CEST

    assert schedule.next_after(just_after_the_gap) == at(SPRING, 3, 15)
    assert schedule.last_at_or_before(at(SPRING, 3, 20)) == at(SPRING, 3, 15)


def test_slots_that_meet_after_the_gap_run_once_in_order() -> None:
    schedule = paris("*/30 * * * *")  # 02:00, 02:30 become 03:00, 03:30 CEST

    slots = schedule.upcoming(at(SPRING, 1, 45), 4)

    assert [(s.hour, s.minute) for s in slots] == [(3, 0), (3, 30), (4, 0), (4, 30)]


def test_the_latest_slot_before_may_be_a_moved_one() -> None:
    schedule = paris("15 3 * * *", "30 2 * * *")  # 03:15 CEST, then 02:30 -> 03:30 CEST

    assert schedule.last_at_or_before(at(SPRING, 3, 45)) == at(SPRING, 3, 30)


def test_a_half_hour_gap_interleaves_moved_and_regular_slots() -> None:
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # 2025-10-05: 02:00 +10:30 -> 02:30 +11:00
    schedule = Schedule(("*/20 2 * * *",), lord_howe, "acme")
    day = date(2025, 10, 5)

    # 02:00 and 02:20 do not exist: they run at 02:30 and 02:50, around the real 02:40.
    slots = [at(day, 2, minute, lord_howe) for minute in (30, 40, 50)]
    assert schedule.upcoming(at(day, 1, 0, lord_howe), 4)[:3] == slots
    assert schedule.next_after(at(day, 2, 35, lord_howe)) == slots[1]
    assert schedule.last_at_or_before(at(day, 2, 55, lord_howe)) == slots[2]


# Bounds and merging


def test_next_after_is_strictly_after_and_last_at_or_before_inclusive() -> None:
    schedule = paris("0 9 * * *")
    slot = at(date(2025, 1, 15), 9)

    assert schedule.next_after(slot) == at(date(2025, 1, 16), 9)
    assert schedule.next_after(utc(slot) - TICK) == slot
    assert schedule.last_at_or_before(slot) == slot
    assert schedule.last_at_or_before(utc(slot) - TICK) == at(date(2025, 1, 14), 9)


def test_several_expressions_merge_in_order_without_duplicates() -> None:
    schedule = paris("0 18 * * *", "0 9 * * *", "0 9 * * 1")
    sunday = at(date(2025, 1, 5), 12)

    assert schedule.upcoming(sunday, 4) == [
        at(date(2025, 1, 5), 18),
        at(date(2025, 1, 6), 9),  # Monday: both 09:00 expressions, one slot
        at(date(2025, 1, 6), 18),
        at(date(2025, 1, 7), 9),
    ]


def test_slots_are_in_the_tenants_zone_whatever_the_moments_zone() -> None:
    slot = paris("0 9 * * *").next_after(datetime(2025, 1, 15, 12, tzinfo=UTC))

    assert slot.tzinfo is PARIS
    assert slot == at(date(2025, 1, 16), 9)


def test_no_slot_within_a_year_before_is_none() -> None:
    leap_day = paris("0 0 29 2 *")

    assert leap_day.last_at_or_before(at(date(2024, 6, 1))) == at(date(2024, 2, 29))
    assert leap_day.last_at_or_before(at(date(2025, 6, 1))) is None
    assert leap_day.next_after(at(date(2025, 6, 1))) == at(date(2028, 2, 29))


def test_a_schedule_that_never_fires_has_no_next_slot() -> None:
    with pytest.raises(ValueError, match="never fires"):
        paris("0 0 30 2 *").next_after(at(date(2025, 1, 1)))


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        paris("0 9 * * *").next_after(datetime(2025, 1, 1))


@pytest.mark.parametrize("expressions", [(), ("every day",)])
def test_a_schedule_needs_valid_expressions(expressions: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="cron expression"):
        Schedule(expressions, PARIS, "acme")


# H: spread per tenant, stable per tenant


def default_slots(tenant: str, day: date) -> list[datetime]:
    return slots_on(Schedule(DEFAULT_SCHEDULE, PARIS, tenant), day)


def windows(tenant: str, day: date) -> tuple[datetime, datetime]:
    """The tenant's first default slot in each promised window (11:00-13:00, 18:00-21:00),
    after checking that no slot of ``day`` falls outside them: three look-ups instead of
    walking every slot, so that a thousand tenants stay fast."""
    schedule = Schedule(DEFAULT_SCHEDULE, PARIS, tenant)
    morning = schedule.next_after(at(day))
    evening = schedule.next_after(utc(at(day, 13)) - TICK)
    tomorrow = schedule.next_after(utc(at(day, 21)) - TICK)
    assert at(day, 11) <= morning < at(day, 13), tenant
    assert at(day, 18) <= evening < at(day, 21), tenant
    assert tomorrow >= at(day + timedelta(days=1), 11), tenant
    return morning, evening


def test_the_default_schedule_spreads_tenants_within_the_promised_windows() -> None:
    day = date(2025, 1, 15)
    firsts = [windows(f"tenant{n}", day) for n in range(1000)]

    assert len({(m.hour, m.minute) for m, _ in firsts}) >= 50
    assert len({(e.hour, e.minute) for _, e in firsts}) >= 50


def test_a_tenant_keeps_its_slots() -> None:
    day = date(2025, 1, 15)
    first = default_slots("acme", day)

    assert default_slots("acme", day) == first
    assert [(s.hour, s.minute) for s in default_slots("acme", date(2025, 7, 15))] == [
        (s.hour, s.minute) for s in first
    ]
    # H hashes the name with CRC-32, not Python's salted hash(): the same minute in every
    # process. Should a croniter upgrade change it, every tenant moves once: say so.
    assert {s.minute for s in first} == {14}


# Invariants, for any moment


ZONES = [PARIS, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe"), UTC]
EXPRESSIONS = [
    "30 2 * * *",
    "*/30 * * * *",
    "0 * * * *",
    "15 3 * * 1-5",
    "H 11-12 * * *",
    "H 18-20 * * *",
    "0 0 29 2 *",
]
CHANGES = [
    datetime(2025, 3, 30, 1, tzinfo=UTC),  # Paris, spring
    datetime(2025, 10, 26, 1, tzinfo=UTC),  # Paris, autumn
    datetime(2025, 3, 9, 7, tzinfo=UTC),  # New York, spring
    datetime(2025, 11, 2, 6, tzinfo=UTC),  # New York, autumn
    datetime(2025, 4, 5, 15, tzinfo=UTC),  # Lord Howe: half an hour back
    datetime(2025, 10, 4, 15, 30, tzinfo=UTC),  # Lord Howe: half an hour forward
]

moments = st.one_of(
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    st.builds(
        lambda change, shift: change + shift,
        st.sampled_from(CHANGES),
        st.timedeltas(min_value=timedelta(hours=-30), max_value=timedelta(hours=30)),
    ),
)
schedules = st.builds(
    Schedule,
    st.lists(st.sampled_from(EXPRESSIONS), min_size=1, max_size=3, unique=True).map(tuple),
    st.sampled_from(ZONES),
    st.sampled_from(["acme", "tenant7", "école"]),
)


@given(schedules, moments)
def test_next_after_is_the_earliest_slot_strictly_after(
    schedule: Schedule, moment: datetime
) -> None:
    slot = schedule.next_after(moment)

    assert utc(slot) > utc(moment)
    assert slot.tzinfo is schedule.timezone
    assert schedule.last_at_or_before(slot) == slot
    earlier = schedule.last_at_or_before(utc(slot) - TICK)
    assert earlier is None or utc(earlier) <= utc(moment)


@given(schedules, moments)
def test_last_at_or_before_is_not_after(schedule: Schedule, moment: datetime) -> None:
    slot = schedule.last_at_or_before(moment)

    assert slot is None or utc(slot) <= utc(moment)
    assert slot is None or utc(schedule.next_after(slot)) > utc(moment)


@given(schedules, moments, st.integers(min_value=0, max_value=8))
def test_upcoming_is_strictly_increasing(schedule: Schedule, moment: datetime, count: int) -> None:
    slots = schedule.upcoming(moment, count)

    assert len(slots) == count
    assert strictly_increasing([moment, *slots])


# Validation


@pytest.mark.parametrize("expression", [*DEFAULT_SCHEDULE, "*/5 * * * *", "H H(11-12) * * 1-5"])
def test_is_valid_accepts(expression: str) -> None:
    assert is_valid(expression)


@pytest.mark.parametrize(
    "expression", ["every day", "61 * * * *", "", "R * * * *", "0 R(11-12) * * *"]
)
def test_is_valid_rejects(expression: str) -> None:
    assert not is_valid(expression)
