"""The webhook settings pages through Django's test client: an admin creates a webhook for
chosen events, sees its secret and its delivery log, sends a delivery again; nobody else may."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from patron.core import clock
from patron.people.models import Role
from patron.webhooks.models import Webhook, WebhookDelivery
from tests import factories
from tests.admin_ui.test_views import logged_in, make_agent
from tests.webhooks.test_services import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> Client:
    return logged_in(make_agent(Role.ADMIN, username="ada"))


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.AGENT])
def test_the_webhook_pages_are_for_admins_only(role: str) -> None:
    client = logged_in(make_agent(role, username=f"someone-{role}"))
    assert client.get(reverse("settings_webhooks")).status_code == 403
    response = client.post(
        reverse("settings_webhook_create"), {"name": "CRM", "url": "https://crm.example/hook"}
    )
    assert response.status_code == 403
    assert not Webhook.objects.exists()


def test_an_admin_creates_a_webhook_and_sees_its_secret_and_log(
    admin: Client, run_on_commit: Callable[[], Any]
) -> None:
    assert "Webhooks" in admin.get(reverse("settings"), follow=True).content.decode()
    refused = admin.post(
        reverse("settings_webhook_create"), {"name": "CRM", "url": "ftp://crm.example/hook"}
    )
    assert refused.status_code == 400
    assert "give an http:// or https:// address" in refused.content.decode()

    receiver = Receiver()
    try:
        response = admin.post(
            reverse("settings_webhook_create"),
            {"name": "CRM", "url": receiver.url, "kinds": ["created"], "active": "on"},
        )
        hook = Webhook.objects.get()
        assert response.status_code == 302
        assert (hook.kinds, hook.active) == (["created"], True)
        page = admin.get(reverse("settings_webhook_edit", args=[hook.pk])).content.decode()
        assert hook.secret in page
        assert "Nothing sent yet." in page

        receiver.answers = [500]
        with run_on_commit():
            ticket = factories.ticket(now=clock.now())
        page = admin.get(reverse("settings_webhook_edit", args=[hook.pk])).content.decode()
        assert f"#{ticket.number}" in page
        assert "HTTP 500" in page
        delivery = WebhookDelivery.objects.get()
        with run_on_commit():
            response = admin.post(reverse("settings_webhook_resend", args=[delivery.pk]))
        assert response.status_code == 302
        delivery.refresh_from_db()
        assert (delivery.state, delivery.last_status) == ("sent", 200)
        assert len(receiver.requests) == 2
    finally:
        receiver.close()

    old = hook.secret
    admin.post(reverse("settings_webhook_rotate", args=[hook.pk]))
    hook.refresh_from_db()
    assert hook.secret != old
    list_page = admin.get(reverse("settings_webhooks")).content.decode()
    assert "CRM" in list_page and "created" in list_page
    admin.post(reverse("settings_webhook_delete", args=[hook.pk]))
    assert not Webhook.objects.exists()
