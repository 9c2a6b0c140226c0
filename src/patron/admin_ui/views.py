"""Settings pages for admins: agents, teams, custom fields, segments. Parse, check, do, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from patron.admin_ui import services
from patron.admin_ui.forms import (
    SEGMENT_FIELDS,
    AgentCreateForm,
    AgentEditForm,
    ConditionFormSet,
    CustomFieldForm,
    SegmentForm,
    TeamForm,
    build_rule,
    condition_initial,
    generate_password,
)
from patron.core import permissions
from patron.core.errors import InvalidInput
from patron.notifications import services as notification_settings
from patron.people import services as people
from patron.people.models import AgentProfile, CustomFieldDefinition, Segment, Team

INVALID_FORM = 400


def _admin(request: HttpRequest) -> User:
    """The admin making the request; anyone else gets the 403 page with the reason."""
    permissions.check_administer(request.user)
    assert isinstance(request.user, User)
    return request.user


def _refuse(form: Any, error: InvalidInput) -> None:
    """Put a service's refusal next to the field its message starts with, else on top."""
    message = str(error)
    for name, field in form.fields.items():
        label = str(field.label or name.replace("_", " ").capitalize())
        if message.startswith(f"{label}:"):
            form.add_error(name, message.removeprefix(f"{label}:").strip())
            return
    form.add_error(None, message)


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    _admin(request)
    return redirect("settings_agents")


# Agents


@login_required
@require_GET
def agent_list(request: HttpRequest) -> HttpResponse:
    _admin(request)
    agents = (
        AgentProfile.objects.select_related("user")
        .prefetch_related("teams")
        .order_by("-user__is_active", "user__username")
    )
    return render(request, "admin_ui/agent_list.html", {"agents": agents, "tab": "agents"})


@login_required
@require_http_methods(["GET", "POST"])
def agent_create(request: HttpRequest) -> HttpResponse:
    _admin(request)
    form = AgentCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        password = data["password"] or generate_password()
        try:
            profile = people.create_agent(
                username=data["username"],
                email=data["email"],
                password=password,
                role=data["role"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                teams=data["teams"],
                restricted_to_teams=data["restricted_to_teams"],
            )
        except InvalidInput as refused:
            _refuse(form, refused)
        else:
            # Shown once, on this response only; it is stored hashed.
            return render(
                request,
                "admin_ui/agent_created.html",
                {
                    "profile": profile,
                    "password": None if data["password"] else password,
                    "tab": "agents",
                },
            )
    status = INVALID_FORM if form.is_bound else 200
    return render(
        request, "admin_ui/agent_form.html", {"form": form, "tab": "agents"}, status=status
    )


@login_required
@require_http_methods(["GET", "POST"])
def agent_edit(request: HttpRequest, profile_id: int) -> HttpResponse:
    admin = _admin(request)
    profile = get_object_or_404(AgentProfile.objects.select_related("user"), pk=profile_id)
    initial = {
        "role": profile.role,
        "teams": list(profile.teams.all()),
        "skills": ", ".join(profile.skills),
        "languages": ", ".join(profile.languages),
        "capacity": profile.capacity,
        "availability": profile.availability,
        "restricted_to_teams": profile.restricted_to_teams,
        "active": profile.user.is_active,
        "email_digest": profile.email_digest,
    }
    form = AgentEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                people.update_agent(
                    profile,
                    actor=admin,
                    role=data["role"],
                    teams=data["teams"],
                    skills=data["skills"],
                    languages=data["languages"],
                    capacity=data["capacity"],
                    availability=data["availability"],
                    restricted_to_teams=data["restricted_to_teams"],
                    active=data["active"],
                )
                if data["email_digest"]:
                    notification_settings.set_email_digest(
                        profile, actor=admin, frequency=data["email_digest"]
                    )
        except InvalidInput as refused:
            _refuse(form, refused)
            profile.refresh_from_db()
        else:
            messages.success(request, f"Saved {profile.user.username}.")
            return redirect("settings_agents")
    status = INVALID_FORM if form.is_bound else 200
    return render(
        request,
        "admin_ui/agent_form.html",
        {"form": form, "profile": profile, "tab": "agents"},
        status=status,
    )


# Teams


@login_required
@require_http_methods(["GET", "POST"])
def team_list(request: HttpRequest) -> HttpResponse:
    admin = _admin(request)
    form = TeamForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                team = services.save_team(None, actor=admin, **form.cleaned_data)
            except InvalidInput as refused:
                _refuse(form, refused)
            else:
                messages.success(request, f"Created the team {team.name}.")
                return redirect("settings_teams")
        status = INVALID_FORM
    teams = Team.objects.annotate(
        member_count=Count("agents", distinct=True), ticket_count=Count("tickets", distinct=True)
    )
    return render(
        request,
        "admin_ui/team_list.html",
        {"teams": teams, "form": form, "tab": "teams"},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def team_edit(request: HttpRequest, team_id: int) -> HttpResponse:
    admin = _admin(request)
    team = get_object_or_404(Team, pk=team_id)
    form = TeamForm(
        request.POST or None, initial={"name": team.name, "description": team.description}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.save_team(team, actor=admin, **form.cleaned_data)
        except InvalidInput as refused:
            _refuse(form, refused)
            team.refresh_from_db()
        else:
            messages.success(request, f"Saved the team {team.name}.")
            return redirect("settings_teams")
    status = INVALID_FORM if form.is_bound else 200
    return render(
        request,
        "admin_ui/team_form.html",
        {"form": form, "team": team, "tab": "teams"},
        status=status,
    )


@login_required
@require_POST
def team_delete(request: HttpRequest, team_id: int) -> HttpResponse:
    admin = _admin(request)
    team = get_object_or_404(Team, pk=team_id)
    try:
        services.delete_team(team, actor=admin)
    except InvalidInput as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Deleted the team {team.name}.")
    return redirect("settings_teams")


# Custom fields


def _custom_field_values(form: CustomFieldForm) -> dict[str, Any]:
    return dict(form.cleaned_data)


@login_required
@require_GET
def custom_field_list(request: HttpRequest) -> HttpResponse:
    _admin(request)
    definitions = CustomFieldDefinition.objects.all()
    kinds = [
        (label, [d for d in definitions if d.applies_to == value])
        for value, label in CustomFieldDefinition.AppliesTo.choices
    ]
    return render(
        request, "admin_ui/custom_field_list.html", {"kinds": kinds, "tab": "custom_fields"}
    )


@login_required
@require_http_methods(["GET", "POST"])
def custom_field_edit(request: HttpRequest, field_id: int | None = None) -> HttpResponse:
    admin = _admin(request)
    definition = get_object_or_404(CustomFieldDefinition, pk=field_id) if field_id else None
    initial: dict[str, Any] = {"applies_to": request.GET.get("applies_to", "contact")}
    if definition is not None:
        initial = {
            "applies_to": definition.applies_to,
            "key": definition.key,
            "label": definition.label,
            "field_type": definition.field_type,
            "choices": "\n".join(definition.choices),
            "required": definition.required,
            "public": definition.public,
            "position": definition.position,
        }
    form = CustomFieldForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_custom_field(
                definition, actor=admin, **_custom_field_values(form)
            )
        except InvalidInput as refused:
            _refuse(form, refused)
        else:
            messages.success(request, f"Saved the {saved.applies_to} field {saved.label}.")
            return redirect("settings_custom_fields")
    status = INVALID_FORM if form.is_bound else 200
    return render(
        request,
        "admin_ui/custom_field_form.html",
        {"form": form, "definition": definition, "tab": "custom_fields"},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def custom_field_delete(request: HttpRequest, field_id: int) -> HttpResponse:
    admin = _admin(request)
    definition = get_object_or_404(CustomFieldDefinition, pk=field_id)
    if request.method == "POST":
        services.delete_custom_field(definition, actor=admin)
        messages.success(request, f"Deleted the {definition.applies_to} field {definition.label}.")
        return redirect("settings_custom_fields")
    return render(
        request,
        "admin_ui/custom_field_delete.html",
        {"definition": definition, "tab": "custom_fields"},
    )


# Segments


@login_required
@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    _admin(request)
    people.ensure_builtin_segments()
    return render(
        request,
        "admin_ui/segment_list.html",
        {"segments": Segment.objects.all(), "tab": "segments"},
    )


def _segment_forms(data: Any, segment: Segment | None) -> tuple[SegmentForm, Any]:
    initial: dict[str, Any] = {"match": "all"}
    rows: list[dict[str, Any]] = []
    if segment is not None:
        match, rows = condition_initial(segment.rule)
        initial = {"name": segment.name, "description": segment.description, "match": match}
    form = SegmentForm(data, initial=initial)
    conditions = ConditionFormSet(data, initial=rows, prefix="conditions")
    return form, conditions


@login_required
@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, segment_id: int | None = None) -> HttpResponse:
    admin = _admin(request)
    segment = get_object_or_404(Segment, pk=segment_id) if segment_id else None
    form, conditions = _segment_forms(request.POST or None, segment)
    if request.method == "POST" and form.is_valid() and conditions.is_valid():
        try:
            saved = services.save_segment(
                segment,
                actor=admin,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                rule=build_rule(form, conditions),
            )
        except InvalidInput as refused:
            _refuse(form, refused)
        else:
            messages.success(request, f"Saved the segment {saved.name}.")
            return redirect("settings_segments")
    status = INVALID_FORM if form.is_bound else 200
    return render(
        request,
        "admin_ui/segment_form.html",
        {
            "form": form,
            "conditions": conditions,
            "segment": segment,
            "segment_fields": SEGMENT_FIELDS,
            "tab": "segments",
        },
        status=status,
    )


@login_required
@require_GET
def segment_preview(request: HttpRequest) -> HttpResponse:
    """The htmx fragment under the condition builder: what the rule matches right now."""
    _admin(request)
    form, conditions = _segment_forms(request.GET, None)
    form.is_valid()
    conditions.is_valid()
    counts: dict[str, int] | None = None
    error = ""
    try:
        counts = services.match_counts(build_rule(form, conditions))
    except InvalidInput as refused:
        error = str(refused)
    return render(request, "admin_ui/_segment_preview.html", {"counts": counts, "error": error})


@login_required
@require_POST
def segment_delete(request: HttpRequest, segment_id: int) -> HttpResponse:
    admin = _admin(request)
    segment = get_object_or_404(Segment, pk=segment_id)
    try:
        services.delete_segment(segment, actor=admin)
    except InvalidInput as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Deleted the segment {segment.name}.")
    return redirect("settings_segments")
