"""The fields rules can name on tickets; a ticket also reaches its requester's and its
organization's fields (`patron.people.conditions`). Registered by `patron.conditions.registry`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from patron.conditions.fields import ChoiceField, DateField, ManyField, ReferenceField, TextField
from patron.conditions.targets import (
    Path,
    Target,
    register_custom_fields,
    register_field,
    register_target,
)
from patron.people.models import Team
from patron.tickets.models import Channel, Priority, Status, Ticket, TicketType


def _itself(obj: Any) -> Any:
    return obj


def _tagged(op: str, value: str) -> Any:
    lookup = "icontains" if op == "contains" else "iexact"
    through = Ticket.tags.through.objects
    return through.filter(**{f"tag__name__{lookup}": value.strip()}).values("ticket_id")


def register() -> None:
    register_target(
        Target(
            "ticket",
            "tickets",
            Ticket,
            {
                "self": Path("", _itself),
                "ticket": Path("", _itself),
                "contact": Path("requester__", lambda t: t.requester),
                "organization": Path("organization__", lambda t: t.organization),
            },
        )
    )
    register_custom_fields("ticket", Ticket)
    for field in (
        ChoiceField("status", "Status", subject="ticket", attribute="status", choices=Status),
        ChoiceField(
            "priority", "Priority", subject="ticket", attribute="priority", choices=Priority
        ),
        ChoiceField("type", "Type", subject="ticket", attribute="type", choices=TicketType),
        ChoiceField("channel", "Channel", subject="ticket", attribute="channel", choices=Channel),
        ReferenceField("team", "Team", subject="ticket", attribute="team", model=Team),
        ReferenceField(
            "assignee",
            "Assignee",
            subject="ticket",
            attribute="assignee",
            name_attribute="username",
            model=User,
        ),
        ManyField(
            "tag",
            "Tag",
            subject="ticket",
            rows=_tagged,
            names=lambda ticket: [tag.name for tag in ticket.tags.all()],
        ),
        TextField("subject", "Subject", subject="ticket", attribute="subject"),
        DateField("updated", "Updated", subject="ticket", attribute="updated_at"),
    ):
        register_field(field)
