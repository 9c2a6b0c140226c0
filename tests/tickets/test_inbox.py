"""The agent inbox: built-in and saved views, sorting with cursor pages, counts, and a query
count that does not grow with rows. Conditions are tested in tests/conditions, bulk actions in
test_bulk.py."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from patron.people.models import Role, Team
from patron.tickets import inbox, services
from patron.tickets.models import SavedView, Status, Ticket
from tests import factories


def make_agent(role: str = Role.AGENT, **kwargs: Any) -> User:
    return factories.agent(role, password=None, **kwargs)


def logged_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def numbers_in(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-ticket="(\d+)">', html)]


def view_numbers(client: Client, **params: str) -> list[int]:
    response = client.get(reverse("ticket_list"), params)
    assert response.status_code == 200
    return numbers_in(response.text)


@pytest.fixture
def agent() -> User:
    return make_agent()


@pytest.fixture
def desk(now: datetime, agent: User) -> dict[str, Ticket]:
    """One ticket for each built-in view; client-ness inherited from an organization."""
    client_org = factories.organization(now=now, relationship="client", name="Acme")
    client_person = factories.contact(now=now, organization=client_org)
    own_client = factories.contact(now=now, relationship_override="client")
    override_customer = factories.contact(
        now=now, organization=client_org, relationship_override="customer"
    )
    other = make_agent()
    tickets = {
        "mine": factories.ticket(now=now, subject="Mine", assignee=agent),
        "theirs": factories.ticket(now=now, subject="Theirs", assignee=other),
        "unassigned": factories.ticket(now=now, subject="Nobody's", requester=override_customer),
        "client": factories.ticket(now=now, subject="Client by org", requester=client_person),
        "own_client": factories.ticket(now=now, subject="Client by self", requester=own_client),
        "pending": factories.ticket(now=now, subject="Waiting"),
        "on_hold": factories.ticket(now=now, subject="Held"),
        "solved": factories.ticket(now=now, subject="Just solved"),
        "old_solved": factories.ticket(now=now - timedelta(days=30), subject="Long solved"),
    }
    services.change_status(tickets["pending"], Status.PENDING, actor=agent, now=now)
    services.change_status(tickets["on_hold"], Status.ON_HOLD, actor=agent, now=now)
    services.change_status(tickets["solved"], Status.SOLVED, actor=agent, now=now)
    services.change_status(
        tickets["old_solved"], Status.SOLVED, actor=agent, now=now - timedelta(days=20)
    )
    return tickets


def nums(desk: dict[str, Ticket], *names: str) -> set[int]:
    return {desk[name].number for name in names}


# Built-in views

OPEN_NAMES = ("mine", "theirs", "unassigned", "client", "own_client")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ("mine", ("mine",)),
        ("unassigned", ("unassigned", "client", "own_client")),
        ("all_open", OPEN_NAMES),
        ("clients", ("client", "own_client")),
        ("customers", ("mine", "theirs", "unassigned")),
        ("pending", ("pending",)),
        ("on_hold", ("on_hold",)),
        ("solved", ("solved",)),
        ("breaching", ()),
    ],
)
def test_it_selects_the_right_tickets_for_each_built_in_view(
    client: Client, agent: User, desk: dict[str, Ticket], view: str, expected: tuple[str, ...]
) -> None:
    shown = view_numbers(logged_in(client, agent), view=view)

    assert set(shown) == nums(desk, *expected)
    assert len(shown) == len(expected)


@pytest.mark.django_db
def test_it_counts_every_built_in_view_like_its_list(
    client: Client, agent: User, desk: dict[str, Ticket]
) -> None:
    response = logged_in(client, agent).get(reverse("inbox_counts"))

    assert response.json() == {
        "mine": 1,
        "unassigned": 3,
        "all_open": 5,
        "clients": 2,
        "customers": 3,
        "pending": 1,
        "on_hold": 1,
        "solved": 1,
        "breaching": 0,
    }


@pytest.mark.django_db
def test_it_shows_a_text_badge_for_clients_and_customers(
    client: Client, agent: User, desk: dict[str, Ticket]
) -> None:
    text = logged_in(client, agent).get(reverse("ticket_list"), {"view": "all_open"}).text

    assert '<span class="badge client">Client</span>' in text
    assert '<span class="badge customer">Customer</span>' in text
    assert "Breaching soon" in text and "SLA policies come later." not in text


# Saved views and conditions


@pytest.mark.django_db
def test_it_selects_tickets_matching_all_three_conditions_of_a_saved_view(
    client: Client, agent: User, now: datetime
) -> None:
    acme = factories.organization(now=now, relationship="client", name="Acme")
    person = factories.contact(now=now, organization=acme)
    match = factories.ticket(now=now, requester=person, priority="urgent", tags=["vip"])
    factories.ticket(now=now, requester=person, priority="urgent")  # no tag
    factories.ticket(now=now, requester=person, priority="low", tags=["vip"])  # low
    factories.ticket(now=now, priority="urgent", tags=["vip"])  # a customer
    view = SavedView.objects.create(
        name="Urgent VIP clients",
        owner=agent,
        rule={
            "all": [
                {"field": "priority", "op": "eq", "value": "urgent"},
                {"field": "tag", "op": "eq", "value": "vip"},
                {"field": "relationship", "op": "eq", "value": "client"},
            ]
        },
    )

    logged_in(client, agent)
    assert view_numbers(client, view=f"saved-{view.pk}") == [match.number]
    assert client.get(reverse("inbox_counts")).json()[f"saved-{view.pk}"] == 1


@pytest.mark.django_db
def test_it_shows_a_saved_view_with_a_condition_no_longer_valid_as_empty_with_the_reason(
    client: Client, agent: User, now: datetime
) -> None:
    factories.ticket(now=now)
    view = SavedView.objects.create(
        name="Old", owner=agent, rule={"all": [{"field": "mood", "op": "eq", "value": "happy"}]}
    )

    response = logged_in(client, agent).get(reverse("ticket_list"), {"view": f"saved-{view.pk}"})

    assert response.status_code == 200
    assert numbers_in(response.text) == []
    assert "This view shows nothing until it is fixed" in response.text


@pytest.mark.django_db
def test_it_sorts_priority_from_low_to_urgent_not_alphabetically(
    client: Client, agent: User, now: datetime
) -> None:
    urgent = factories.ticket(now=now, priority="urgent")
    low = factories.ticket(now=now, priority="low")
    high = factories.ticket(now=now, priority="high")

    shown = view_numbers(logged_in(client, agent), view="all_open", sort="-priority")

    assert shown == [urgent.number, high.number, low.number]


@pytest.mark.django_db
def test_it_shows_the_reason_for_an_invalid_condition_on_the_form(
    client: Client, agent: User
) -> None:
    response = logged_in(client, agent).post(
        reverse("saved_view_create"),
        {"name": "Odd", "field-0": "status", "op-0": "eq", "value-0": "lost", "sort": "updated"},
    )

    assert response.status_code == 400
    assert "&#x27;lost&#x27; is not a status" in response.text
    assert not SavedView.objects.exists()


@pytest.mark.django_db
def test_it_creates_a_saved_view_from_the_form_and_opens_it(
    client: Client, agent: User, now: datetime
) -> None:
    urgent = factories.ticket(now=now, priority="urgent")
    factories.ticket(now=now, priority="low")

    response = logged_in(client, agent).post(
        reverse("saved_view_create"),
        {
            "name": "Urgent",
            "field-0": "priority",
            "op-0": "in",
            "value-0": "urgent, high",
            "sort": "number",
            "direction": "asc",
            "columns": ["number", "subject", "priority"],
        },
    )

    view = SavedView.objects.get()
    assert response.status_code == 302
    assert view.rule == {"all": [{"field": "priority", "op": "in", "value": ["urgent", "high"]}]}
    assert view.sort == "number"
    assert view_numbers(client, view=f"saved-{view.pk}") == [urgent.number]


@pytest.mark.django_db
def test_it_shows_a_team_shared_view_to_members_only(client: Client, now: datetime) -> None:
    billing = factories.team("Billing")
    owner = make_agent(teams=(billing,))
    member = make_agent(teams=(billing,))
    outsider = make_agent()
    view = SavedView.objects.create(name="Billing backlog", owner=owner, shared_with_team=billing)

    assert "Billing backlog" in logged_in(client, member).get(reverse("ticket_list")).text
    assert f"saved-{view.pk}" in client.get(reverse("inbox_counts")).json()
    assert "Billing backlog" not in logged_in(client, outsider).get(reverse("ticket_list")).text
    assert f"saved-{view.pk}" not in client.get(reverse("inbox_counts")).json()


@pytest.mark.django_db
def test_it_refuses_to_let_a_team_member_edit_or_delete_another_agents_shared_view(
    client: Client,
) -> None:
    billing = factories.team("Billing")
    owner = make_agent(teams=(billing,))
    member = make_agent(teams=(billing,))
    view = SavedView.objects.create(name="Billing backlog", owner=owner, shared_with_team=billing)

    logged_in(client, member)
    assert client.get(reverse("saved_view_edit", args=[view.pk])).status_code == 403
    assert client.post(reverse("saved_view_delete", args=[view.pk])).status_code == 403
    assert SavedView.objects.filter(pk=view.pk).exists()


@pytest.mark.django_db
def test_it_lets_the_owner_delete_a_saved_view(client: Client, agent: User) -> None:
    view = SavedView.objects.create(name="Mine", owner=agent)

    response = logged_in(client, agent).post(reverse("saved_view_delete", args=[view.pk]))

    assert response.status_code == 302
    assert not SavedView.objects.exists()


# Sorting and cursor pages


def walk(client: Client, direction: str, **params: str) -> list[int]:
    """Follow the Older (or Newer) links to the end, collecting the rows in order."""
    seen: list[int] = []
    url = reverse("ticket_list")
    query: dict[str, str] = dict(params)
    while True:
        response = client.get(url, query)
        assert response.status_code == 200
        seen += numbers_in(response.text)
        link = re.search(rf'<a href="\?([^"]+)" rel="{direction}">', response.text)
        if link is None:
            return seen
        query = dict(part.split("=", 1) for part in link.group(1).replace("&amp;", "&").split("&"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sort", ["-updated", "number", "subject", "-organization", "assignee", "-priority", "status"]
)
def test_it_returns_every_ticket_exactly_once_across_cursor_pages(
    client: Client, agent: User, now: datetime, monkeypatch: pytest.MonkeyPatch, sort: str
) -> None:
    monkeypatch.setattr(inbox, "PAGE_SIZE", 4)
    acme = factories.organization(now=now, name="Acme")
    for n in range(11):
        requester = factories.contact(now=now, organization=acme if n % 3 else None)
        # Several rows share a sort value (same time, same subject), so ids break the ties.
        factories.ticket(
            now=now + timedelta(minutes=n // 2),
            requester=requester,
            subject=f"Subject {n % 4}",
            assignee=agent if n % 2 else None,
        )
    expected = set(Ticket.objects.values_list("number", flat=True))

    forward = walk(logged_in(client, agent), "next", view="all_open", sort=sort)

    assert sorted(forward) == sorted(expected)
    assert len(forward) == len(set(forward))
    key = sort.lstrip("-")
    if key == "number":
        assert forward == sorted(expected)


@pytest.mark.django_db
def test_it_walks_back_to_newer_pages_in_the_same_order(
    client: Client, agent: User, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox, "PAGE_SIZE", 3)
    for n in range(8):
        factories.ticket(now=now + timedelta(minutes=n))
    logged_in(client, agent)
    forward = walk(client, "next", view="all_open", sort="number")

    last_page = client.get(reverse("ticket_list"), {"view": "all_open", "sort": "number"})
    pages: list[list[int]] = []
    text = last_page.text
    while (older := re.search(r'<a href="\?([^"]+)" rel="next">', text)) is not None:
        text = client.get(f"{reverse('ticket_list')}?{older.group(1).replace('&amp;', '&')}").text
    pages.append(numbers_in(text))
    while (newer := re.search(r'<a href="\?([^"]+)" rel="prev">', text)) is not None:
        text = client.get(f"{reverse('ticket_list')}?{newer.group(1).replace('&amp;', '&')}").text
        pages.insert(0, numbers_in(text))

    assert [n for page in pages for n in page] == forward


@pytest.mark.django_db
def test_it_explains_a_damaged_page_link(client: Client, agent: User) -> None:
    response = logged_in(client, agent).get(reverse("ticket_list"), {"after": "%%%"})

    assert response.status_code == 200
    assert "That page link is damaged" in response.text


def make_rows(count: int, *, now: datetime, agent: User, team: Team) -> None:
    organization = factories.organization(now=now, relationship="client")
    for n in range(count):
        requester = factories.contact(
            now=now, name="" if n % 2 else f"Person {n}", organization=organization
        )
        factories.ticket(now=now, requester=requester, team=team, assignee=agent if n % 3 else None)


def count_queries(client: Client, **params: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("ticket_list"), params)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_it_lists_tickets_in_a_number_of_queries_that_does_not_grow_with_rows(
    client: Client, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox, "PAGE_SIZE", 200)
    team = factories.team("Support")
    agent = make_agent(teams=(team,), restricted=True)
    SavedView.objects.create(
        name="Tagged", owner=agent, rule={"all": [{"field": "tag", "op": "eq", "value": "x"}]}
    )
    logged_in(client, agent)
    make_rows(25, now=now, agent=agent, team=team)
    with_25 = count_queries(client, view="all_open")

    make_rows(75, now=now, agent=agent, team=team)
    with_100 = count_queries(client, view="all_open")

    assert with_100 == with_25
    assert len(numbers_in(client.get(reverse("ticket_list"), {"view": "all_open"}).text)) == 100


# Permissions


@pytest.mark.django_db
def test_it_shows_a_restricted_agent_only_their_teams_tickets_and_counts(
    client: Client, now: datetime
) -> None:
    billing, sales = factories.team("Billing"), factories.team("Sales")
    seller = make_agent(teams=(sales,), restricted=True)
    mine = factories.ticket(now=now, team=sales, subject="Upgrade my plan")
    factories.ticket(now=now, team=billing, subject="Invoice is wrong")

    logged_in(client, seller)
    assert view_numbers(client, view="all_open") == [mine.number]
    assert client.get(reverse("inbox_counts")).json()["all_open"] == 1


@pytest.mark.django_db
def test_it_refuses_the_inbox_and_counts_to_a_user_who_is_not_an_agent(client: Client) -> None:
    outsider = User.objects.create_user("outsider")

    logged_in(client, outsider)
    assert client.get(reverse("ticket_list")).status_code == 403
    assert client.get(reverse("inbox_counts")).status_code == 403


@pytest.mark.django_db
def test_it_offers_labelled_forms_to_create_and_edit_a_saved_view(
    client: Client, agent: User
) -> None:
    view = SavedView.objects.create(
        name="Urgent",
        owner=agent,
        rule={"all": [{"field": "tag", "op": "in", "value": ["a", "b"]}]},
    )
    logged_in(client, agent)

    blank = client.get(reverse("saved_view_create"))
    filled = client.get(reverse("saved_view_edit", args=[view.pk]))

    assert blank.status_code == filled.status_code == 200
    assert '<label for="view-name">Name</label>' in blank.text
    assert 'value="a, b"' in filled.text


@pytest.mark.django_db
def test_it_answers_an_htmx_request_with_the_table_alone(
    client: Client, agent: User, now: datetime
) -> None:
    ticket = factories.ticket(now=now)

    response = logged_in(client, agent).get(reverse("ticket_list"), headers={"HX-Request": "true"})

    assert numbers_in(response.text) == [ticket.number]
    assert "<html" not in response.text
