"""Saving and deleting saved views through the service: the rule is checked and stored in the
engine's own form, and only the owner (or an admin) may change a view."""

from __future__ import annotations

import pytest

from patron.core.errors import InvalidInput, NotAllowed
from patron.people.models import Role
from patron.tickets.models import SavedView
from patron.tickets.saved_views import delete_view, save_view
from tests import factories


@pytest.mark.django_db
def test_it_stores_the_rule_in_the_engines_form() -> None:
    agent = factories.agent(password=None)

    view = save_view(
        None,
        actor=agent,
        name=" Urgent ",
        rule={
            "all": [
                {"field": "priority", "op": "in", "value": "urgent, high"},
                {"field": "tag", "value": "vip"},
            ]
        },
        sort="-created",
        columns=["number", "nonsense", "subject"],
    )

    view.refresh_from_db()
    assert view.name == "Urgent"
    assert view.rule == {
        "all": [
            {"field": "priority", "op": "in", "value": ["urgent", "high"]},
            {"field": "tag", "op": "eq", "value": "vip"},
        ]
    }
    assert view.columns == ["number", "subject"]


@pytest.mark.django_db
def test_it_refuses_a_view_whose_rule_cannot_work_and_stores_nothing() -> None:
    agent = factories.agent(password=None)

    with pytest.raises(InvalidInput, match="'lost' is not a status"):
        save_view(
            None, actor=agent, name="Lost", rule={"all": [{"field": "status", "value": "lost"}]}
        )

    assert not SavedView.objects.exists()


@pytest.mark.django_db
def test_it_lets_only_the_owner_or_an_admin_change_or_delete_a_view() -> None:
    owner, other = factories.agent(password=None), factories.agent(password=None)
    admin = factories.agent(Role.ADMIN, password=None)
    view = save_view(None, actor=owner, name="Mine", rule={})

    with pytest.raises(NotAllowed):
        save_view(view, actor=other, name="Theirs", rule={})
    with pytest.raises(NotAllowed):
        delete_view(view, actor=other)
    save_view(view, actor=admin, name="Renamed", rule={})
    delete_view(view, actor=admin)

    assert not SavedView.objects.exists()
