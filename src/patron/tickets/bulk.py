"""Bulk actions from the inbox: one action applied ticket by ticket through the services, so
every change checks permission and writes its event; a refusal skips that ticket with its
reason and the rest go on."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied

from patron.conditions.fields import NOBODY
from patron.core.errors import InvalidInput, PatronError
from patron.people import permissions
from patron.people.models import Role, Team
from patron.tickets import merging, services
from patron.tickets.inbox import AnyUser, base_tickets
from patron.tickets.models import Ticket

BULK_ACTIONS = ("assign", "team", "status", "priority", "add_tags", "remove_tags", "merge", "spam")
BULK_PARAMS = ("assignee", "team", "status", "priority", "tags", "merge_into")


@dataclass
class BulkResult:
    updated: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def message(self) -> str:
        text = f"{len(self.updated)} updated"
        if self.skipped:
            reasons = "; ".join(reason.rstrip(".") for _, reason in self.skipped)
            text += f", {len(self.skipped)} skipped: {reasons}"
        return text + "."


def _tags(text: str) -> list[str]:
    return [tag.strip() for tag in text.replace(",", " ").split() if tag.strip()]


def _agent(value: str, *, actor: User) -> User | None:
    if value == "me":
        return actor
    if value in ("", NOBODY):
        return None
    agent = User.objects.filter(pk=int(value) if value.isdigit() else -1).first()
    if agent is None or not permissions.is_agent(agent):
        raise InvalidInput(f"There is no agent {value!r} to assign to.")
    return agent


def _team(value: str) -> Team | None:
    if value in ("", NOBODY):
        return None
    team = Team.objects.filter(pk=int(value) if value.isdigit() else -1).first()
    if team is None:
        raise InvalidInput(f"There is no team {value!r}.")
    return team


def bulk_apply(
    numbers: Iterable[int],
    action: str,
    params: Mapping[str, str],
    *,
    actor: User,
    now: datetime,
) -> BulkResult:
    """Apply one action to each ticket through its service, so every change checks permission
    and writes its event; a refusal skips that ticket with its reason and the rest go on."""
    if action not in BULK_ACTIONS:
        raise InvalidInput(f"Unknown bulk action {action!r}.")
    wanted = sorted(set(numbers))
    if not wanted:
        raise InvalidInput("Select at least one ticket first.")
    tickets = {t.number: t for t in base_tickets(actor).filter(number__in=wanted)}
    result = BulkResult()
    do: Callable[[Ticket], object]
    if action == "assign":
        assignee = _agent(params.get("assignee", ""), actor=actor)
        do = lambda t: services.assign(t, assignee, actor=actor, now=now)  # noqa: E731
    elif action == "team":
        team = _team(params.get("team", ""))
        do = lambda t: services.change_team(t, team, actor=actor, now=now)  # noqa: E731
    elif action == "status":
        status = params.get("status", "")
        do = lambda t: services.change_status(t, status, actor=actor, now=now)  # noqa: E731
    elif action == "priority":
        priority = params.get("priority", "")
        do = lambda t: services.change_priority(t, priority, actor=actor, now=now)  # noqa: E731
    elif action in ("add_tags", "remove_tags"):
        given = {tag.lower() for tag in _tags(params.get("tags", ""))}
        if not given:
            raise InvalidInput("Write the tags to add or remove.")

        def do(t: Ticket) -> None:
            current = set(t.tags.values_list("name", flat=True))
            new = current | given if action == "add_tags" else current - given
            services.set_tags(t, new, actor=actor, now=now)

    elif action == "merge":
        into = params.get("merge_into", "").strip().lstrip("#")
        target = base_tickets(actor).filter(number=int(into) if into.isdigit() else -1).first()
        if target is None:
            raise InvalidInput("Choose the ticket number to merge the selected tickets into.")
        do = lambda t: merging.merge_tickets(t, target, actor=actor, now=now)  # noqa: E731
        wanted = [n for n in wanted if n != target.number]
    else:
        do = lambda t: services.mark_spam(t, actor=actor, now=now)  # noqa: E731
    for number in wanted:
        ticket = tickets.get(number)
        if ticket is None:
            result.skipped.append((number, f"#{number} is not a ticket you can see"))
            continue
        try:
            do(ticket)
        except (PatronError, PermissionDenied) as error:
            result.skipped.append((number, str(error)))
        else:
            result.updated.append(number)
    return result


def may_bulk_change(user: AnyUser) -> bool:
    """Whether to offer the bulk-action bar at all (the services still check every ticket)."""
    return permissions.role_of(user) not in (None, Role.LIGHT_AGENT)
