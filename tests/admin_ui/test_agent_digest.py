"""The agent form in the settings pages sets the agent's email digest too."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from patron.people.models import AgentProfile, EmailDigest, Role
from tests import factories

pytestmark = pytest.mark.django_db

FORM = {"role": Role.AGENT, "capacity": "20", "availability": "online", "active": "on"}


@pytest.fixture
def admin() -> Client:
    client = Client()
    client.force_login(factories.agent(Role.ADMIN, username="ada", password=None))
    return client


@pytest.fixture
def agent() -> User:
    user = factories.agent(username="bo", password=None)
    assert isinstance(user, User)
    return user


def edit_url(user: User) -> str:
    return reverse("settings_agent_edit", args=[AgentProfile.objects.get(user=user).pk])


def test_the_agent_form_shows_the_digest_choice_with_a_label(admin: Client, agent: User) -> None:
    AgentProfile.objects.filter(user=agent).update(email_digest=EmailDigest.HOURLY)

    page = admin.get(edit_url(agent)).content.decode()

    assert '<label for="id_email_digest">Email digest</label>' in page
    assert re.search(r'<option value="hourly" selected>', page)


def test_an_admin_sets_an_agents_digest(admin: Client, agent: User) -> None:
    response = admin.post(edit_url(agent), FORM | {"email_digest": "off"})

    assert response.status_code == 302
    assert AgentProfile.objects.get(user=agent).email_digest == EmailDigest.OFF


def test_a_form_posted_without_the_digest_leaves_it_as_it_is(admin: Client, agent: User) -> None:
    AgentProfile.objects.filter(user=agent).update(email_digest=EmailDigest.HOURLY)

    response = admin.post(edit_url(agent), FORM | {"capacity": "9"})

    assert response.status_code == 302
    profile = AgentProfile.objects.get(user=agent)
    assert (profile.capacity, profile.email_digest) == (9, EmailDigest.HOURLY)


def test_an_unknown_digest_is_refused_and_nothing_is_saved(admin: Client, agent: User) -> None:
    response = admin.post(edit_url(agent), FORM | {"capacity": "9", "email_digest": "weekly"})

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    profile = AgentProfile.objects.get(user=agent)
    assert (profile.capacity, profile.email_digest) == (20, EmailDigest.DAILY)


def test_a_refused_agent_change_saves_no_digest_either(admin: Client) -> None:
    me = AgentProfile.objects.get(user__username="ada")

    response = admin.post(
        reverse("settings_agent_edit", args=[me.pk]),
        FORM | {"role": Role.AGENT, "email_digest": "off"},
    )

    assert response.status_code == 400  # the last admin cannot step down
    assert AgentProfile.objects.get(pk=me.pk).email_digest == EmailDigest.DAILY
