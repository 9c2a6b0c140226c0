"""The SLA settings pages through Django's test client: business calendars with their hours
and holidays (typed, ranged, imported from iCalendar), and ordered SLA policies with their
rule, targets, warnings and pause rules; admins only, refusals shown next to the field."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from patron.people.models import Role
from patron.sla import services
from patron.sla.models import BusinessCalendar, SlaPolicy
from tests.admin_ui.test_views import condition_rows, logged_in, make_agent

pytestmark = pytest.mark.django_db

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
METRICS = ("first_reply", "next_reply", "periodic_update", "resolution")
PRIORITIES = ("low", "normal", "high", "urgent")
CHRISTMAS_ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    "BEGIN:VEVENT\r\nUID:x1\r\nDTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261227\r\n"
    "SUMMARY:Christmas\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:x2\r\nDTSTART;VALUE=DATE:20270101\r\nSUMMARY:New Year\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


@pytest.fixture
def admin() -> Client:
    return logged_in(make_agent(Role.ADMIN, username="ada"))


@pytest.fixture
def jakarta() -> BusinessCalendar:
    return services.save_calendar(
        None,
        {
            "name": "Jakarta office",
            "timezone": "Asia/Jakarta",
            "hours": {day: [["09:00", "17:00"]] for day in WEEKDAYS[:5]},
        },
    )


def calendar_data(**changes: str) -> dict[str, str]:
    data = {"name": "Jakarta office", "timezone": "Asia/Jakarta"}
    data |= {day: "09:00-12:00, 13:00-17:00" for day in WEEKDAYS[:5]}
    data |= {day: "" for day in WEEKDAYS[5:]}
    return data | changes


def policy_data(*rows: tuple[str, str, str], **changes: str) -> dict[str, str]:
    """A policy form as posted: every metric measured in calendar time with no target."""
    data: dict[str, str] = {"name": "Gold clients", "description": "", "active": "on"}
    data |= {"match": "all", "calendar": ""}
    for metric in (*METRICS, "agent_work", "requester_wait"):
        data[f"{metric}__measure"] = "calendar"
    for metric in METRICS:
        data[f"{metric}__warnings"] = ""
        data |= {f"{metric}__{priority}": "" for priority in PRIORITIES}
    return data | condition_rows(*rows) | changes


def make_policy(name: str, now: datetime, **values: Any) -> SlaPolicy:
    metrics = {"first_reply": {"measure": "calendar", "targets": {"normal": 60}}}
    return services.save_policy(None, {"name": name, "metrics": metrics} | values, now=now)


def policy_order() -> list[str]:
    return list(SlaPolicy.objects.order_by("position", "id").values_list("name", flat=True))


# Who may


SLA_PAGES = (
    "settings_sla_policies",
    "settings_sla_policy_create",
    "settings_sla_calendars",
    "settings_sla_calendar_create",
)


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR, Role.LIGHT_AGENT])
@pytest.mark.parametrize("name", SLA_PAGES)
def test_the_sla_pages_are_forbidden_to_everyone_but_admins(role: str, name: str) -> None:
    response = logged_in(make_agent(role)).get(reverse(name))

    assert response.status_code == 403
    assert "Only admins can change Patron" in response.content.decode()


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR])
def test_a_non_admin_cannot_change_a_policy_or_a_calendar_by_posting(
    role: str, jakarta: BusinessCalendar, now: datetime
) -> None:
    gold = make_policy("Gold", now)
    client = logged_in(make_agent(role))

    assert client.post(reverse("settings_sla_policy_delete", args=[gold.pk])).status_code == 403
    assert (
        client.post(reverse("settings_sla_calendar_delete", args=[jakarta.pk])).status_code == 403
    )
    assert SlaPolicy.objects.filter(pk=gold.pk).exists()
    assert BusinessCalendar.objects.filter(pk=jakarta.pk).exists()


@pytest.mark.parametrize("name", SLA_PAGES)
def test_each_sla_page_opens_for_an_admin_and_every_input_has_a_label(
    admin: Client, name: str
) -> None:
    response = admin.get(reverse(name))

    assert response.status_code == 200
    page = response.content.decode()
    for input_id in input_ids(page):
        assert f'for="{input_id}"' in page, input_id


def input_ids(page: str) -> list[str]:
    """The ids of the text inputs, selects and text areas (checkboxes sit inside their label)."""
    tags = re.findall(r"<(?:input|select|textarea)\b[^>]*>", page)
    return [
        match[1]
        for tag in tags
        if 'type="hidden"' not in tag and 'type="checkbox"' not in tag
        for match in [re.search(r'id="([^"]+)"', tag)]
        if match
    ]


def test_the_calendar_page_and_its_holiday_forms_label_each_input_once(
    admin: Client, jakarta: BusinessCalendar
) -> None:
    page = admin.get(reverse("settings_sla_calendar_edit", args=[jakarta.pk])).content.decode()
    ids = input_ids(page)

    assert len(ids) == len(set(ids))
    assert all(page.count(f'for="{input_id}"') == 1 for input_id in ids)


def test_the_settings_tabs_lead_to_the_sla_pages(admin: Client) -> None:
    page = admin.get(reverse("settings_agents")).content.decode()

    assert f'href="{reverse("settings_sla_policies")}"' in page
    assert f'href="{reverse("settings_sla_calendars")}"' in page


# Business calendars


def test_an_admin_creates_a_calendar_with_a_lunch_break_and_sees_it_as_typed(
    admin: Client,
) -> None:
    response = admin.post(reverse("settings_sla_calendar_create"), calendar_data())

    row = BusinessCalendar.objects.get(name="Jakarta office")
    assert response.status_code == 302
    assert response["Location"] == reverse("settings_sla_calendar_edit", args=[row.pk])
    assert row.timezone == "Asia/Jakarta" and not row.always_open
    assert row.hours == {day: [["09:00", "12:00"], ["13:00", "17:00"]] for day in WEEKDAYS[:5]}
    page = admin.get(response["Location"]).content.decode()
    assert 'value="09:00-12:00, 13:00-17:00"' in page
    listed = admin.get(reverse("settings_sla_calendars")).content.decode()
    assert "Monday-Friday 09:00-12:00, 13:00-17:00" in listed


def test_editing_a_calendar_changes_its_hours_and_a_closed_day_stays_closed(
    admin: Client, jakarta: BusinessCalendar
) -> None:
    response = admin.post(
        reverse("settings_sla_calendar_edit", args=[jakarta.pk]),
        calendar_data(friday="9-15", saturday="10:00 to 14:00"),
    )

    assert response.status_code == 302
    jakarta.refresh_from_db()
    assert jakarta.hours["friday"] == [["09:00", "15:00"]]
    assert jakarta.hours["saturday"] == [["10:00", "14:00"]]
    assert "sunday" not in jakarta.hours


def test_a_misspelt_time_zone_is_refused_next_to_the_field_with_a_suggestion(
    admin: Client,
) -> None:
    response = admin.post(
        reverse("settings_sla_calendar_create"), calendar_data(timezone="Asia/Jakata")
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_timezone_error"' in page
    assert "&#x27;Asia/Jakata&#x27; is not an IANA time zone" in page
    assert "Did you mean Asia/Jakarta?" in page
    assert 'value="Asia/Jakata"' in page  # what was typed stays
    assert 'value="09:00-12:00, 13:00-17:00"' in page
    assert not BusinessCalendar.objects.exists()


def test_a_city_typed_alone_is_answered_with_its_zone(admin: Client) -> None:
    response = admin.post(
        reverse("settings_sla_calendar_create"), calendar_data(timezone="Jakarta")
    )

    assert "Did you mean Asia/Jakarta?" in response.content.decode()


def test_hours_that_cannot_be_read_are_refused_on_their_day_keeping_the_rest(
    admin: Client,
) -> None:
    response = admin.post(
        reverse("settings_sla_calendar_create"), calendar_data(wednesday="9am-5pm")
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_wednesday_error"' in page and "is not an interval" in page
    assert 'value="9am-5pm"' in page
    assert not BusinessCalendar.objects.exists()


def test_a_calendar_without_hours_must_be_open_24_7(admin: Client) -> None:
    closed = {day: "" for day in WEEKDAYS}

    refused = admin.post(reverse("settings_sla_calendar_create"), calendar_data(**closed))
    accepted = admin.post(
        reverse("settings_sla_calendar_create"),
        calendar_data(**closed, name="Always", always_open="on"),
    )

    assert refused.status_code == 400
    assert "or tick Open 24/7" in refused.content.decode()
    assert accepted.status_code == 302
    assert BusinessCalendar.objects.get().always_open


def test_a_duplicate_calendar_name_is_refused_at_the_name(
    admin: Client, jakarta: BusinessCalendar
) -> None:
    response = admin.post(
        reverse("settings_sla_calendar_create"), calendar_data(name="jakarta office")
    )

    assert response.status_code == 400
    assert 'id="id_name_error"' in response.content.decode()
    assert BusinessCalendar.objects.count() == 1


def test_an_admin_adds_a_holiday_and_a_range_and_removes_one(
    admin: Client, jakarta: BusinessCalendar
) -> None:
    add = reverse("settings_sla_holiday_add", args=[jakarta.pk])

    admin.post(add, {"first": "2026-08-17", "last": "", "name": "Independence Day"})
    admin.post(add, {"first": "2026-12-24", "last": "2026-12-26", "name": "Christmas"})
    page = admin.get(reverse("settings_sla_calendar_edit", args=[jakarta.pk])).content.decode()
    removed = jakarta.holidays.get(date=date(2026, 12, 26))
    response = admin.post(
        reverse("settings_sla_holiday_remove", args=[jakarta.pk]), {"holiday": removed.pk}
    )

    assert "Mon 17 Aug 2026" in page and "Independence Day" in page
    assert response.status_code == 302
    assert list(jakarta.holidays.values_list("date", flat=True)) == [
        date(2026, 8, 17),
        date(2026, 12, 24),
        date(2026, 12, 25),
    ]


def test_a_range_ending_before_it_starts_is_refused_at_the_last_day(
    admin: Client, jakarta: BusinessCalendar
) -> None:
    response = admin.post(
        reverse("settings_sla_holiday_add", args=[jakarta.pk]),
        {"first": "2026-12-24", "last": "2026-12-20", "name": "Break"},
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_holiday_last_error"' in page and "is before the first day" in page
    assert 'value="Break"' in page
    assert not jakarta.holidays.exists()


def test_an_icalendar_upload_adds_every_day_its_events_cover(
    admin: Client, jakarta: BusinessCalendar
) -> None:
    upload = SimpleUploadedFile("holidays.ics", CHRISTMAS_ICS.encode(), "text/calendar")

    response = admin.post(
        reverse("settings_sla_holiday_import", args=[jakarta.pk]), {"file": upload}, follow=True
    )

    assert "Imported 3 new holidays from holidays.ics." in response.content.decode()
    assert list(jakarta.holidays.values_list("date", flat=True)) == [
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2027, 1, 1),
    ]


def test_a_file_that_is_not_icalendar_is_refused_at_the_upload(
    admin: Client, jakarta: BusinessCalendar
) -> None:
    upload = SimpleUploadedFile("holidays.ics", b"name,date\nChristmas,2026-12-25\n")

    response = admin.post(
        reverse("settings_sla_holiday_import", args=[jakarta.pk]), {"file": upload}
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_import_file_error"' in page and "could not be read as iCalendar" in page
    assert not jakarta.holidays.exists()


def test_a_calendar_in_use_is_not_deleted_and_the_page_says_by_which_policy(
    admin: Client, jakarta: BusinessCalendar, now: datetime
) -> None:
    make_policy("Gold clients", now, calendar=jakarta)

    response = admin.post(reverse("settings_sla_calendar_delete", args=[jakarta.pk]), follow=True)

    assert "is the calendar of the policy Gold clients" in response.content.decode()
    assert BusinessCalendar.objects.filter(pk=jakarta.pk).exists()


def test_an_unused_calendar_is_deleted(admin: Client, jakarta: BusinessCalendar) -> None:
    response = admin.post(reverse("settings_sla_calendar_delete", args=[jakarta.pk]))

    assert response.status_code == 302
    assert not BusinessCalendar.objects.exists()


# SLA policies


def test_an_admin_creates_a_policy_for_clients_in_business_hours(
    admin: Client, jakarta: BusinessCalendar
) -> None:
    response = admin.post(
        reverse("settings_sla_policy_create"),
        policy_data(
            ("relationship", "eq", "client"),
            calendar=str(jakarta.pk),
            first_reply__measure="business",
            first_reply__normal="60",
            first_reply__urgent="30m",
            first_reply__warnings="30, 10",
            resolution__measure="business",
            resolution__normal="1d 6h",
            resolution__pauses=["pending", "on_hold"],  # type: ignore[arg-type]
        ),
    )

    assert response.status_code == 302
    row = SlaPolicy.objects.get(name="Gold clients")
    assert row.rule == {"all": [{"field": "relationship", "op": "eq", "value": "client"}]}
    assert row.calendar == jakarta and row.active
    assert row.metrics["first_reply"] == {
        "measure": "business",
        "targets": {"normal": 60, "urgent": 30},
        "warning_minutes": [30, 10],
    }
    assert row.metrics["resolution"]["targets"] == {"normal": 1800}
    assert "next_reply" not in row.metrics  # no target, no clock
    assert row.pause_rules["resolution"] == ["pending", "on_hold"]
    assert "first_reply" not in row.pause_rules


def test_the_list_shows_each_policys_rule_in_words_and_its_targets(
    admin: Client, jakarta: BusinessCalendar, now: datetime
) -> None:
    make_policy(
        "Gold clients",
        now,
        rule={"all": [{"field": "relationship", "op": "eq", "value": "client"}]},
        calendar=jakarta,
        metrics={
            "first_reply": {"measure": "business", "targets": {"urgent": 30, "normal": 90}},
        },
    )

    page = admin.get(reverse("settings_sla_policies")).content.decode()

    assert "Relationship is Client" in page
    assert "First reply, business hours: Normal 1h 30m, Urgent 30m" in page
    assert "Jakarta office" in page


def test_a_saved_policy_is_shown_back_readably_on_its_form(
    admin: Client, jakarta: BusinessCalendar, now: datetime
) -> None:
    row = make_policy(
        "Gold clients",
        now,
        calendar=jakarta,
        metrics={
            "first_reply": {
                "measure": "business",
                "targets": {"normal": 90},
                "warning_minutes": [30, 10],
            },
            "resolution": {"measure": "calendar", "targets": {"high": 2880}},
        },
        pause_rules={"resolution": ["pending"]},
    )

    page = admin.get(reverse("settings_sla_policy_edit", args=[row.pk])).content.decode()

    assert 'name="first_reply__normal" id="id_first_reply__normal" value="1h 30m"' in page
    assert 'name="first_reply__warnings" id="id_first_reply__warnings" value="30m, 10m"' in page
    assert 'name="resolution__high" id="id_resolution__high" value="2d"' in page
    assert 'name="resolution__pauses" value="pending" id="id_resolution__pauses_2" checked' in page


def test_editing_a_policy_and_saving_it_unchanged_keeps_what_it_had(
    admin: Client, jakarta: BusinessCalendar, now: datetime
) -> None:
    row = make_policy(
        "Gold clients",
        now,
        rule={"any": [{"field": "segment", "op": "eq", "value": "clients"}]},
        calendar=jakarta,
        metrics={"first_reply": {"measure": "business", "targets": {"normal": 90}}},
    )
    before = (row.rule, row.metrics["first_reply"]["targets"])
    page_data = policy_data(
        ("segment", "eq", "clients"),
        match="any",
        calendar=str(jakarta.pk),
        first_reply__measure="business",
        first_reply__normal="1h 30m",
    )

    response = admin.post(reverse("settings_sla_policy_edit", args=[row.pk]), page_data)

    row.refresh_from_db()
    assert response.status_code == 302
    assert (row.rule, row.metrics["first_reply"]["targets"]) == before


def test_a_target_that_is_not_a_duration_is_refused_next_to_it_keeping_what_was_typed(
    admin: Client,
) -> None:
    response = admin.post(
        reverse("settings_sla_policy_create"),
        policy_data(
            ("relationship", "eq", "client"),
            first_reply__normal="an hour",
            first_reply__high="45m",
            description="For our gold clients",
        ),
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_first_reply__normal_error"' in page and "is not a duration" in page
    assert 'value="an hour"' in page and 'value="45m"' in page
    assert "For our gold clients" in page
    assert 'name="conditions-0-value" value="client"' in page
    assert not SlaPolicy.objects.exists()


def test_business_hours_without_a_calendar_are_refused_at_the_calendar(admin: Client) -> None:
    response = admin.post(
        reverse("settings_sla_policy_create"),
        policy_data(first_reply__measure="business", first_reply__normal="60"),
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_calendar_error"' in page and "choose the calendar" in page


def test_a_policy_without_any_target_is_refused(admin: Client) -> None:
    response = admin.post(reverse("settings_sla_policy_create"), policy_data())

    assert response.status_code == 400
    assert "needs at least one target" in response.content.decode()


def test_a_rule_the_condition_language_refuses_is_shown_on_the_form(admin: Client) -> None:
    response = admin.post(
        reverse("settings_sla_policy_create"),
        policy_data(("relationship", "eq", "partner"), first_reply__normal="60"),
    )

    assert response.status_code == 400
    assert "Relationship must be client or customer" in response.content.decode()
    assert not SlaPolicy.objects.exists()


def test_a_duplicate_policy_name_is_refused_at_the_name(admin: Client, now: datetime) -> None:
    make_policy("Gold clients", now)

    response = admin.post(
        reverse("settings_sla_policy_create"),
        policy_data(name="GOLD clients", first_reply__normal="60"),
    )

    assert response.status_code == 400
    assert 'id="id_name_error"' in response.content.decode()


def test_policies_move_up_and_down_in_the_order(admin: Client, now: datetime) -> None:
    for name in ("Gold", "Silver", "Customers"):
        make_policy(name, now)
    customers = SlaPolicy.objects.get(name="Customers")
    gold = SlaPolicy.objects.get(name="Gold")

    admin.post(reverse("settings_sla_policy_move", args=[customers.pk]), {"direction": "up"})
    admin.post(reverse("settings_sla_policy_move", args=[gold.pk]), {"direction": "down"})

    assert policy_order() == ["Customers", "Gold", "Silver"]


def test_a_move_without_a_direction_is_refused(admin: Client, now: datetime) -> None:
    gold = make_policy("Gold", now)

    response = admin.post(reverse("settings_sla_policy_move", args=[gold.pk]), {"direction": "x"})

    assert response.status_code == 400


def test_a_policy_is_deleted_after_confirmation(admin: Client, now: datetime) -> None:
    gold = make_policy("Gold", now)
    url = reverse("settings_sla_policy_delete", args=[gold.pk])

    confirm = admin.get(url)
    response = admin.post(url)

    assert "Delete the SLA policy Gold?" in confirm.content.decode()
    assert response.status_code == 302
    assert not SlaPolicy.objects.exists()


def test_an_inactive_policy_is_marked_in_the_list(admin: Client, now: datetime) -> None:
    make_policy("Gold", now, active=False)

    assert "Inactive" in admin.get(reverse("settings_sla_policies")).content.decode()
