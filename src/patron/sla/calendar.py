"""Business calendars: a time zone, weekly opening hours, holidays, or 24/7, and the arithmetic
of counted minutes over them ("add N business minutes", "business minutes between a and b").

A real instant counts when its local wall time lies in the opening hours of its local date and
that date is no holiday. The arithmetic walks real time, not wall time: skipped DST times never
count, repeated ones count twice. It works on integer microseconds since the Unix epoch and on
cached intervals per day, never minute by minute (docs/sla.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "WEEKDAYS",
    "Calendar",
    "FieldError",
    "from_micros",
    "holidays_from_ical",
    "micros_from_minutes",
    "minutes_from_micros",
    "to_micros",
]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MICROS_PER_SECOND = 1_000_000
MICROS_PER_MINUTE = 60 * MICROS_PER_SECOND
MICROS_PER_DAY = 86_400 * MICROS_PER_SECOND
SECONDS_PER_DAY = 86_400
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# How far `add` and `next_open` look for an open minute before saying the calendar never opens.
SEARCH_DAYS = 3_660
# UTC offsets are sampled this often when looking for a DST transition (no zone has two
# transitions within six hours).
OFFSET_PROBE_MICROS = 6 * 3_600 * MICROS_PER_SECOND
HOLIDAY_NAME_LENGTH = 200  # Holiday.name
ICAL_RECURRENCE_YEARS = 10


class FieldError(ValueError):
    """Bad input, naming the field it is about (`calendar.hours.monday[0]`)."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field_path = field_path
        self.message = message

    def within(self, parent: str) -> FieldError:
        joined = (
            f"{parent}{self.field_path}"
            if self.field_path.startswith("[")
            else (f"{parent}.{self.field_path}")
        )
        return FieldError(joined, self.message)


# --- instants as integer microseconds ------------------------------------------------------


def to_micros(instant: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(
            f"{instant.isoformat()} has no time zone; SLA arithmetic needs aware times"
        )
    return (instant - EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(0, 0, micros)  # positional: much faster than microseconds=…


def minutes_from_micros(micros: int) -> float:
    """Minutes, as an int when whole (so JSON shows 90, not 90.0)."""
    whole, rest = divmod(micros, MICROS_PER_MINUTE)
    return whole if rest == 0 else micros / MICROS_PER_MINUTE


def micros_from_minutes(minutes: float) -> int:
    return round(minutes * MICROS_PER_MINUTE)


def _day(micros: int) -> int:
    """The UTC day number (days since 1970-01-01) an instant falls in."""
    return micros // MICROS_PER_DAY


# --- the calendar --------------------------------------------------------------------------

Interval = tuple[int, int]


class _Memo:
    """Per-calendar caches: the zone, the weekly table, and open intervals per day."""

    def __init__(self) -> None:
        self.zone: ZoneInfo = ZoneInfo("UTC")
        self.week: tuple[tuple[Interval, ...], ...] = ((),) * 7  # seconds of day, per weekday
        self.local: dict[int, tuple[Interval, ...]] = {}
        self.utc: dict[int, tuple[Interval, ...]] = {}


@dataclass(frozen=True)
class Calendar:
    """Opening hours per weekday (Monday = 0) in `timezone`, minus `holidays`; or 24/7.

    Each interval is `(start, end)`, end exclusive; an end at or before its start runs past
    midnight into the next day, so `(time(22), time(2))` is 22:00-02:00 and an end of
    `time(0)` is 24:00. The minutes after midnight belong to the next date (a holiday there
    closes them).
    """

    timezone: str
    hours: tuple[tuple[tuple[time, time], ...], ...]
    holidays: frozenset[date] = frozenset()
    always_open: bool = False
    name: str = ""
    _memo: _Memo = field(default_factory=_Memo, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            self._memo.zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise FieldError("timezone", f"{self.timezone!r} is not an IANA time zone") from None
        if len(self.hours) != len(WEEKDAYS):
            raise FieldError("hours", f"needs 7 weekdays (Monday first), got {len(self.hours)}")
        self._memo.week = _weekly_table(self.hours)
        if not self.always_open and not any(self._memo.week):
            raise FieldError(
                "hours", "no opening hours on any day; say always_open for a 24/7 calendar"
            )

    @classmethod
    def always(cls, name: str = "24/7") -> Calendar:
        """Every real minute counts (calendar time)."""
        return cls(timezone="UTC", hours=((),) * 7, always_open=True, name=name)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Calendar:
        """The replay format (docs/sla.md); a FieldError names the bad field."""
        return _calendar_from_json(obj)

    # -- the public arithmetic, on datetimes --

    def add(self, start: datetime, minutes: float) -> datetime:
        """The earliest instant at which the counted minutes from `start` reach `minutes`."""
        if minutes < 0:
            raise ValueError(f"cannot add a negative number of minutes ({minutes})")
        return from_micros(self.add_micros(to_micros(start), micros_from_minutes(minutes)))

    def between(self, a: datetime, b: datetime) -> float:
        """Counted minutes in [a, b); 0 when b is not after a."""
        return minutes_from_micros(self.between_micros(to_micros(a), to_micros(b)))

    def is_open(self, instant: datetime) -> bool:
        if self.always_open:
            return True
        point = to_micros(instant)
        return any(lo <= point < hi for lo, hi in self._utc_day(_day(point)))

    def next_open(self, instant: datetime) -> datetime | None:
        """The start of the next counted stretch at or after `instant` (itself when open)."""
        if self.always_open:
            return instant
        point = to_micros(instant)
        for lo, hi in self._pieces_from(point):
            if hi > point:
                return from_micros(max(lo, point))
        return None

    # -- the same on microseconds, for the engine --

    def between_micros(self, a: int, b: int) -> int:
        if b <= a:
            return 0
        if self.always_open:
            return b - a
        total = 0
        for day in range(_day(a), _day(b - 1) + 1):
            for lo, hi in self._utc_day(day):
                if hi > a and lo < b:
                    total += min(hi, b) - max(lo, a)
        return total

    def add_micros(self, start: int, amount: int) -> int:
        if amount <= 0 or self.always_open:
            return start + max(amount, 0)
        left = amount
        for lo, hi in self._pieces_from(start):
            if hi <= start:
                continue
            lo = max(lo, start)
            if left <= hi - lo:
                return lo + left
            left -= hi - lo
        raise ValueError(
            f"calendar {self.name or self.timezone} has no open minute within {SEARCH_DAYS} days"
        )

    def _pieces_from(self, start: int) -> Iterator[Interval]:
        first = _day(start)
        for day in range(first, first + SEARCH_DAYS + 1):
            yield from self._utc_day(day)

    # -- open intervals, cached per UTC day and per local date --

    def _utc_day(self, day: int) -> tuple[Interval, ...]:
        cached = self._memo.utc.get(day)
        if cached is not None:
            return cached
        lo_day, hi_day = day * MICROS_PER_DAY, (day + 1) * MICROS_PER_DAY
        pieces: list[Interval] = []
        # Any instant of UTC day `day` has a local date within a day of it (offsets < 24 h).
        for ordinal in (day + EPOCH_ORDINAL - 1, day + EPOCH_ORDINAL, day + EPOCH_ORDINAL + 1):
            for lo, hi in self._local_date(ordinal):
                if hi > lo_day and lo < hi_day:
                    pieces.append((max(lo, lo_day), min(hi, hi_day)))
        result = tuple(sorted(pieces))
        self._memo.utc[day] = result
        return result

    def _local_date(self, ordinal: int) -> tuple[Interval, ...]:
        """The real-time intervals whose local wall time lies in this date's opening hours."""
        cached = self._memo.local.get(ordinal)
        if cached is not None:
            return cached
        local_date = date.fromordinal(ordinal)
        result: tuple[Interval, ...] = ()
        intervals = self._memo.week[local_date.weekday()]
        if intervals and local_date not in self.holidays:
            wall_start = (ordinal - EPOCH_ORDINAL) * MICROS_PER_DAY  # the wall clock's midnight
            segments = self._offset_segments(
                wall_start - MICROS_PER_DAY, wall_start + 2 * MICROS_PER_DAY
            )
            pieces = []
            for start_s, end_s in intervals:
                wall_lo = wall_start + start_s * MICROS_PER_SECOND
                wall_hi = wall_start + end_s * MICROS_PER_SECOND
                for seg_lo, seg_hi, offset in segments:
                    lo, hi = max(seg_lo, wall_lo - offset), min(seg_hi, wall_hi - offset)
                    if lo < hi:
                        pieces.append((lo, hi))
            result = tuple(sorted(pieces))
        self._memo.local[ordinal] = result
        return result

    def _offset(self, micros: int) -> int:
        offset = from_micros(micros).astimezone(self._memo.zone).utcoffset()
        assert offset is not None
        return offset // timedelta(microseconds=1)

    def _offset_segments(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """[(from, to, UTC offset)] covering [start, end), split at each transition."""
        segments: list[tuple[int, int, int]] = []
        seg_start, current = start, self._offset(start)
        probe = start
        while probe < end:
            nxt = min(probe + OFFSET_PROBE_MICROS, end)
            offset = self._offset(nxt)
            if offset != current:
                # Bisect to the second: the first instant with the new offset.
                lo, hi = probe // MICROS_PER_SECOND, -(-nxt // MICROS_PER_SECOND)
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if self._offset(mid * MICROS_PER_SECOND) == current:
                        lo = mid
                    else:
                        hi = mid
                change = hi * MICROS_PER_SECOND
                segments.append((seg_start, change, current))
                seg_start, current = change, self._offset(change)
            probe = nxt
        segments.append((seg_start, end, current))
        return segments


def _weekly_table(
    hours: Sequence[Sequence[tuple[time, time]]],
) -> tuple[tuple[Interval, ...], ...]:
    """Seconds-of-day intervals per weekday, merged, with overnight intervals split at midnight."""
    days: list[list[Interval]] = [[] for _ in WEEKDAYS]
    for weekday, intervals in enumerate(hours):
        for index, pair in enumerate(intervals):
            try:
                start, end = pair
            except (TypeError, ValueError):
                raise FieldError(
                    f"hours[{weekday}][{index}]", "is not a (start, end) pair"
                ) from None
            if not isinstance(start, time) or not isinstance(end, time):
                raise FieldError(f"hours[{weekday}][{index}]", "start and end must be times")
            start_s, end_s = _seconds_of_day(start), _seconds_of_day(end)
            if end_s > start_s:
                days[weekday].append((start_s, end_s))
            else:  # past midnight: the rest of this day, then the next day up to `end`
                days[weekday].append((start_s, SECONDS_PER_DAY))
                if end_s > 0:
                    days[(weekday + 1) % 7].append((0, end_s))
    return tuple(tuple(_merge(day)) for day in days)


def _seconds_of_day(moment: time) -> int:
    return moment.hour * 3_600 + moment.minute * 60 + moment.second


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


# --- the JSON form -------------------------------------------------------------------------

_WEEKDAY_KEYS = {
    **{name: index for index, name in enumerate(WEEKDAYS)},
    **{name[:3]: index for index, name in enumerate(WEEKDAYS)},
    **{str(index): index for index in range(7)},
}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _calendar_from_json(obj: Mapping[str, Any]) -> Calendar:
    if not isinstance(obj, Mapping):
        raise FieldError("calendar", "must be an object")
    always_open = obj.get("always_open", False)
    if not isinstance(always_open, bool):
        raise FieldError("always_open", "must be true or false")
    timezone = obj.get("timezone", "UTC" if always_open else None)
    if not isinstance(timezone, str) or not timezone:
        raise FieldError("timezone", "is required: an IANA name such as Europe/Berlin")
    name = obj.get("name", "")
    if not isinstance(name, str):
        raise FieldError("name", "must be a string")
    hours = _hours_from_json(obj.get("hours", {}))
    holidays = _holidays_from_json(obj.get("holidays", []))
    if not always_open and not any(hours):
        raise FieldError("hours", 'no opening hours on any day; say "always_open": true for 24/7')
    return Calendar(
        timezone=timezone,
        hours=hours,
        holidays=holidays,
        always_open=always_open,
        name=name,
    )


def _hours_from_json(value: Any) -> tuple[tuple[tuple[time, time], ...], ...]:
    if not isinstance(value, Mapping):
        raise FieldError(
            "hours", 'must be an object keyed by weekday ("monday": [["09:00", "17:00"]])'
        )
    days: list[tuple[tuple[time, time], ...]] = [() for _ in WEEKDAYS]
    seen: dict[int, str] = {}
    for key, intervals in value.items():
        weekday = _WEEKDAY_KEYS.get(str(key).strip().lower())
        if weekday is None:
            raise FieldError(f"hours.{key}", "is not a weekday (monday…sunday, mon…sun or 0-6)")
        if weekday in seen:
            raise FieldError(f"hours.{key}", f"repeats {seen[weekday]}")
        seen[weekday] = str(key)
        if not isinstance(intervals, list):
            raise FieldError(f"hours.{key}", 'must be a list of ["HH:MM", "HH:MM"] pairs')
        pairs = []
        for index, pair in enumerate(intervals):
            where = f"hours.{key}[{index}]"
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise FieldError(where, f'{pair!r} is not a ["HH:MM", "HH:MM"] pair')
            start, end = _time(pair[0], where, end=False), _time(pair[1], where, end=True)
            if start == end and start != time(0):
                raise FieldError(where, "opens and closes at the same time")
            pairs.append((start, end))
        days[weekday] = tuple(pairs)
    return tuple(days)


def _time(value: Any, where: str, *, end: bool) -> time:
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise FieldError(where, f'{value!r} is not a time of day like "09:00"')
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour == 24 and minute == 0 and second == 0:
        if not end:
            raise FieldError(where, "24:00 can only end an interval")
        return time(0)  # an end at midnight is the end of the day
    if hour > 23 or minute > 59 or second > 59:
        raise FieldError(where, f"{value!r} is not a time of day")
    return time(hour, minute, second)


def _holidays_from_json(value: Any) -> frozenset[date]:
    if not isinstance(value, list):
        raise FieldError("holidays", 'must be a list of ISO dates or ["first", "last"] ranges')
    days: set[date] = set()
    for index, item in enumerate(value):
        where = f"holidays[{index}]"
        if isinstance(item, str):
            days.add(_iso_date(item, where))
        elif isinstance(item, list) and len(item) == 2:
            first, last = _iso_date(item[0], where), _iso_date(item[1], where)
            if last < first:
                raise FieldError(where, "ends before it starts")
            days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
        else:
            raise FieldError(where, f"{item!r} is not an ISO date or a [first, last] range")
    return frozenset(days)


def _iso_date(value: Any, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise FieldError(where, f'{value!r} is not an ISO date like "2026-12-25"') from None


# --- iCalendar holidays --------------------------------------------------------------------

_ICAL_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z?)?$")


def holidays_from_ical(text: str, *, years: int = ICAL_RECURRENCE_YEARS) -> list[date]:
    """The dates an iCalendar file's events cover, sorted (`named_holidays_from_ical`)."""
    return sorted(named_holidays_from_ical(text, years=years))


def named_holidays_from_ical(text: str, *, years: int = ICAL_RECURRENCE_YEARS) -> dict[date, str]:
    """The dates an iCalendar file's events cover, each with its event's SUMMARY (the first
    event's, where two cover one date; "" where it has none), in date order.

    DTSTART/DTEND as DATE or DATE-TIME (DTEND exclusive; a DATE-TIME event covers each date it
    touches), DURATION in days, RRULE FREQ=YEARLY with INTERVAL/COUNT/UNTIL (open-ended rules
    are expanded `years` ahead), EXDATE. Anything else raises a ValueError naming the line.
    """
    lines = _unfold(text)
    if not any(line.upper() == "BEGIN:VCALENDAR" for line in lines):
        raise ValueError("not an iCalendar file: no BEGIN:VCALENDAR line")
    days: dict[date, str] = {}
    event: dict[str, tuple[str, str]] | None = None
    exdates: list[tuple[str, str]] = []
    for number, line in enumerate(lines, start=1):
        upper = line.upper()
        if upper == "BEGIN:VEVENT":
            event, exdates = {}, []
        elif upper == "END:VEVENT":
            if event is None:
                raise ValueError(f"line {number}: END:VEVENT without BEGIN:VEVENT")
            summary = _ical_text(event.get("SUMMARY", ("", ""))[1])
            for day in _event_dates(event, exdates, number, years):
                days.setdefault(day, summary)
            event = None
        elif event is not None and ":" in line:
            head, value = line.split(":", 1)
            name, _, params = head.partition(";")
            if name.upper() == "EXDATE":
                exdates.extend((params, part) for part in value.split(","))
            else:
                event[name.upper()] = (params, value.strip())
    if event is not None:
        raise ValueError("the last VEVENT has no END:VEVENT")
    return dict(sorted(days.items()))


def _ical_text(value: str) -> str:
    """A TEXT value unescaped (RFC 5545 3.3.11), on one line, as long as a holiday's name."""
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append(" " if following in "nN" else following)
        else:
            out.append(char)
    return " ".join("".join(out).split())[:HOLIDAY_NAME_LENGTH]


def _unfold(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw.strip():
            lines.append(raw.strip())
    return lines


def _ical_instant(value: str, number: int, name: str) -> tuple[date, bool]:
    """The date of a DATE or DATE-TIME value, and whether it had a time after midnight."""
    match = _ICAL_DATE.match(value.strip())
    if match is None:
        raise ValueError(f"VEVENT ending on line {number}: {name} {value!r} is not a date")
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise ValueError(
            f"VEVENT ending on line {number}: {name} {value!r} is not a date"
        ) from None
    has_time = match[4] is not None and (match[4], match[5], match[6]) != ("00", "00", "00")
    return day, has_time


def _event_dates(
    event: Mapping[str, tuple[str, str]],
    exdates: Sequence[tuple[str, str]],
    number: int,
    years: int,
) -> set[date]:
    if "DTSTART" not in event:
        raise ValueError(f"VEVENT ending on line {number} has no DTSTART")
    first, _ = _ical_instant(event["DTSTART"][1], number, "DTSTART")
    length = 1
    if "DTEND" in event:
        end, end_has_time = _ical_instant(event["DTEND"][1], number, "DTEND")
        length = max(1, (end - first).days + (1 if end_has_time else 0))
    elif "DURATION" in event:
        duration = re.match(r"^P(\d+)D$", event["DURATION"][1].strip().upper())
        if duration is None:
            raise ValueError(f"VEVENT ending on line {number}: only DURATION:P<n>D is supported")
        length = max(1, int(duration[1]))
    starts = [first]
    if "RRULE" in event:
        starts = _yearly(first, event["RRULE"][1], number, years)
    excluded = {_ical_instant(value, number, "EXDATE")[0] for _, value in exdates if value.strip()}
    return {
        start + timedelta(days=offset)
        for start in starts
        if start not in excluded
        for offset in range(length)
    }


def _yearly(first: date, rule: str, number: int, years: int) -> list[date]:
    parts = {}
    for part in rule.split(";"):
        key, _, value = part.partition("=")
        parts[key.strip().upper()] = value.strip().upper()
    if parts.get("FREQ") != "YEARLY":
        raise ValueError(
            f"VEVENT ending on line {number}: RRULE {rule!r} is not supported (only FREQ=YEARLY)"
        )
    unsupported = set(parts) - {"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST"}
    if unsupported:
        raise ValueError(
            f"VEVENT ending on line {number}: RRULE part {sorted(unsupported)[0]} is not supported"
        )
    try:
        interval = int(parts.get("INTERVAL", "1"))
        count = int(parts["COUNT"]) if "COUNT" in parts else None
    except ValueError:
        raise ValueError(
            f"VEVENT ending on line {number}: RRULE {rule!r} has a bad number"
        ) from None
    if interval < 1:
        raise ValueError(f"VEVENT ending on line {number}: RRULE INTERVAL must be at least 1")
    until = _ical_instant(parts["UNTIL"], number, "UNTIL")[0] if "UNTIL" in parts else None
    starts: list[date] = []
    year = first.year
    while year <= first.year + (years if count is None and until is None else 1_000):
        if count is not None and len(starts) >= count:
            break
        try:
            candidate = first.replace(year=year)
        except ValueError:  # 29 February in a common year: RFC 5545 skips it
            candidate = None
        if candidate is not None:
            if until is not None and candidate > until:
                break
            starts.append(candidate)
        year += interval
    return starts
