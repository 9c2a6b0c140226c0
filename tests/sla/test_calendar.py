"""Calendar arithmetic: properties over random instants and amounts, and hand-counted days
around DST changes, holidays, midnight and 24:00 (docs/sla.md, "Counting minutes")."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.sla.calendar import Calendar, FieldError, holidays_from_ical

NINE_TO_FIVE = ((time(9), time(17)),)
WEEKDAYS_ONLY = (NINE_TO_FIVE,) * 5 + ((), ())
SPLIT_DAY = ((time(8), time(12)), (time(13), time(17, 30)))
ALL_DAY = ((time(0), time(0)),)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


CALENDARS = [
    Calendar("Europe/Berlin", WEEKDAYS_ONLY, frozenset({date(2026, 12, 25), date(2027, 1, 1)})),
    Calendar("America/New_York", (SPLIT_DAY,) * 6 + ((),)),
    Calendar("Asia/Jakarta", (((time(22), time(2)),),) * 7),  # overnight shifts
    Calendar("Europe/Berlin", (((time(1, 30), time(3, 30)), (time(20), time(0))),) * 7),
    Calendar.always(),
]
instants = st.integers(
    min_value=int(utc(2025, 1, 1).timestamp()), max_value=int(utc(2028, 1, 1).timestamp())
).map(lambda seconds: datetime.fromtimestamp(seconds, UTC))
amounts = st.integers(min_value=0, max_value=60 * 24 * 20)
calendars = st.sampled_from(CALENDARS)
SETTINGS = settings(max_examples=200, deadline=None)


@SETTINGS
@given(calendars, instants, amounts)
def test_measuring_what_was_added_gives_it_back(cal: Calendar, start: datetime, n: int) -> None:
    assert cal.between(start, cal.add(start, n)) == n


@SETTINGS
@given(calendars, instants, amounts, amounts)
def test_adding_more_never_ends_earlier(cal: Calendar, start: datetime, n: int, m: int) -> None:
    small, large = sorted((n, m))
    assert cal.add(start, small) <= cal.add(start, large)


@SETTINGS
@given(calendars, instants, instants, amounts)
def test_starting_later_never_ends_earlier(cal: Calendar, a: datetime, b: datetime, n: int) -> None:
    early, late = sorted((a, b))
    assert cal.add(early, n) <= cal.add(late, n)


@SETTINGS
@given(calendars, instants, instants, instants)
def test_between_adds_up_over_a_split(cal: Calendar, a: datetime, b: datetime, c: datetime) -> None:
    first, middle, last = sorted((a, b, c))
    assert cal.between(first, last) == pytest.approx(
        cal.between(first, middle) + cal.between(middle, last), abs=1e-9
    )


@SETTINGS
@given(instants, amounts)
def test_the_due_instant_is_the_earliest(start: datetime, n: int) -> None:
    cal = CALENDARS[1]
    due = cal.add(start, n)
    if n > 0:
        assert cal.between(start, due - timedelta(seconds=1)) < n


@SETTINGS
@given(st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)))
def test_a_holiday_is_never_counted(day: date) -> None:
    every_day = Calendar("Europe/Berlin", (NINE_TO_FIVE,) * 7, frozenset({day}))
    start = datetime.combine(day, time(0), tzinfo=every_day._memo.zone)
    assert every_day.between(start, start + timedelta(days=1)) == 0
    assert not every_day.is_open(start.replace(hour=10))
    following = datetime.combine(day + timedelta(days=1), time(9), tzinfo=every_day._memo.zone)
    assert every_day.next_open(start.replace(hour=10)) == following


def test_a_target_that_fills_at_closing_time_is_due_at_closing_time() -> None:
    cal = Calendar("UTC", WEEKDAYS_ONLY)
    assert cal.add(utc(2026, 1, 9, 16), 60) == utc(2026, 1, 9, 17)  # Friday 17:00, not Monday


def test_it_skips_weekends_and_holidays() -> None:
    cal = CALENDARS[0]  # Berlin, 09:00-17:00 local, Christmas Day off
    thursday = utc(2026, 12, 24, 15)  # 16:00 in Berlin
    assert cal.add(thursday, 120) == utc(2026, 12, 28, 9)  # Monday 10:00 in Berlin


def test_several_intervals_a_day_count_only_their_hours() -> None:
    cal = Calendar("UTC", (SPLIT_DAY,) * 7)
    assert cal.between(utc(2026, 1, 5, 0), utc(2026, 1, 6, 0)) == 4 * 60 + 4 * 60 + 30
    assert cal.add(utc(2026, 1, 5, 11), 90) == utc(2026, 1, 5, 13, 30)


def test_an_overnight_interval_runs_past_midnight_into_the_next_date() -> None:
    cal = Calendar("UTC", (((time(22), time(2)),),) + ((),) * 6)  # Monday 22:00-Tuesday 02:00
    assert cal.between(utc(2026, 1, 5, 0), utc(2026, 1, 7, 0)) == 240
    assert cal.add(utc(2026, 1, 5, 23), 120) == utc(2026, 1, 6, 1)


def test_the_hours_after_midnight_of_an_overnight_interval_close_on_a_holiday() -> None:
    cal = Calendar("UTC", (((time(22), time(2)),),) + ((),) * 6, frozenset({date(2026, 1, 6)}))
    assert cal.between(utc(2026, 1, 5, 0), utc(2026, 1, 7, 0)) == 120


def test_a_24_00_end_closes_at_midnight() -> None:
    cal = Calendar.from_json({"timezone": "UTC", "hours": {"mon": [["18:00", "24:00"]]}})
    assert cal.between(utc(2026, 1, 5, 0), utc(2026, 1, 7, 0)) == 360


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Europe/Berlin", date(2026, 3, 29), 23),  # spring forward: 02:00-03:00 never happens
        ("Europe/Berlin", date(2026, 10, 25), 25),  # fall back: 02:00-03:00 happens twice
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
        ("Asia/Jakarta", date(2026, 3, 29), 24),  # no DST
    ],
)
def test_a_whole_local_day_counts_its_real_hours(zone: str, day: date, hours: int) -> None:
    cal = Calendar(zone, (ALL_DAY,) * 7)
    start = datetime.combine(day, time(0), tzinfo=cal._memo.zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=cal._memo.zone)
    assert cal.between(start, end) == hours * 60


def test_a_skipped_hour_never_counts_and_a_repeated_one_counts_twice() -> None:
    night = Calendar("Europe/Berlin", (((time(2), time(3)),),) * 7)
    spring = datetime(2026, 3, 28, 12, tzinfo=UTC)
    assert night.between(spring, spring + timedelta(days=1)) == 0
    autumn = datetime(2026, 10, 24, 12, tzinfo=UTC)
    assert night.between(autumn, autumn + timedelta(days=1)) == 120
    # 02:00-03:00 CEST is 00:00-01:00 UTC, then 02:00-03:00 CET is 01:00-02:00 UTC.
    assert night.add(autumn, 90) == utc(2026, 10, 25, 1, 30)


def test_business_hours_follow_the_local_clock_across_dst() -> None:
    cal = Calendar("America/New_York", (NINE_TO_FIVE,) * 7)
    assert cal.next_open(utc(2026, 3, 7, 22)) == utc(2026, 3, 8, 13)  # 09:00 EDT
    assert cal.next_open(utc(2026, 3, 6, 22)) == utc(2026, 3, 7, 14)  # 09:00 EST


def test_it_counts_seconds_not_whole_minutes() -> None:
    cal = Calendar("UTC", WEEKDAYS_ONLY)
    assert cal.between(utc(2026, 1, 5, 9, 0, 0), utc(2026, 1, 5, 9, 0, 30)) == 0.5


def test_always_open_counts_every_real_minute() -> None:
    cal = Calendar.always()
    assert cal.between(utc(2026, 3, 28, 12), utc(2026, 3, 29, 12)) == 24 * 60
    assert cal.add(utc(2026, 1, 3, 23), 120) == utc(2026, 1, 4, 1)


def test_from_json_reads_weekday_names_short_names_and_numbers() -> None:
    cal = Calendar.from_json(
        {
            "timezone": "Asia/Jakarta",
            "hours": {"monday": [["09:00", "17:00"]], "tue": [["09:00", "12:00"]], "6": []},
            "holidays": ["2026-08-17", ["2026-12-24", "2026-12-26"]],
        }
    )
    assert cal.hours[0] == ((time(9), time(17)),)
    assert cal.hours[1] == ((time(9), time(12)),)
    assert date(2026, 12, 25) in cal.holidays and len(cal.holidays) == 4


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"hours": {"mon": [["09:00", "17:00"]]}}, "timezone"),
        ({"timezone": "Mars/Olympus", "hours": {"mon": [["09:00", "17:00"]]}}, "timezone"),
        ({"timezone": "UTC", "hours": {"funday": [["09:00", "17:00"]]}}, "hours.funday"),
        ({"timezone": "UTC", "hours": {"mon": [["9am", "17:00"]]}}, "hours.mon[0]"),
        ({"timezone": "UTC", "hours": {"mon": [["09:00"]]}}, "hours.mon[0]"),
        ({"timezone": "UTC", "hours": {}}, "hours"),
        (
            {"timezone": "UTC", "hours": {"mon": [["09:00", "17:00"]]}, "holidays": ["soon"]},
            "holidays[0]",
        ),
    ],
)
def test_from_json_names_the_bad_field(document: dict[str, object], field: str) -> None:
    with pytest.raises(FieldError) as caught:
        Calendar.from_json(document)
    assert caught.value.field_path == field


ICAL = """BEGIN:VCALENDAR
VERSION:2.0
BEGIN:VEVENT
SUMMARY:Christmas
DTSTART;VALUE=DATE:20261224
DTEND;VALUE=DATE:20261227
END:VEVENT
BEGIN:VEVENT
SUMMARY:New Year
DTSTART;VALUE=DATE:20270101
RRULE:FREQ=YEARLY;COUNT=3
END:VEVENT
BEGIN:VEVENT
SUMMARY:Offsite
DTSTART:20260610T080000Z
DTEND:20260611T120000Z
END:VEVENT
END:VCALENDAR
"""


def test_it_reads_holidays_from_an_icalendar_file() -> None:
    assert holidays_from_ical(ICAL) == [
        date(2026, 6, 10),
        date(2026, 6, 11),
        date(2026, 12, 24),
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2027, 1, 1),
        date(2028, 1, 1),
        date(2029, 1, 1),
    ]


def test_an_open_ended_yearly_rule_is_expanded_ten_years() -> None:
    text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20260501\nRRULE:FREQ=YEARLY\n"
    text += "END:VEVENT\nEND:VCALENDAR\n"
    days = holidays_from_ical(text)
    assert days[0] == date(2026, 5, 1) and days[-1] == date(2036, 5, 1) and len(days) == 11


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("hello world", "not an iCalendar"),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\nEND:VEVENT\nEND:VCALENDAR", "no DTSTART"),
        (
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:tomorrow\nEND:VEVENT\nEND:VCALENDAR",
            "is not a date",
        ),
        (
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260101\nRRULE:FREQ=WEEKLY\nEND:VEVENT\n"
            "END:VCALENDAR",
            "FREQ=YEARLY",
        ),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260101\n", "END:VEVENT"),
    ],
)
def test_it_rejects_a_broken_icalendar_file_with_a_reason(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        holidays_from_ical(text)
