"""The search page: agents only, highlighted hits, filters, and a cursor link."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.test import Client

from patron.search.services import reindex_all
from tests import factories


def test_the_page_shows_highlighted_hits_with_their_kind(
    client: Client, corpus: dict[str, tuple[str, int]], admin: User
) -> None:
    client.force_login(admin)
    response = client.get("/search/", {"q": "zephyr"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<mark>Zephyr</mark> Logistics" in html
    assert "Organization</span>" in html and "Contact</span>" in html and "Ticket</span>" in html
    assert 'rel="next"' not in html


def test_the_page_escapes_what_it_shows(client: Client, now: datetime, admin: User) -> None:
    factories.ticket(now=now, subject="<img src=x onerror=alert(1)> wombat", body="<b>wombat</b>")
    reindex_all()
    client.force_login(admin)
    html = client.get("/search/", {"q": "wombat"}).content.decode()
    assert "<img src=x" not in html and "<b>" not in html
    assert "&lt;b&gt;<mark>wombat</mark>&lt;/b&gt;" in html


def test_the_page_links_to_more_results(client: Client, now: datetime, admin: User) -> None:
    for n in range(30):
        factories.ticket(now=now, subject=f"Ocelot {n}")
    reindex_all()
    client.force_login(admin)
    first = client.get("/search/", {"q": "ocelot", "status": "new"})
    assert first.context["page"].next_cursor
    assert "More results" in first.content.decode()
    second = client.get("/search/", {"q": "ocelot", "status": "new",
                                     "cursor": first.context["page"].next_cursor})  # fmt: skip
    assert len(first.context["page"].hits) + len(second.context["page"].hits) == 30
    assert second.context["page"].next_cursor is None


def test_the_page_filters_by_kind_and_dates(
    client: Client, corpus: dict[str, tuple[str, int]], admin: User
) -> None:
    client.force_login(admin)
    response = client.get("/search/", {"q": "zephyr", "kind": "ticket", "from": "2000-01-01"})
    assert [hit.kind for hit in response.context["page"].hits] == ["ticket"] * 3
    assert 'name="from"' in response.content.decode()


def test_a_bad_cursor_is_a_message_not_an_error(
    client: Client, corpus: dict[str, tuple[str, int]], admin: User
) -> None:
    client.force_login(admin)
    response = client.get("/search/", {"q": "zephyr", "cursor": "garbage"})
    assert response.status_code == 200
    assert "search again" in response.content.decode()


def test_someone_who_is_not_an_agent_is_refused(
    client: Client, django_user_model: type[User], db: None
) -> None:
    visitor = django_user_model.objects.create_user(username="visitor", password="x")
    client.force_login(visitor)
    assert client.get("/search/", {"q": "zephyr"}).status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in(client: Client, db: None) -> None:
    response = client.get("/search/", {"q": "zephyr"})
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_every_page_has_a_labelled_search_box(client: Client, admin: User) -> None:
    client.force_login(admin)
    html = client.get("/tickets/").content.decode()
    assert '<label for="topbar-q">Search</label>' in html
