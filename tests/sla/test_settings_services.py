"""The services behind the SLA settings pages: deleting a calendar only when no policy counts
in it, holidays added as ranges and removed, policies moved in the order and deleted."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from patron.core.errors import InvalidInput
from patron.sla import services
from patron.sla.models import BusinessCalendar, Holiday, SlaPolicy

pytestmark = pytest.mark.django_db


def calendar(name: str = "Jakarta office") -> BusinessCalendar:
    return services.save_calendar(
        None, {"name": name, "timezone": "Asia/Jakarta", "hours": {"monday": [["09:00", "17:00"]]}}
    )


def policy(name: str, now: datetime, *, calendar: BusinessCalendar | None = None) -> SlaPolicy:
    measure = "business" if calendar is not None else "calendar"
    return services.save_policy(
        None,
        {
            "name": name,
            "calendar": calendar,
            "metrics": {"first_reply": {"measure": measure, "targets": {"normal": 60}}},
        },
        now=now,
    )


def names_in_order() -> list[str]:
    return list(SlaPolicy.objects.order_by("position", "id").values_list("name", flat=True))


def test_an_unused_calendar_is_deleted_with_its_holidays() -> None:
    row = calendar()
    services.add_holiday_range(row, date(2026, 12, 25))

    services.delete_calendar(row)

    assert not BusinessCalendar.objects.exists()
    assert not Holiday.objects.exists()


def test_a_calendar_in_use_is_kept_and_the_refusal_names_every_policy_using_it(
    now: datetime,
) -> None:
    row = calendar()
    policy("Gold clients", now, calendar=row)
    policy("Silver clients", now, calendar=row)
    policy("Customers", now)

    with pytest.raises(InvalidInput, match="policies Gold clients and Silver clients"):
        services.delete_calendar(row)

    assert BusinessCalendar.objects.filter(pk=row.pk).exists()


def test_a_holiday_range_adds_every_day_through_the_last_with_its_name() -> None:
    row = calendar()

    added = services.add_holiday_range(
        row, date(2026, 12, 24), date(2026, 12, 26), name="  Christmas   break "
    )

    assert added == 3
    assert list(row.holidays.values_list("date", "name")) == [
        (date(2026, 12, 24), "Christmas break"),
        (date(2026, 12, 25), "Christmas break"),
        (date(2026, 12, 26), "Christmas break"),
    ]


def test_a_range_over_days_already_there_adds_only_the_new_ones_and_keeps_their_names() -> None:
    row = calendar()
    services.add_holiday_range(row, date(2026, 12, 25), name="Christmas")

    added = services.add_holiday_range(row, date(2026, 12, 24), date(2026, 12, 26), name="Break")

    assert added == 2
    assert row.holidays.get(date=date(2026, 12, 25)).name == "Christmas"


def test_a_range_that_ends_before_it_starts_is_refused_at_the_last_day() -> None:
    with pytest.raises(InvalidInput, match=r"^Last day: 2026-12-20 is before the first day"):
        services.add_holiday_range(calendar(), date(2026, 12, 24), date(2026, 12, 20))


def test_a_range_longer_than_a_year_is_refused_as_a_likely_typo() -> None:
    row = calendar()

    with pytest.raises(InvalidInput, match="more than a year"):
        services.add_holiday_range(row, date(2026, 12, 24), date(2027, 12, 25))

    assert not row.holidays.exists()


def test_removing_holidays_touches_only_that_calendars_days() -> None:
    jakarta, berlin = calendar(), calendar("Berlin office")
    services.add_holiday_range(jakarta, date(2026, 12, 25))
    services.add_holiday_range(berlin, date(2026, 12, 25))
    theirs = berlin.holidays.get()

    removed = services.remove_holidays(
        jakarta, [*jakarta.holidays.values_list("pk", flat=True), theirs.pk]
    )

    assert removed == 1
    assert not jakarta.holidays.exists()
    assert berlin.holidays.filter(pk=theirs.pk).exists()


def test_moving_a_policy_up_puts_it_before_the_one_it_followed(now: datetime) -> None:
    for name in ("Gold", "Silver", "Customers"):
        policy(name, now)

    services.move_policy(SlaPolicy.objects.get(name="Customers"), by=-1)

    assert names_in_order() == ["Gold", "Customers", "Silver"]


def test_moving_the_first_policy_up_or_the_last_down_changes_nothing(now: datetime) -> None:
    for name in ("Gold", "Silver"):
        policy(name, now)

    services.move_policy(SlaPolicy.objects.get(name="Gold"), by=-1)
    services.move_policy(SlaPolicy.objects.get(name="Silver"), by=1)

    assert names_in_order() == ["Gold", "Silver"]


def test_a_deleted_policy_leaves_the_others_in_their_order(now: datetime) -> None:
    for name in ("Gold", "Silver", "Customers"):
        policy(name, now)

    services.delete_policy(SlaPolicy.objects.get(name="Silver"))

    assert names_in_order() == ["Gold", "Customers"]
