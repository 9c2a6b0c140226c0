"""The notification settings page: each agent chooses their own digest, with or without JS."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from patron.core.errors import InvalidInput, NotAllowed
from patron.notifications import services
from patron.people.models import AgentProfile, EmailDigest, Role
from tests.notifications.conftest import make_agent

pytestmark = pytest.mark.django_db

URL = "/notifications/settings"


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def digest_of(user: User) -> str:
    return AgentProfile.objects.get(user=user).email_digest


def test_the_page_is_at_its_url_and_linked_from_the_notifications_list() -> None:
    me = make_agent("me")

    page = logged_in(me).get(reverse("notification_list")).content.decode()

    assert reverse("notification_settings") == URL
    assert f'href="{URL}"' in page and "Notification settings" in page


def test_the_page_shows_each_choice_as_a_labelled_radio_with_the_current_one_checked() -> None:
    me = make_agent("me", EmailDigest.HOURLY, time_zone="Europe/Berlin")

    response = logged_in(me).get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    radios = re.findall(r'<input type="radio" name="email_digest" value="(\w+)"[^>]*>', page)
    assert radios == ["off", "hourly", "daily"]
    for value in radios:
        input_id = re.search(rf'value="{value}"[^>]*id="([^"]+)"', page)
        assert input_id and f'<label for="{input_id.group(1)}">' in page
    assert re.search(r'value="hourly"[^>]*checked', page)
    assert not re.search(r'value="daily"[^>]*checked', page)
    assert "<legend>" in page and "Europe/Berlin" in page and "me@desk.example" in page
    assert 'method="post"' in page and "hx-" not in page.split("<main>")[1]


def test_an_agent_saves_their_choice_with_a_plain_post() -> None:
    me = make_agent("me", EmailDigest.DAILY)
    client = logged_in(me)

    response = client.post(URL, {"email_digest": "off"}, follow=True)

    assert response.redirect_chain == [(URL, 302)]
    assert "Notification settings saved." in response.content.decode()
    assert digest_of(me) == EmailDigest.OFF


def test_a_choice_that_is_not_offered_is_refused_on_the_form() -> None:
    me = make_agent("me", EmailDigest.DAILY)

    response = logged_in(me).post(URL, {"email_digest": "weekly"})

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert digest_of(me) == EmailDigest.DAILY


def test_the_page_changes_only_the_agent_who_posts() -> None:
    me, colleague = make_agent("me", EmailDigest.DAILY), make_agent("colleague", EmailDigest.DAILY)
    colleague_profile = AgentProfile.objects.get(user=colleague)

    logged_in(me).post(
        URL, {"email_digest": "off", "user": colleague.pk, "profile": colleague_profile.pk}
    )

    assert (digest_of(me), digest_of(colleague)) == (EmailDigest.OFF, EmailDigest.DAILY)


def test_people_who_are_not_agents_are_refused_and_strangers_sent_to_log_in() -> None:
    contact_user = User.objects.create_user("portal-user", "p@mail.example", None)

    assert logged_in(contact_user).get(URL).status_code == 403
    assert logged_in(contact_user).post(URL, {"email_digest": "off"}).status_code == 403
    response = Client().get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


# The service both pages use


def test_an_agent_may_not_change_another_agents_digest() -> None:
    me, colleague = make_agent("me"), make_agent("colleague", role=Role.SUPERVISOR)

    with pytest.raises(NotAllowed, match="only their own notification settings"):
        services.set_email_digest(
            AgentProfile.objects.get(user=colleague), actor=me, frequency=EmailDigest.OFF
        )

    assert digest_of(colleague) == EmailDigest.DAILY


def test_an_admin_may_change_anyones_digest() -> None:
    admin, agent = make_agent("ada", role=Role.ADMIN), make_agent("agent")

    changed = services.set_email_digest(
        AgentProfile.objects.get(user=agent), actor=admin, frequency=EmailDigest.HOURLY
    )

    assert changed and digest_of(agent) == EmailDigest.HOURLY


def test_an_unknown_frequency_is_refused() -> None:
    me = make_agent("me")

    with pytest.raises(InvalidInput, match="Email digest must be one of off, hourly, daily"):
        services.set_email_digest(AgentProfile.objects.get(user=me), actor=me, frequency="weekly")


def test_turning_the_digest_back_on_forgets_the_last_one() -> None:
    me = make_agent("me", EmailDigest.OFF)
    profile = AgentProfile.objects.get(user=me)
    AgentProfile.objects.filter(pk=profile.pk).update(last_digest_notification_id=7)
    profile.refresh_from_db()

    services.set_email_digest(profile, actor=me, frequency=EmailDigest.DAILY)

    profile.refresh_from_db()
    assert (profile.email_digest, profile.last_digest_notification_id) == ("daily", None)


def test_switching_between_hourly_and_daily_keeps_the_last_digest() -> None:
    me = make_agent("me", EmailDigest.DAILY)
    profile = AgentProfile.objects.get(user=me)
    AgentProfile.objects.filter(pk=profile.pk).update(last_digest_notification_id=7)
    profile.refresh_from_db()

    services.set_email_digest(profile, actor=me, frequency=EmailDigest.HOURLY)

    profile.refresh_from_db()
    assert (profile.email_digest, profile.last_digest_notification_id) == ("hourly", 7)
