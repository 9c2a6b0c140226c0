"""The Notification model moved from core to this app in state only: an existing database keeps
its `core_notification` table and rows, and reads them through the new model."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from patron.notifications.models import Notification
from patron.tickets.models import TicketEvent
from tests import factories

BEFORE = [("core", "0002_presence")]


@pytest.mark.django_db(transaction=True)
def test_rows_written_before_the_move_are_read_after_it(now: datetime) -> None:
    agent = factories.agent(username="maria", password=None)
    assert isinstance(agent, User)
    ticket = factories.ticket(now=now, subject="Refund")
    event = TicketEvent.objects.filter(ticket=ticket).latest("id")
    Notification.objects.all().delete()

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("core", "Notification")
    assert old._meta.db_table == "core_notification"
    written = old.objects.create(
        recipient_id=agent.pk, event_id=event.pk, ticket_id=ticket.pk, reason="x", created_at=now
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert "core_notification" in connection.introspection.table_names()
    moved = Notification.objects.get(pk=written.pk)
    assert (moved.recipient, moved.event, moved.ticket) == (agent, event, ticket)
