"""Segments and saved views move onto the one engine with every stored rule kept: old saved-view
condition lists become {"all": [...]}, "a, b" becomes a list, a missing op becomes "eq", and a
condition the engine refuses is kept as written."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from patron import conditions
from patron.people.models import Segment
from patron.tickets.models import SavedView
from tests import factories

BEFORE = [("tickets", "0006_event_actor_name"), ("people", "0005_peopleevent_outbox")]


@pytest.mark.django_db(transaction=True)
def test_stored_rules_survive_the_move_in_the_engines_form() -> None:
    agent = factories.agent(password=None)
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    view = old.get_model("tickets", "SavedView").objects.create(
        name="Urgent VIP",
        owner_id=agent.pk,
        conditions=[
            {"field": "priority", "op": "in", "value": "urgent, high"},
            {"field": "tag", "op": "eq", "value": "vip"},
            {"field": "mood", "op": "eq", "value": "happy"},  # refused today, kept anyway
        ],
    )
    segment = old.get_model("people", "Segment").objects.create(
        name="Gold or platinum",
        slug="gold-or-platinum",
        rule={
            "any": [
                {"field": "tier", "value": "gold"},
                {"field": "tier", "op": "in", "value": "platinum, diamond"},
            ]
        },
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    moved = SavedView.objects.get(pk=view.pk)
    assert moved.rule == {
        "all": [
            {"field": "priority", "op": "in", "value": ["urgent", "high"]},
            {"field": "tag", "op": "eq", "value": "vip"},
            {"field": "mood", "op": "eq", "value": "happy"},
        ]
    }
    rule = Segment.objects.get(pk=segment.pk).rule
    assert rule == {
        "any": [
            {"field": "tier", "op": "eq", "value": "gold"},
            {"field": "tier", "op": "in", "value": ["platinum", "diamond"]},
        ]
    }
    assert (
        conditions.describe("contact", rule) == 'Tier is "gold" or Tier is "platinum" or "diamond"'
    )
