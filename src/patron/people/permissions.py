"""The one place that decides who may see and change what (DESIGN invariant 5).

Every page and API endpoint asks here; `check_*` raise NotAllowed with a reason a person can
read, `may_*` answer yes or no. Roles: admin > supervisor > agent > light agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from patron.core.errors import NotAllowed
from patron.people.models import AgentProfile, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from patron.tickets.models import Ticket

    AnyUser = AbstractBaseUser | AnonymousUser


def profile_of(user: AnyUser) -> AgentProfile | None:
    # The anonymous user is no User, and every signed-in one is (AUTH_USER_MODEL is auth.User).
    if not isinstance(user, User) or not user.is_authenticated or not user.is_active:
        return None
    try:
        return user.agent
    except AgentProfile.DoesNotExist:
        return None


def role_of(user: AnyUser) -> str | None:
    profile = profile_of(user)
    return profile.role if profile else None


def is_agent(user: AnyUser) -> bool:
    return profile_of(user) is not None


def is_admin(user: AnyUser) -> bool:
    return role_of(user) == Role.ADMIN


def sees_every_ticket(user: AnyUser) -> bool:
    """Admins, supervisors and agents not restricted to their teams."""
    profile = profile_of(user)
    if profile is None:
        return False
    return profile.role in (Role.ADMIN, Role.SUPERVISOR) or not profile.restricted_to_teams


def visible_tickets(user: AnyUser, tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Narrow a ticket queryset to what this user may see."""
    profile = profile_of(user)
    if profile is None:
        return tickets.none()
    if sees_every_ticket(user):
        return tickets
    team_ids = list(profile.teams.values_list("pk", flat=True))
    return tickets.filter(Q(team_id__in=team_ids) | Q(assignee_id=profile.user_id))


def may_view_ticket(user: AnyUser, ticket: Ticket) -> bool:
    profile = profile_of(user)
    if profile is None:
        return False
    if profile.role in (Role.ADMIN, Role.SUPERVISOR) or not profile.restricted_to_teams:
        return True
    if ticket.assignee_id == profile.user_id:
        return True
    return ticket.team_id is not None and profile.teams.filter(pk=ticket.team_id).exists()


def check_view_ticket(user: AnyUser, ticket: Ticket) -> None:
    if profile_of(user) is None:
        raise NotAllowed("Only agents can open tickets.")
    if not may_view_ticket(user, ticket):
        raise NotAllowed(f"Ticket #{ticket.number} belongs to a team you are not in.")


def check_change_ticket(user: AnyUser, ticket: Ticket) -> None:
    """Fields, assignment, status, merge: agents and above, not light agents."""
    check_view_ticket(user, ticket)
    if role_of(user) == Role.LIGHT_AGENT:
        raise NotAllowed("Light agents can add internal notes but cannot change tickets.")


def check_reply(user: AnyUser, ticket: Ticket, *, public: bool) -> None:
    check_view_ticket(user, ticket)
    if public and role_of(user) == Role.LIGHT_AGENT:
        raise NotAllowed("Light agents cannot reply to customers; add an internal note instead.")


def check_create_ticket(user: AnyUser) -> None:
    if role_of(user) in (None, Role.LIGHT_AGENT):
        raise NotAllowed("Only agents can create tickets on someone's behalf.")


def check_manage_people(user: AnyUser) -> None:
    """Create, edit and merge contacts and organizations."""
    if role_of(user) in (None, Role.LIGHT_AGENT):
        raise NotAllowed("Only agents can change contacts and organizations.")


def check_change_relationship(user: AnyUser) -> None:
    """Turning a customer into a client (or back) changes SLAs and reports: supervisors up."""
    if role_of(user) not in (Role.ADMIN, Role.SUPERVISOR):
        raise NotAllowed("Only supervisors and admins can change an organization's relationship.")


def may_see_reports(user: AnyUser) -> bool:
    """Reports (SLA compliance, breaches) compare teams and agents: supervisors and admins."""
    return role_of(user) in (Role.ADMIN, Role.SUPERVISOR)


def check_see_reports(user: AnyUser) -> None:
    if not may_see_reports(user):
        raise NotAllowed("Only supervisors and admins can see reports.")


def check_administer(user: AnyUser) -> None:
    """Settings: agents, teams, custom fields, segments."""
    if role_of(user) != Role.ADMIN:
        raise NotAllowed("Only admins can change Patron's settings.")
