"""What a rule may do to a ticket: one JSON shape per action, validated when the rule is saved,
described in words, and applied through `patron.tickets.services` with the rule as the actor.

    {"type": "set_status", "value": "pending"}       set_priority, set_type the same way
    {"type": "set_team", "value": 3}                 a team's id, or null for no team
    {"type": "add_tags", "value": ["vip", "urgent"]} remove_tags the same way
    {"type": "assign", "to": "account_manager"}      or "none", or an agent's user id
    {"type": "notify", "to": "assignee"}             or "account_manager", "team_leads", a user id
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User

from patron.core import wake
from patron.core.errors import InvalidInput
from patron.notifications.models import RULE_ALERT, Notification
from patron.people import permissions
from patron.people.models import AgentProfile, Role, Team
from patron.tickets import services as tickets
from patron.tickets.events import SystemActor
from patron.tickets.models import Priority, Status, Ticket, TicketEvent, TicketType

MAX_ACTIONS = 20
ASSIGN_TO = ("account_manager", "none")
NOTIFY_TO = ("assignee", "account_manager", "team_leads")

Action = dict[str, Any]


def _choice(action: Action, choices: type[Status | Priority | TicketType], what: str) -> Action:
    value = str(action.get("value", "")).strip().lower()
    if what == "type" and value == "":
        return {"type": action["type"], "value": ""}
    if value not in choices.values:
        raise InvalidInput(f"Set {what}: {value!r} is not one of {', '.join(choices.values)}.")
    return {"type": action["type"], "value": value}


def _team(action: Action) -> Action:
    value = action.get("value")
    if value in (None, ""):
        return {"type": "set_team", "value": None}
    if not Team.objects.filter(pk=_int(value, "Set team")).exists():
        raise InvalidInput(f"Set team: there is no team {value}.")
    return {"type": "set_team", "value": int(value)}


def _tags(action: Action) -> Action:
    value = action.get("value")
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list) or not [n for n in names if str(n).strip()]:
        raise InvalidInput(f"{_LABELS[action['type']]}: name at least one tag.")
    return {"type": action["type"], "value": sorted({str(n).strip().lower() for n in names} - {""})}


def _int(value: object, what: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise InvalidInput(f"{what}: {value!r} is not a person's id.") from None


def _person(action: Action, named: tuple[str, ...], what: str) -> Action:
    to = action.get("to")
    if isinstance(to, str) and to in named:
        return {"type": action["type"], "to": to}
    user = User.objects.filter(pk=_int(to, what), is_active=True).first()
    if user is None or not permissions.is_agent(user):
        raise InvalidInput(f"{what}: {to!r} is not an active agent (or one of {', '.join(named)}).")
    return {"type": action["type"], "to": user.pk}


_VALIDATORS: dict[str, Callable[[Action], Action]] = {
    "set_status": lambda a: _choice(a, Status, "status"),
    "set_priority": lambda a: _choice(a, Priority, "priority"),
    "set_type": lambda a: _choice(a, TicketType, "type"),
    "set_team": _team,
    "add_tags": _tags,
    "remove_tags": _tags,
    "assign": lambda a: _person(a, ASSIGN_TO, "Assign"),
    "notify": lambda a: _person(a, NOTIFY_TO, "Notify"),
}
_LABELS = {
    "set_status": "Set status",
    "set_priority": "Set priority",
    "set_type": "Set type",
    "set_team": "Set team",
    "add_tags": "Add tags",
    "remove_tags": "Remove tags",
    "assign": "Assign",
    "notify": "Notify",
}
KINDS = tuple(_LABELS.items())


def validate(actions: object) -> list[Action]:
    """The actions as stored, or InvalidInput saying which one is wrong and why."""
    if not isinstance(actions, list) or not actions:
        raise InvalidInput("Actions: give at least one action.")
    if len(actions) > MAX_ACTIONS:
        raise InvalidInput(f"Actions: at most {MAX_ACTIONS}.")
    cleaned = []
    for action in actions:
        kind = action.get("type") if isinstance(action, dict) else None
        if kind not in _VALIDATORS:
            raise InvalidInput(f"Actions: {kind!r} is not one of {', '.join(_VALIDATORS)}.")
        cleaned.append(_VALIDATORS[kind](action))
    return cleaned


def describe(action: Action) -> str:
    """One action in words: "Set priority to urgent", "Assign to the account manager"."""
    kind, label = action["type"], _LABELS[action["type"]]
    if kind in ("assign", "notify"):
        to = action["to"]
        if to == "none":
            return f"{label} nobody"
        if isinstance(to, str):
            return f"{label} the {to.replace('_', ' ')}"
        return f"{label} {_name(to)}"
    if kind == "set_team":
        team = Team.objects.filter(pk=action["value"]).first() if action["value"] else None
        return f"Set team to {team.name if team else 'no team'}"
    if kind in ("add_tags", "remove_tags"):
        return f"{label} {', '.join(action['value'])}"
    return f"{label} to {action['value'] or 'none'}"


def _name(user_id: int) -> str:
    user = User.objects.filter(pk=user_id).first()
    return (user.get_full_name() or user.username) if user else f"person {user_id}"


# --- applying -------------------------------------------------------------------------------


def _account_manager(ticket: Ticket) -> int | None:
    organization = ticket.organization or ticket.requester.organization
    return organization.account_manager_id if organization is not None else None


def _recipients(ticket: Ticket, to: str | int) -> set[int]:
    if to == "assignee":
        return {ticket.assignee_id} if ticket.assignee_id else set()
    if to == "account_manager":
        manager = _account_manager(ticket)
        return {manager} if manager else set()
    if to == "team_leads":
        leads = AgentProfile.objects.filter(role=Role.SUPERVISOR, user__is_active=True)
        if ticket.team_id is not None:
            leads = leads.filter(teams=ticket.team_id)
        return set(leads.values_list("user_id", flat=True))
    return {int(to)}


def apply(
    action: Action, ticket: Ticket, *, by: SystemActor, cause: TicketEvent, now: datetime
) -> str:
    """Do one action to the ticket as the rule `by`, caused by `cause`; say what was done.
    Raises InvalidInput or IllegalTransition (from the services) when it cannot be done."""
    kind = action["type"]
    common: dict[str, Any] = {"actor": by, "now": now, "cause": cause}
    if kind == "set_status":
        tickets.change_status(ticket, action["value"], **common)
    elif kind == "set_priority":
        tickets.change_priority(ticket, action["value"], **common)
    elif kind == "set_type":
        tickets.change_type(ticket, action["value"], **common)
    elif kind == "set_team":
        tickets.change_team(ticket, Team.objects.filter(pk=action["value"]).first(), **common)
    elif kind in ("add_tags", "remove_tags"):
        current = set(ticket.tags.values_list("name", flat=True))
        wanted = (
            current | set(action["value"]) if kind == "add_tags" else current - set(action["value"])
        )
        tickets.set_tags(ticket, wanted, **common)
    elif kind == "assign":
        to = action["to"]
        user_id = (
            _account_manager(ticket) if to == "account_manager" else (None if to == "none" else to)
        )
        if to == "account_manager" and user_id is None:
            raise InvalidInput(f"Ticket #{ticket.number} has no account manager to assign to.")
        tickets.assign(
            ticket, User.objects.filter(pk=user_id).first() if user_id else None, **common
        )
    elif kind == "notify":
        recipients = _recipients(ticket, action["to"])
        Notification.objects.bulk_create(
            [
                Notification(
                    recipient_id=r, event=cause, ticket=ticket, reason=RULE_ALERT, created_at=now
                )
                for r in sorted(recipients)
            ],
            ignore_conflicts=True,
        )
        wake.announce()
        return f"{describe(action)} ({len(recipients)} told)"
    return describe(action)
