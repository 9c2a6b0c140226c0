"""Saving and deleting an agent's inbox views: checked here, so a page and the API alike
store only a view that works."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User

from patron import conditions
from patron.core.errors import InvalidInput
from patron.people import permissions
from patron.people.models import Team
from patron.tickets.inbox import COLUMNS, SORTS, AnyUser, check_edit_saved_view
from patron.tickets.models import SavedView


def teams_to_share_with(user: AnyUser) -> list[Team]:
    """The teams this user may share a view with: their own, or every team for an admin."""
    profile = permissions.profile_of(user)
    if permissions.is_admin(user):
        return list(Team.objects.all())
    return list(profile.teams.all()) if profile else []


def save_view(
    view: SavedView | None,
    *,
    actor: User,
    name: str,
    rule: Any,
    sort: str = "-updated",
    columns: Sequence[str] = (),
    team: Team | None = None,
) -> SavedView:
    """Create (view=None) or change a saved view; InvalidInput names what to fix."""
    if not permissions.is_agent(actor):
        raise InvalidInput("Only agents have saved views.")
    if view is not None and view.pk is not None:
        check_edit_saved_view(actor, view)
    name = name.strip()
    if not name:
        raise InvalidInput("Give the view a name.")
    if sort.lstrip("-") not in SORTS:
        raise InvalidInput(f"Sort by one of {', '.join(SORTS)}.")
    if team is not None and team not in teams_to_share_with(actor):
        raise InvalidInput("You can share a view only with a team you are in.")
    stored = conditions.validate("ticket", rule)
    view = view or SavedView(owner=actor)
    view.name = name
    view.rule = stored
    view.sort = sort
    view.columns = [column for column in columns if column in COLUMNS]
    view.shared_with_team = team
    view.save()
    return view


def delete_view(view: SavedView, *, actor: User) -> None:
    check_edit_saved_view(actor, view)
    view.delete()
