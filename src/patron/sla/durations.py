"""Time as admins type it on the SLA settings pages, and back: durations ("90", "1h 30m",
"2d"), lists of them ("30, 10") and a day's opening hours ("09:00-12:00, 13:00-17:00").

Plain functions without Django; a mistake is a ValueError with a sentence the form shows
next to the field. A day is 24 hours: in a business-time metric "1d" is 24 *business* hours,
so targets shown back are in days only when they are whole multiples of 24 hours.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "format_duration",
    "format_durations",
    "format_intervals",
    "parse_duration",
    "parse_durations",
    "parse_intervals",
]

MINUTES_PER_HOUR = 60
MINUTES_PER_DAY = 24 * MINUTES_PER_HOUR
UNITS = {
    "d": MINUTES_PER_DAY,
    "day": MINUTES_PER_DAY,
    "days": MINUTES_PER_DAY,
    "h": MINUTES_PER_HOUR,
    "hr": MINUTES_PER_HOUR,
    "hrs": MINUTES_PER_HOUR,
    "hour": MINUTES_PER_HOUR,
    "hours": MINUTES_PER_HOUR,
    "m": 1,
    "min": 1,
    "mins": 1,
    "minute": 1,
    "minutes": 1,
}
UNIT_NAMES = {MINUTES_PER_DAY: "days", MINUTES_PER_HOUR: "hours", 1: "minutes"}
_PART = re.compile(r"(\d+)\s*([a-z]*)")
_DURATION = re.compile(r"^(?:\d+\s*[a-z]*\s*)+$")
DURATION_HINT = "use minutes (90) or a form like 1h 30m, 45m or 2d"

_CLOCK = r"(\d{1,2})(?:[:.](\d{2}))?"
_INTERVAL = re.compile(rf"^{_CLOCK}\s*(?:-|\u2013|\u2014|to)\s*{_CLOCK}$")  # hyphen, en or em dash
HOURS_PER_DAY = 24
INTERVAL_HINT = 'write intervals like "09:00-17:00", several separated by commas'


def parse_duration(text: str) -> int | None:
    """Minutes in `text`; None when it is blank (no target). "90", "90m", "1h 30m", "1h30",
    "2d 4h"; a bare number after hours is minutes ("1h30")."""
    cleaned = text.strip().lower().replace(",", " ")
    if not cleaned:
        return None
    if not _DURATION.match(cleaned):
        raise ValueError(f"{text.strip()!r} is not a duration: {DURATION_HINT}")
    total = 0
    seen: set[int] = set()
    parts = _PART.findall(cleaned)
    for index, (number, unit) in enumerate(parts):
        if not unit:
            # "90" is minutes; so is the 30 of "1h30", but "1h 2" alone after days is unclear.
            if index > 0 and parts[index - 1][1] not in ("h", "hr", "hrs", "hour", "hours"):
                raise ValueError(f"{text.strip()!r}: say what {number} counts ({DURATION_HINT})")
            unit = "m"
        size = UNITS.get(unit)
        if size is None:
            raise ValueError(f"{text.strip()!r}: {unit!r} is not a unit (d, h or m)")
        if size in seen:
            raise ValueError(f"{text.strip()!r} gives the {UNIT_NAMES[size]} twice")
        seen.add(size)
        total += int(number) * size
    return total


def format_duration(minutes: float) -> str:
    """`minutes` as the shortest of "2d", "1h 30m", "45m"; parse_duration reads it back."""
    if minutes != int(minutes) or minutes < 0:
        return f"{minutes:g}m"
    whole = int(minutes)
    if whole == 0:
        return "0m"
    days, rest = divmod(whole, MINUTES_PER_DAY)
    hours, mins = divmod(rest, MINUTES_PER_HOUR)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours else []
    parts += [f"{mins}m"] if mins else []
    return " ".join(parts)


def parse_durations(text: str) -> list[int]:
    """A comma-separated list of durations ("30, 10", "1h, 15m"), in the order given."""
    found = []
    for part in text.split(","):
        minutes = parse_duration(part)
        if minutes is not None:
            found.append(minutes)
    return found


def format_durations(minutes: Sequence[float]) -> str:
    return ", ".join(format_duration(amount) for amount in minutes)


def parse_intervals(text: str) -> list[list[str]]:
    """A day's opening hours, "09:00-12:00, 13:00-17:00", as [["09:00", "12:00"], …]; blank
    is a closed day. "9-17" and "9:00 to 17:00" are read too; "24:00" ends a day, and an end
    at or before its start runs past midnight (as the calendar reads it)."""
    intervals = []
    for part in text.split(","):
        piece = part.strip()
        if not piece:
            continue
        match = _INTERVAL.match(piece)
        if match is None:
            raise ValueError(f"{piece!r} is not an interval: {INTERVAL_HINT}")
        start = _clock(match[1], match[2], piece, end=False)
        end = _clock(match[3], match[4], piece, end=True)
        if start == end and start != "00:00":
            raise ValueError(f"{piece!r} opens and closes at the same time")
        intervals.append([start, end])
    return intervals


def _clock(hour_text: str, minute_text: str | None, piece: str, *, end: bool) -> str:
    hour, minute = int(hour_text), int(minute_text or 0)
    if hour == HOURS_PER_DAY and minute == 0:
        if not end:
            raise ValueError(f"{piece!r}: 24:00 can only end an interval")
    elif hour >= HOURS_PER_DAY or minute >= MINUTES_PER_HOUR:
        raise ValueError(f"{piece!r}: {hour_text}:{minute_text or '00'} is not a time of day")
    return f"{hour:02d}:{minute:02d}"


def format_intervals(intervals: Sequence[Sequence[str]]) -> str:
    """Stored intervals as the text parse_intervals reads: "09:00-12:00, 13:00-17:00"."""
    return ", ".join(f"{start}-{end}" for start, end in intervals)
