"""What admins type for targets, warning lead times and opening hours, read and shown back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.sla.calendar import Calendar
from patron.sla.durations import (
    format_duration,
    format_durations,
    format_intervals,
    parse_duration,
    parse_durations,
    parse_intervals,
)

A_YEAR_OF_MINUTES = 366 * 24 * 60


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("90", 90),
        ("90m", 90),
        ("45 min", 45),
        ("1h 30m", 90),
        ("1h30m", 90),
        ("1h30", 90),
        ("1 hour 30 minutes", 90),
        ("2d", 2880),
        ("2 days", 2880),
        ("1d 2h 3m", 1440 + 120 + 3),
        (" 8H ", 480),
    ],
)
def test_it_reads_minutes_and_the_hour_and_day_forms(text: str, minutes: int) -> None:
    assert parse_duration(text) == minutes


def test_a_blank_duration_is_no_target() -> None:
    assert parse_duration("  ") is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("1.5h", "is not a duration"),
        ("soon", "is not a duration"),
        ("3w", "'w' is not a unit"),
        ("1h 2h", "gives the hours twice"),
        ("2d 4", "say what 4 counts"),
        ("-5", "is not a duration"),
    ],
)
def test_it_refuses_what_is_not_a_duration_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_duration(text)


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(0, "0m"), (45, "45m"), (60, "1h"), (90, "1h 30m"), (1440, "1d"), (1530, "1d 1h 30m")],
)
def test_it_shows_minutes_in_the_shortest_readable_form(minutes: int, text: str) -> None:
    assert format_duration(minutes) == text


def test_a_fraction_of_a_minute_is_shown_in_minutes() -> None:
    assert format_duration(0.5) == "0.5m"
    assert format_duration(60.0) == "1h"


@given(st.integers(min_value=0, max_value=A_YEAR_OF_MINUTES))
def test_what_it_shows_reads_back_as_the_same_minutes(minutes: int) -> None:
    assert parse_duration(format_duration(minutes)) == minutes


def test_warning_lead_times_are_a_list_in_the_order_given() -> None:
    assert parse_durations("30, 10") == [30, 10]
    assert parse_durations("1h, 15m,") == [60, 15]
    assert parse_durations("") == []
    assert format_durations([60, 15]) == "1h, 15m"


def test_a_bad_lead_time_in_the_list_is_named() -> None:
    with pytest.raises(ValueError, match="'ten' is not a duration"):
        parse_durations("30, ten")


def test_a_day_with_a_lunch_break_reads_as_two_intervals() -> None:
    assert parse_intervals("09:00-12:00, 13:00-17:00") == [["09:00", "12:00"], ["13:00", "17:00"]]


@pytest.mark.parametrize(
    ("text", "intervals"),
    [
        ("9-17", [["09:00", "17:00"]]),
        ("9:30 to 17:45", [["09:30", "17:45"]]),
        ("08.00 \u2013 16.00", [["08:00", "16:00"]]),
        ("22:00-02:00", [["22:00", "02:00"]]),
        ("00:00-24:00", [["00:00", "24:00"]]),
        ("", []),
    ],
)
def test_it_reads_the_usual_ways_of_writing_hours(text: str, intervals: list[list[str]]) -> None:
    assert parse_intervals(text) == intervals


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("9am-5pm", "is not an interval"),
        ("09:00", "is not an interval"),
        ("25:00-26:00", "is not a time of day"),
        ("09:75-10:00", "is not a time of day"),
        ("24:00-02:00", "24:00 can only end an interval"),
        ("10:00-10:00", "opens and closes at the same time"),
    ],
)
def test_it_refuses_hours_it_cannot_read_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_intervals(text)


def interval(hour: int, minute: int, length: int) -> list[str]:
    """An interval of `length` hours from hour:minute, ending at 24:00 at the latest."""
    end = "24:00" if hour + length >= 24 else f"{hour + length:02d}:{minute:02d}"
    return [f"{hour:02d}:{minute:02d}", end]


@given(st.lists(st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(1, 24)), max_size=4))
def test_stored_hours_shown_as_text_read_back_the_same_and_the_calendar_accepts_them(
    pieces: list[tuple[int, int, int]],
) -> None:
    intervals = [interval(*piece) for piece in pieces]

    assert parse_intervals(format_intervals(intervals)) == intervals
    Calendar.from_json(
        {"timezone": "Asia/Jakarta", "hours": {"monday": intervals}, "always_open": not intervals}
    )
