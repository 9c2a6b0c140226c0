"""Consumers of ticket events that write notifications (registered in `patron.core.consumers`).

Each writes at most one notification per recipient and event (`notification_once`), however
often the event is delivered."""

from __future__ import annotations

from patron.core import wake
from patron.notifications.models import (
    ASSIGNED_TO_YOU,
    CLIENT_WAITING,
    FOLLOWING,
    MENTIONED,
    SLA_AT_RISK,
    YOUR_TICKET,
    Notification,
)
from patron.people.models import AgentProfile, Relationship, Role
from patron.tickets.models import EventKind, TicketEvent
from patron.tickets.queries import OPEN_STATUSES, is_opening_message


def notify_followers(event: TicketEvent) -> None:
    """Tell the ticket's followers, assignee and anyone @mentioned what happened, except whoever
    did it."""
    ticket = event.ticket
    reasons: dict[int, str] = {}
    for user_id in ticket.followers.values_list("pk", flat=True):
        reasons[user_id] = FOLLOWING
    if event.kind == EventKind.ASSIGNED and event.data.get("to"):
        reasons[int(event.data["to"])] = ASSIGNED_TO_YOU
    elif ticket.assignee_id is not None:
        reasons.setdefault(ticket.assignee_id, YOUR_TICKET)
    if event.kind == EventKind.MESSAGE_ADDED:
        for user_id in event.data.get("mentions", []):
            reasons[int(user_id)] = MENTIONED
    if event.actor_agent_id is not None:
        reasons.pop(event.actor_agent_id, None)
    _tell(event, reasons)


def notify_account_manager(event: TicketEvent) -> None:
    """A client wrote in (new ticket or public reply): tell their account manager, unless the
    manager did it themselves."""
    ticket = event.ticket
    if event.kind == EventKind.CREATED:
        organization = ticket.organization or ticket.requester.organization
    elif event.kind == EventKind.MESSAGE_ADDED:
        if not event.data.get("public") or event.actor_contact is None:
            return
        if is_opening_message(event):
            return  # its `created` event already told them
        organization = event.actor_contact.organization
    else:
        return
    if organization is None or organization.relationship != Relationship.CLIENT:
        return
    manager_id = organization.account_manager_id
    if manager_id is None or manager_id == event.actor_agent_id:
        return
    _tell(event, {manager_id: CLIENT_WAITING})


def notify_sla(event: TicketEvent) -> None:
    """An SLA warning or breach: tell the assignee and the leads (supervisors) of the ticket's
    team; a ticket with neither goes to every supervisor, so a breach never goes unseen. A
    breach found only after its clock stopped, or on a ticket since solved (the worker was down;
    a history loaded by the demo or an import), is on the timeline and in the report, not in
    anyone's bell: nobody can act on it any more."""
    ticket = event.ticket
    if ticket.status not in OPEN_STATUSES or event.data.get("stopped_at"):
        return
    leads = AgentProfile.objects.filter(role=Role.SUPERVISOR, user__is_active=True)
    recipients = set(
        leads.filter(teams=ticket.team_id).values_list("user_id", flat=True)
        if ticket.team_id is not None
        else ()
    )
    if ticket.assignee_id is not None:
        recipients.add(ticket.assignee_id)
    if not recipients:
        recipients = set(leads.values_list("user_id", flat=True))
    _tell(event, dict.fromkeys(recipients, SLA_AT_RISK))


def _tell(event: TicketEvent, reasons: dict[int, str]) -> None:
    """One notification per recipient (user id: reason), then wake the live streams."""
    Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=user_id,
                event=event,
                ticket=event.ticket,
                reason=reason,
                created_at=event.at,
            )
            for user_id, reason in sorted(reasons.items())
        ],
        ignore_conflicts=True,
    )
    wake.announce()
