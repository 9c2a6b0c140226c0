"""The contact and organization pages through Django's test client: who may see and change
what, forms that explain their errors, merges, relationship changes and their audit trail, a
query count that does not grow with rows, and hostile text kept inert."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import QuerySet
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from patron.core import clock
from patron.people.models import (
    Contact,
    ContactEmail,
    CustomFieldDefinition,
    Organization,
    PeopleEvent,
    Role,
)
from patron.tickets.models import EventKind, Ticket, TicketEvent
from tests import factories

XSS = "<script>alert(1)</script>"


def changes() -> QuerySet[PeopleEvent]:
    """The people events that record a change (every creation records one too)."""
    return PeopleEvent.objects.exclude(kind=PeopleEvent.Kind.CREATED)


def make_agent(role: str = Role.AGENT, **kwargs: Any) -> User:
    return factories.agent(role, password=None, **kwargs)


def logged_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def contact_url(contact: Contact, name: str = "contact_detail") -> str:
    return reverse(name, args=[contact.pk])


def organization_url(organization: Organization, name: str = "organization_detail") -> str:
    return reverse(name, args=[organization.pk])


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def text(response: Any) -> str:
    return str(response.content.decode())


@pytest.fixture
def agent() -> User:
    return make_agent()


@pytest.fixture
def acme(now: datetime) -> Organization:
    return factories.organization(now=now, name="Acme", domains=("acme.example",), tier="gold")


@pytest.fixture
def jo(now: datetime, acme: Organization) -> Contact:
    return factories.contact(now=now, name="Jo Smith", email="jo@acme.example")


# Who may open and change the pages


@pytest.mark.django_db
def test_it_sends_an_anonymous_visitor_to_the_login_page(client: Client) -> None:
    response = client.get(reverse("contact_list"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_it_shows_the_403_page_to_a_user_who_is_not_an_agent(client: Client, jo: Contact) -> None:
    someone = get_user_model().objects.create_user(username="visitor", password=None)

    for url in (reverse("contact_list"), contact_url(jo), reverse("organization_list")):
        response = logged_in(client, someone).get(url)
        assert response.status_code == 403
        assert "Only agents can see contacts and organizations." in text(response)


@pytest.mark.django_db
def test_a_light_agent_reads_but_sees_no_edit_controls(
    client: Client, jo: Contact, acme: Organization
) -> None:
    light = make_agent(Role.LIGHT_AGENT)

    contact_page = logged_in(client, light).get(contact_url(jo))
    organization_page = client.get(organization_url(acme))

    assert contact_page.status_code == organization_page.status_code == 200
    assert "Edit contact" not in text(contact_page)
    assert "Merge into another contact" not in text(contact_page)
    assert "Edit organization" not in text(organization_page)
    assert "Change relationship" not in text(organization_page)
    assert "New contact" not in text(client.get(reverse("contact_list")))


@pytest.mark.django_db
def test_a_light_agent_posting_an_edit_is_refused_and_nothing_changes(
    client: Client, jo: Contact, acme: Organization
) -> None:
    light = make_agent(Role.LIGHT_AGENT)
    logged_in(client, light)

    responses = [
        client.post(contact_url(jo, "contact_edit"), {"name": "Changed", "phone": "1"}),
        client.post(contact_url(jo, "contact_attach"), {"organization": ""}),
        client.post(contact_url(jo, "contact_merge"), {"target_email": "x@y.example"}),
        client.post(organization_url(acme, "organization_edit"), {"name": "Changed"}),
        client.post(reverse("contact_create"), {"email": "new@acme.example"}),
    ]

    assert [r.status_code for r in responses] == [403] * 5
    jo.refresh_from_db()
    acme.refresh_from_db()
    assert (jo.name, jo.phone, jo.organization_id, acme.name) == ("Jo Smith", "", acme.pk, "Acme")
    assert not changes().exists()


# The contact list


@pytest.mark.django_db
def test_the_list_finds_a_contact_by_a_secondary_address_ignoring_case(
    client: Client, agent: User, jo: Contact, now: datetime
) -> None:
    ContactEmail.objects.create(contact=jo, address="Jo.Private@Home.example")
    factories.contact(now=now, name="Sam Other")

    response = logged_in(client, agent).get(reverse("contact_list"), {"q": "jo.private@HOME"})

    assert "Jo Smith" in text(response)
    assert "Sam Other" not in text(response)
    assert "jo@acme.example" in text(response)  # the primary address is the one shown


@pytest.mark.django_db
def test_the_list_filters_by_relationship_with_inheritance_and_override(
    client: Client, agent: User, now: datetime
) -> None:
    client_org = factories.organization(now=now, relationship="client")
    factories.contact(now=now, name="Inherits Client", organization=client_org)
    factories.contact(
        now=now, name="Overridden Customer", organization=client_org,
        relationship_override="customer",
    )  # fmt: skip
    factories.contact(now=now, name="Own Client", relationship_override="client")

    response = logged_in(client, agent).get(reverse("contact_list"), {"relationship": "client"})

    assert "Inherits Client" in text(response)
    assert "Own Client" in text(response)
    assert "Overridden Customer" not in text(response)
    assert text(response).count('<span class="badge client">Client</span>') == 2


@pytest.mark.django_db
def test_the_list_filters_by_a_builtin_segment(client: Client, agent: User, now: datetime) -> None:
    factories.contact(now=now, name="A Client", relationship_override="client")
    factories.contact(now=now, name="A Customer")

    response = logged_in(client, agent).get(reverse("contact_list"), {"segment": "clients"})

    assert "A Client" in text(response)
    assert "A Customer" not in text(response)


@pytest.mark.django_db
def test_a_bad_custom_filter_is_explained_not_a_500(client: Client, agent: User) -> None:
    response = logged_in(client, agent).get(reverse("contact_list"), {"custom.a__b": "x"})

    assert response.status_code == 200
    assert "does not name a custom field" in text(response)


def _contacts_with_tickets(now: datetime, count: int) -> None:
    organization = factories.organization(now=now)
    for n in range(count):
        contact = factories.contact(now=now, organization=organization, name=f"P{n}")
        ContactEmail.objects.create(contact=contact, address=f"second.{contact.pk}@x.example")
        factories.ticket(now=now, requester=contact)


@pytest.mark.django_db
def test_the_contact_list_runs_as_many_queries_for_40_contacts_as_for_5(
    client: Client, agent: User, now: datetime
) -> None:
    logged_in(client, agent)
    _contacts_with_tickets(now, 5)
    few = count_queries(client, reverse("contact_list"))
    _contacts_with_tickets(now, 35)

    assert count_queries(client, reverse("contact_list")) == few


@pytest.mark.django_db
def test_the_organization_list_runs_as_many_queries_for_40_as_for_5(
    client: Client, agent: User, now: datetime
) -> None:
    logged_in(client, agent)
    for _ in range(5):
        factories.organization(now=now, account_manager=agent)
    few = count_queries(client, reverse("organization_list"))
    for _ in range(35):
        factories.organization(now=now, account_manager=agent)

    assert count_queries(client, reverse("organization_list")) == few


# The contact page


def _tickets_for(contact: Contact, now: datetime, count: int) -> None:
    for _ in range(count):
        factories.ticket(now=now, requester=contact)


@pytest.mark.django_db
def test_the_contact_page_runs_as_many_queries_for_30_tickets_as_for_3(
    client: Client, agent: User, jo: Contact, now: datetime
) -> None:
    logged_in(client, agent)
    _tickets_for(jo, now, 3)
    few = count_queries(client, contact_url(jo))
    _tickets_for(jo, now, 27)

    assert count_queries(client, contact_url(jo)) == few


@pytest.mark.django_db
def test_the_organization_page_runs_as_many_queries_for_30_tickets_as_for_3(
    client: Client, agent: User, jo: Contact, acme: Organization, now: datetime
) -> None:
    logged_in(client, agent)
    _tickets_for(jo, now, 3)
    few = count_queries(client, organization_url(acme))
    for _ in range(27):
        factories.ticket(now=now, requester=factories.contact(now=now, organization=acme))

    assert count_queries(client, organization_url(acme)) == few


@pytest.mark.django_db
def test_the_contact_page_lists_tickets_newest_first_and_the_activity(
    client: Client, agent: User, jo: Contact, now: datetime
) -> None:
    factories.ticket(now=now, requester=jo, subject="Older problem")
    factories.ticket(now=now.replace(hour=10), requester=jo, subject="Newer problem")

    page = text(logged_in(client, agent).get(contact_url(jo)))

    assert page.index("Newer problem") < page.index("Older problem")
    assert re.search(r"Jo Smith: Created on <a href=\"/tickets/\d+/\">", page)


@pytest.mark.django_db
def test_the_activity_is_cut_with_a_link_to_more(
    client: Client, agent: User, jo: Contact, now: datetime
) -> None:
    _tickets_for(jo, now, 30)  # two events each: created, message added

    first = text(logged_in(client, agent).get(contact_url(jo)))
    more = text(client.get(contact_url(jo), {"activity": "100"}))

    assert first.count('on <a href="/tickets/') == 50
    assert "More activity" in first
    assert more.count('on <a href="/tickets/') == 60
    assert "More activity" not in more


@pytest.mark.django_db
def test_it_shows_the_contacts_local_time_with_the_zone_named(
    client: Client, agent: User, jo: Contact, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    jo.time_zone = "America/New_York"
    jo.save()
    monkeypatch.setattr(clock, "now", lambda: now)  # 09:00 UTC

    response = logged_in(client, agent).get(contact_url(jo))

    assert "04:00 local time (America/New_York, Mon 23 Nov)" in text(response)


@pytest.mark.django_db
def test_it_says_whether_the_relationship_is_inherited_or_set_on_the_contact(
    client: Client, agent: User, jo: Contact, now: datetime
) -> None:
    own = factories.contact(now=now, name="Own", relationship_override="client")

    inherited = text(logged_in(client, agent).get(contact_url(jo)))
    overridden = text(client.get(contact_url(own)))

    assert '<span class="badge customer">Customer</span>' in inherited
    assert "(from Acme)" in inherited
    assert '<span class="badge client">Client</span>' in overridden
    assert "(set on this contact)" in overridden


# Editing a contact


@pytest.mark.django_db
def test_an_agent_edits_a_contact_and_the_change_is_recorded(
    client: Client, agent: User, jo: Contact
) -> None:
    CustomFieldDefinition.objects.create(
        applies_to="contact", key="seats", label="Seats", field_type="number"
    )

    response = logged_in(client, agent).post(
        contact_url(jo, "contact_edit"),
        {"name": "Jo Smith", "phone": "+44 20 7946 0000", "time_zone": "Europe/London",
         "language": "en", "relationship_override": "client", "custom_seats": "12",
         "new_email": "jo@home.example"},
    )  # fmt: skip

    assert response.status_code == 302
    jo.refresh_from_db()
    assert (jo.phone, jo.time_zone, jo.relationship_override) == (
        "+44 20 7946 0000",
        "Europe/London",
        "client",
    )
    assert jo.custom_fields == {"seats": 12}
    assert ContactEmail.objects.filter(contact=jo, address="jo@home.example").exists()
    kinds = list(changes().filter(contact=jo).values_list("kind", "actor"))
    assert kinds == [("email_added", agent.pk), ("updated", agent.pk)]
    page = text(client.get(contact_url(jo)))
    assert (
        "Details changed: language, phone, relationship override, time zone, custom fields" in page
    )


@pytest.mark.django_db
def test_an_edit_with_a_bad_custom_field_shows_a_readable_error_next_to_it(
    client: Client, agent: User, jo: Contact
) -> None:
    CustomFieldDefinition.objects.create(
        applies_to="contact", key="seats", label="Seats", field_type="number"
    )

    response = logged_in(client, agent).post(
        contact_url(jo, "contact_edit"), {"name": "Jo Smith", "custom_seats": "lots"}
    )

    assert response.status_code == 400
    assert re.search(
        r'id="id_custom_seats_error" role="alert">Seats must be a number, not &#x27;lots&#x27;\.',
        text(response),
    )
    jo.refresh_from_db()
    assert jo.custom_fields == {}
    assert not changes().exists()


@pytest.mark.django_db
def test_an_unknown_time_zone_is_refused_on_the_form(
    client: Client, agent: User, jo: Contact
) -> None:
    response = logged_in(client, agent).post(
        contact_url(jo, "contact_edit"), {"name": "Jo", "time_zone": "Mars/Olympus"}
    )

    assert response.status_code == 400
    assert "&#x27;Mars/Olympus&#x27; is not a time zone" in text(response)
    jo.refresh_from_db()
    assert (jo.name, jo.time_zone) == ("Jo Smith", "")


@pytest.mark.django_db
def test_an_address_of_another_contact_is_refused_on_the_form(
    client: Client, agent: User, jo: Contact, now: datetime
) -> None:
    factories.contact(now=now, email="taken@x.example")

    response = logged_in(client, agent).post(
        contact_url(jo, "contact_edit"), {"name": "Jo", "new_email": "TAKEN@x.example"}
    )

    assert response.status_code == 400
    assert "already belongs to another contact" in text(response)
    jo.refresh_from_db()
    assert jo.name == "Jo Smith"


@pytest.mark.django_db
def test_an_agent_attaches_a_contact_to_an_organization(
    client: Client, agent: User, now: datetime, acme: Organization
) -> None:
    sam = factories.contact(now=now, name="Sam", email="sam@elsewhere.example")

    response = logged_in(client, agent).post(
        contact_url(sam, "contact_attach"), {"organization": acme.pk}
    )

    assert response.status_code == 302
    sam.refresh_from_db()
    assert sam.organization_id == acme.pk
    event = changes().get()
    assert (event.kind, event.contact_id, event.organization_id) == ("attached", sam.pk, acme.pk)
    assert "Organization changed: Sam" in text(client.get(organization_url(acme)))


@pytest.mark.django_db
def test_an_agent_creates_a_contact_and_bad_input_is_shown_on_the_form(
    client: Client, agent: User, now: datetime
) -> None:
    factories.contact(now=now, email="taken@x.example")
    logged_in(client, agent)

    refused = client.post(reverse("contact_create"), {"email": "Taken@X.example", "name": "Dup"})
    created = client.post(reverse("contact_create"), {"email": "new@x.example", "name": "New"})

    assert refused.status_code == 400
    assert "already belongs to another contact" in text(refused)
    assert created.status_code == 302
    assert Contact.objects.filter(name="New", emails__address="new@x.example").exists()


# Merging contacts


@pytest.mark.django_db
def test_merging_asks_for_confirmation_and_says_what_moves(
    client: Client, agent: User, jo: Contact, now: datetime
) -> None:
    old = factories.contact(now=now, name="Jo Old", email="jo.old@mail.example")
    factories.ticket(now=now, requester=old)

    response = logged_in(client, agent).post(
        contact_url(old, "contact_merge"), {"target_email": "JO@acme.example"}
    )

    page = text(response)
    assert response.status_code == 200
    assert "Merge Jo Old into Jo Smith?" in page
    assert "1 ticket moves to Jo Smith" in page
    assert "jo.old@mail.example" in page
    old.refresh_from_db()
    assert old.merged_into_id is None


@pytest.mark.django_db
def test_merging_moves_tickets_and_addresses_and_writes_the_events(
    client: Client, agent: User, jo: Contact, now: datetime
) -> None:
    old = factories.contact(now=now, name="Jo Old", email="jo.old@mail.example")
    ticket = factories.ticket(now=now, requester=old)

    response = logged_in(client, agent).post(
        contact_url(old, "contact_merge"), {"target_email": "jo@acme.example", "confirm": "yes"}
    )

    assert response.status_code == 302
    assert response["Location"] == contact_url(jo)
    assert Ticket.objects.get(pk=ticket.pk).requester_id == jo.pk
    assert ContactEmail.objects.get(address="jo.old@mail.example").contact_id == jo.pk
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.REQUESTER_CHANGED).exists()
    events = changes().order_by("id").values_list("kind", "contact_id", "actor_id")
    assert list(events) == [("merged", old.pk, agent.pk), ("merged_in", jo.pk, agent.pk)]
    merged_page = text(client.get(contact_url(old)))
    assert f'Merged into <a href="{contact_url(jo)}">Jo Smith</a>' in merged_page
    assert "Edit contact" not in merged_page


@pytest.mark.django_db
def test_merging_into_an_unknown_address_is_explained(
    client: Client, agent: User, jo: Contact
) -> None:
    response = logged_in(client, agent).post(
        contact_url(jo, "contact_merge"), {"target_email": "nobody@x.example", "confirm": "yes"}
    )

    assert response.status_code == 400
    assert "No contact has that address." in text(response)


@pytest.mark.django_db
def test_merging_a_contact_into_itself_is_refused_on_the_form(
    client: Client, agent: User, jo: Contact
) -> None:
    response = logged_in(client, agent).post(
        contact_url(jo, "contact_merge"), {"target_email": "jo@acme.example", "confirm": "yes"}
    )

    assert response.status_code == 400
    assert "A contact cannot be merged into itself." in text(response)


# Organizations


@pytest.mark.django_db
def test_an_agent_cannot_change_an_organizations_relationship(
    client: Client, agent: User, acme: Organization
) -> None:
    page = text(logged_in(client, agent).get(organization_url(acme)))
    response = client.post(
        organization_url(acme, "organization_relationship"), {"relationship": "client"}
    )

    assert "Change relationship" not in page
    assert response.status_code == 403
    assert "Only supervisors and admins" in text(response)
    acme.refresh_from_db()
    assert acme.relationship == "customer"
    assert not changes().exists()


@pytest.mark.django_db
def test_a_supervisor_changes_the_relationship_and_it_is_recorded(
    client: Client, acme: Organization, jo: Contact, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    supervisor = make_agent(Role.SUPERVISOR)
    monkeypatch.setattr(clock, "now", lambda: now)

    response = logged_in(client, supervisor).post(
        organization_url(acme, "organization_relationship"), {"relationship": "client"}
    )

    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.relationship == "client"
    event = changes().get()
    assert (event.kind, event.organization_id, event.actor_id, event.at, event.data) == (
        "relationship_changed",
        acme.pk,
        supervisor.pk,
        now,
        {"from": "customer", "to": "client"},
    )
    page = text(client.get(organization_url(acme)))
    assert '<span class="badge client">Client</span>' in page
    assert "Relationship changed: Customer → Client" in page
    assert '<span class="badge client">Client</span>' in text(client.get(contact_url(jo)))


@pytest.mark.django_db
def test_an_agent_edits_an_organization_and_new_domains_attach_contacts(
    client: Client, agent: User, acme: Organization, now: datetime
) -> None:
    stray = factories.contact(now=now, name="Stray", email="stray@acme.co.example")
    manager = make_agent(Role.SUPERVISOR)

    response = logged_in(client, agent).post(
        organization_url(acme, "organization_edit"),
        {"name": "Acme Ltd", "tier": "platinum", "account_manager": manager.pk,
         "domains": "acme.example\nACME.co.example"},
    )  # fmt: skip

    assert response.status_code == 302
    acme.refresh_from_db()
    assert (acme.name, acme.tier, acme.account_manager_id) == ("Acme Ltd", "platinum", manager.pk)
    assert sorted(acme.domains.values_list("domain", flat=True)) == [
        "acme.co.example",
        "acme.example",
    ]
    stray.refresh_from_db()
    assert stray.organization_id == acme.pk
    event = changes().get()
    assert event.data == {"fields": ["name", "tier", "account_manager", "domains"]}


@pytest.mark.django_db
def test_an_organization_name_already_taken_is_shown_on_the_form(
    client: Client, agent: User, acme: Organization, now: datetime
) -> None:
    factories.organization(now=now, name="Globex")
    logged_in(client, agent)

    edited = client.post(organization_url(acme, "organization_edit"), {"name": "GLOBEX"})
    created = client.post(
        reverse("organization_create"), {"name": "acme", "relationship": "customer"}
    )

    assert edited.status_code == created.status_code == 400
    assert "Another organization already has that name" in text(edited)
    assert "An organization called &#x27;acme&#x27; or one of its domains" in text(created)
    acme.refresh_from_db()
    assert acme.name == "Acme"


@pytest.mark.django_db
def test_only_a_supervisor_creates_an_organization_as_a_client(client: Client, agent: User) -> None:
    refused = logged_in(client, agent).post(
        reverse("organization_create"), {"name": "Initech", "relationship": "client"}
    )
    supervisor = make_agent(Role.SUPERVISOR)
    created = logged_in(client, supervisor).post(
        reverse("organization_create"), {"name": "Initech", "relationship": "client"}
    )

    assert refused.status_code == 400
    assert "Only supervisors and admins" in text(refused)
    assert created.status_code == 302
    assert Organization.objects.get(name="Initech").relationship == "client"


@pytest.mark.django_db
def test_the_organization_list_filters_by_relationship_and_tier(
    client: Client, agent: User, now: datetime
) -> None:
    factories.organization(now=now, name="Gold Client", relationship="client", tier="gold")
    factories.organization(now=now, name="Gold Customer", tier="gold")
    factories.organization(now=now, name="Silver Client", relationship="client", tier="silver")

    response = logged_in(client, agent).get(
        reverse("organization_list"), {"relationship": "client", "tier": "gold"}
    )

    assert "Gold Client" in text(response)
    assert "Gold Customer" not in text(response)
    assert "Silver Client" not in text(response)


# Hostile input


@pytest.mark.django_db
def test_hostile_names_are_escaped_on_every_page(
    client: Client, agent: User, now: datetime
) -> None:
    organization = factories.organization(now=now, name=f"Org {XSS}", tier=XSS)
    contact = factories.contact(now=now, name=f"Mal {XSS}", organization=organization)
    factories.ticket(now=now, requester=contact, subject=f"Subject {XSS}")
    logged_in(client, agent)

    pages = [
        client.get(reverse("contact_list")),
        client.get(contact_url(contact)),
        client.get(reverse("organization_list")),
        client.get(organization_url(organization)),
        client.post(contact_url(contact, "contact_merge"), {"target_email": "x@y.example"}),
    ]

    for response in pages:
        assert XSS not in text(response)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text(response)
