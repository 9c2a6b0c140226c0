"""Every change to agents and teams goes through these functions: creating agents, what they may
do and what work suits them, deactivating them (never deleting: their name stays on their
tickets); creating, renaming and deleting teams."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet

from patron.core.errors import InvalidInput, unique_or
from patron.people import permissions
from patron.people.models import AgentProfile, Availability, Role, Team


def create_agent(
    *,
    username: str,
    email: str,
    password: str | None,
    role: str = Role.AGENT,
    first_name: str = "",
    last_name: str = "",
    teams: Iterable[Team] = (),
    restricted_to_teams: bool = False,
) -> AgentProfile:
    """Create a Django user and their agent profile; admins may also use Django's admin."""
    if role not in Role.values:
        raise InvalidInput(f"Role must be one of {', '.join(Role.values)}, not {role!r}.")
    user_model = get_user_model()
    with transaction.atomic():
        user = user_model.objects.create_user(
            username=username,
            email=email,
            password=password,
            first_name=first_name,
            last_name=last_name,
            is_staff=role == Role.ADMIN,
            is_superuser=role == Role.ADMIN,
        )
        profile = AgentProfile.objects.create(
            user=user, role=role, restricted_to_teams=restricted_to_teams
        )
        profile.teams.set(list(teams))
    return profile


def _other_active_admins(profile: AgentProfile) -> bool:
    return (
        AgentProfile.objects.filter(role=Role.ADMIN, user__is_active=True)
        .exclude(pk=profile.pk)
        .exists()
    )


def update_agent(
    profile: AgentProfile,
    *,
    actor: User,
    role: str | None = None,
    teams: Iterable[Team] | None = None,
    skills: Iterable[str] | None = None,
    languages: Iterable[str] | None = None,
    capacity: int | None = None,
    availability: str | None = None,
    restricted_to_teams: bool | None = None,
    active: bool | None = None,
) -> AgentProfile:
    """Change what an agent may do and what work suits them (None leaves a field as it is).

    Agents are deactivated, never deleted: their name stays on the tickets they worked. The
    last active admin cannot be demoted or deactivated, or nobody could change settings."""
    permissions.check_administer(actor)
    if role is not None and role not in Role.values:
        raise InvalidInput(f"Role must be one of {', '.join(Role.values)}, not {role!r}.")
    if availability is not None and availability not in Availability.values:
        raise InvalidInput(
            f"Availability must be one of {', '.join(Availability.values)}, not {availability!r}."
        )
    if capacity is not None and capacity < 0:
        raise InvalidInput("Capacity cannot be negative.")
    losing_admin = profile.role == Role.ADMIN and (
        (role is not None and role != Role.ADMIN) or active is False
    )
    with transaction.atomic():
        if losing_admin:  # two admins stepping down at once must not both succeed
            list(AgentProfile.objects.select_for_update().filter(role=Role.ADMIN))
        if losing_admin and profile.user.is_active and not _other_active_admins(profile):
            who = "yourself" if profile.user_id == actor.pk else str(profile.user)
            raise InvalidInput(
                f"You cannot demote or deactivate {who}: Patron needs at least one active admin. "
                "Make another agent an admin first."
            )
        if role is not None:
            profile.role = role
        if skills is not None:
            profile.skills = sorted({s.strip() for s in skills if s.strip()})
        if languages is not None:
            profile.languages = sorted({s.strip() for s in languages if s.strip()})
        if capacity is not None:
            profile.capacity = capacity
        if availability is not None:
            profile.availability = availability
        if restricted_to_teams is not None:
            profile.restricted_to_teams = restricted_to_teams
        # Only what this function edits: a digest run may be writing last_digest_* meanwhile.
        profile.save(
            update_fields=[
                "role", "skills", "languages", "capacity", "availability", "restricted_to_teams",
            ]
        )  # fmt: skip
        if teams is not None:
            profile.teams.set(list(teams))
        user = profile.user
        user.is_staff = user.is_superuser = profile.role == Role.ADMIN
        if active is not None:
            user.is_active = active
        user.save(update_fields=["is_staff", "is_superuser", "is_active"])
    return profile


# Teams


def save_team(team: Team | None, *, actor: User, name: str, description: str = "") -> Team:
    """Create a team (team=None) or rename it."""
    permissions.check_administer(actor)
    name = name.strip()
    if not name:
        raise InvalidInput("A team needs a name.")
    same_name = Team.objects.filter(name__iexact=name)
    if team is not None:
        same_name = same_name.exclude(pk=team.pk)
    taken = f"A team called {name!r} already exists."
    if same_name.exists():
        raise InvalidInput(taken)
    team = team or Team()
    team.name = name
    team.description = description.strip()
    with unique_or(taken):
        team.save()
    return team


def delete_team(team: Team, *, actor: User) -> None:
    """Delete a team no ticket refers to; otherwise tickets would silently lose their team."""
    permissions.check_administer(actor)
    with transaction.atomic():
        count = team.tickets.count()
        if count:
            raise InvalidInput(
                f"{team.name} cannot be deleted: {count} "
                f"{'ticket belongs' if count == 1 else 'tickets belong'} to it. "
                "Move them to another team first."
            )
        team.delete()


def agents() -> QuerySet[User]:
    """People who can be an account manager."""
    user_model: type[User] = get_user_model()
    return user_model.objects.filter(agent__isnull=False, is_active=True).order_by(
        "first_name", "username"
    )
