"""Settings pages for admins: agents, teams, custom fields, segments, SLA policies and business
calendars. Parse, check, do, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from patron import conditions
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
from patron.admin_ui.pages import INVALID_FORM, admin_of, refuse
from patron.core.errors import InvalidInput
from patron.notifications import services as notification_settings
from patron.people import agents, custom_fields
from patron.people import services as people
from patron.people.models import AgentProfile, CustomFieldDefinition, Segment, Team
from patron.tickets import queries as ticket_queries


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    admin_of(request)
    return redirect("settings_agents")


# Agents


@login_required
@require_GET
def agent_list(request: HttpRequest) -> HttpResponse:
    admin_of(request)
    agents = (
        AgentProfile.objects.select_related("user")
        .prefetch_related("teams")
        .order_by("-user__is_active", "user__username")
    )
    return render(request, "admin_ui/agent_list.html", {"agents": agents, "tab": "agents"})


@login_required
@require_http_methods(["GET", "POST"])
def agent_create(request: HttpRequest) -> HttpResponse:
    admin_of(request)
    form = AgentCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        password = data["password"] or generate_password()
        try:
            profile = agents.create_agent(
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
            refuse(form, refused)
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
    admin = admin_of(request)
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
                agents.update_agent(
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
            refuse(form, refused)
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
    admin = admin_of(request)
    form = TeamForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                team = agents.save_team(None, actor=admin, **form.cleaned_data)
            except InvalidInput as refused:
                refuse(form, refused)
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
    admin = admin_of(request)
    team = get_object_or_404(Team, pk=team_id)
    form = TeamForm(
        request.POST or None, initial={"name": team.name, "description": team.description}
    )
    if request.method == "POST" and form.is_valid():
        try:
            agents.save_team(team, actor=admin, **form.cleaned_data)
        except InvalidInput as refused:
            refuse(form, refused)
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
    admin = admin_of(request)
    team = get_object_or_404(Team, pk=team_id)
    try:
        agents.delete_team(team, actor=admin)
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
    admin_of(request)
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
    admin = admin_of(request)
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
            saved = custom_fields.save_custom_field(
                definition, actor=admin, **_custom_field_values(form)
            )
        except InvalidInput as refused:
            refuse(form, refused)
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
    admin = admin_of(request)
    definition = get_object_or_404(CustomFieldDefinition, pk=field_id)
    if request.method == "POST":
        custom_fields.delete_custom_field(definition, actor=admin)
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
    admin_of(request)
    people.ensure_builtin_segments()
    segments = [(segment, _sentence(segment.rule)) for segment in Segment.objects.all()]
    return render(request, "admin_ui/segment_list.html", {"segments": segments, "tab": "segments"})


def _sentence(rule: Any) -> str:
    """The rule in words; a rule the engine no longer reads (a field since deleted) as stored."""
    try:
        return conditions.describe("contact", rule)
    except InvalidInput:
        return str(rule)


def _segment_forms(data: Any, segment: Segment | None) -> tuple[SegmentForm, Any]:
    initial: dict[str, Any] = {"match": "all"}
    rows: list[dict[str, Any]] = []
    if segment is not None:
        match, rows = condition_initial(segment.rule)
        initial = {"name": segment.name, "description": segment.description, "match": match}
    form = SegmentForm(data, initial=initial)
    condition_forms = ConditionFormSet(data, initial=rows, prefix="conditions")
    return form, condition_forms


@login_required
@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, segment_id: int | None = None) -> HttpResponse:
    admin = admin_of(request)
    segment = get_object_or_404(Segment, pk=segment_id) if segment_id else None
    form, condition_forms = _segment_forms(request.POST or None, segment)
    if request.method == "POST" and form.is_valid() and condition_forms.is_valid():
        try:
            saved = people.save_segment(
                segment,
                actor=admin,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                rule=build_rule(form, condition_forms),
            )
        except InvalidInput as refused:
            refuse(form, refused)
        else:
            messages.success(request, f"Saved the segment {saved.name}.")
            return redirect("settings_segments")
    status = INVALID_FORM if form.is_bound else 200
    return render(
        request,
        "admin_ui/segment_form.html",
        {
            "form": form,
            "conditions": condition_forms,
            "sentence": _sentence(segment.rule) if segment is not None else "",
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
    admin_of(request)
    form, condition_forms = _segment_forms(request.GET, None)
    form.is_valid()
    condition_forms.is_valid()
    counts: dict[str, int] | None = None
    error = ""
    try:
        counts = ticket_queries.segment_counts(build_rule(form, condition_forms))
    except InvalidInput as refused:
        error = str(refused)
    return render(request, "admin_ui/_segment_preview.html", {"counts": counts, "error": error})


@login_required
@require_POST
def segment_delete(request: HttpRequest, segment_id: int) -> HttpResponse:
    admin = admin_of(request)
    segment = get_object_or_404(Segment, pk=segment_id)
    try:
        people.delete_segment(segment, actor=admin)
    except InvalidInput as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Deleted the segment {segment.name}.")
    return redirect("settings_segments")
