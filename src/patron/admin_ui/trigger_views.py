"""Settings pages for triggers (admins only): the list in the order they run, one trigger's
rule and actions with a preview of the tickets it would match now, and its firing log. Parse,
check, do, render; the rules live in `patron.automation.services`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from patron.admin_ui.forms import (
    SLA_RULE_FIELDS,
    ConditionFormSet,
    SegmentForm,
    build_rule,
    condition_initial,
)
from patron.admin_ui.pages import INVALID_FORM, admin_of, refuse
from patron.automation import actions, services
from patron.automation.models import Firing, Moment, Trigger
from patron.core import clock
from patron.core.errors import InvalidInput

LOG_LENGTH = 50
ACTION_ROWS = 5


class TriggerForm(SegmentForm):
    moments = forms.MultipleChoiceField(
        choices=Moment.choices, widget=forms.CheckboxSelectMultiple, label="When"
    )
    active = forms.BooleanField(required=False, initial=True, label="Active")


class ActionForm(forms.Form):
    type = forms.ChoiceField(choices=[("", "—"), *actions.KINDS], required=False, label="Do")
    value = forms.CharField(
        required=False,
        label="With",
        help_text="A status, priority or type; a team's id; tags separated by commas; for "
        "Assign: account_manager, none or an agent's id; for Notify: assignee, "
        "account_manager, team_leads or an agent's id.",
    )

    def action(self) -> dict[str, Any] | None:
        kind = self.cleaned_data.get("type") or ""
        if not kind:
            return None
        value = (self.cleaned_data.get("value") or "").strip()
        return {"type": kind, ("to" if kind in ("assign", "notify") else "value"): value}


ActionFormSet = forms.formset_factory(ActionForm, extra=0, min_num=ACTION_ROWS, max_num=20)


def _action_initial(stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for action in stored:
        value = action.get("to", action.get("value"))
        shown = ", ".join(value) if isinstance(value, list) else ("" if value is None else value)
        rows.append({"type": action["type"], "value": shown})
    return rows


@login_required
@require_GET
def trigger_list(request: HttpRequest) -> HttpResponse:
    admin_of(request)
    rows = [(t, services.describe(t)) for t in Trigger.objects.all()]
    return render(request, "admin_ui/trigger_list.html", {"rows": rows, "tab": "triggers"})


def _forms(data: Any, row: Trigger | None) -> tuple[TriggerForm, Any, Any]:
    initial: dict[str, Any] = {"match": "all", "active": True, "moments": [Moment.CREATED]}
    rule_rows: list[dict[str, Any]] = []
    action_rows: list[dict[str, Any]] = []
    if row is not None:
        match, rule_rows = condition_initial(row.rule or {})
        action_rows = _action_initial(row.actions)
        initial = {
            "name": row.name,
            "description": row.description,
            "match": match,
            "moments": row.moments,
            "active": row.active,
        }
    return (
        TriggerForm(data, initial=initial),
        ConditionFormSet(data, initial=rule_rows, prefix="conditions"),
        ActionFormSet(data, initial=action_rows, prefix="actions"),
    )


@login_required
@require_http_methods(["GET", "POST"])
def trigger_edit(request: HttpRequest, trigger_id: int | None = None) -> HttpResponse:
    admin = admin_of(request)
    row = get_object_or_404(Trigger, pk=trigger_id) if trigger_id is not None else None
    form, condition_forms, action_forms = _forms(request.POST or None, row)
    preview: tuple[int, list[Any]] | None = None
    status = 200
    if request.method == "POST":
        valid = form.is_valid() and condition_forms.is_valid() and action_forms.is_valid()
        if valid:
            rule = build_rule(form, condition_forms)
            if "preview" in request.POST:
                try:
                    preview = services.preview(rule)
                except InvalidInput as refused:
                    refuse(form, refused)
                    status = INVALID_FORM
            else:
                values = {
                    "name": form.cleaned_data["name"],
                    "description": form.cleaned_data["description"],
                    "moments": form.cleaned_data["moments"],
                    "active": form.cleaned_data["active"],
                    "rule": rule,
                    "actions": [a for f in action_forms.forms if (a := f.action()) is not None],
                }
                try:
                    saved = services.save_trigger(row, values, actor=admin, now=clock.now())
                except InvalidInput as refused:
                    refuse(form, refused, at={"There is already": "name"})
                else:
                    messages.success(request, f"Saved the trigger {saved.name}.")
                    return redirect("settings_trigger_edit", saved.pk)
                status = INVALID_FORM
        else:
            status = INVALID_FORM
    firings = (
        list(Firing.objects.filter(trigger=row).select_related("ticket")[:LOG_LENGTH])
        if row is not None
        else []
    )
    return render(
        request,
        "admin_ui/trigger_form.html",
        {
            "form": form,
            "conditions": condition_forms,
            "action_forms": action_forms,
            "condition_fields": SLA_RULE_FIELDS,
            "trigger": row,
            "sentence": services.describe(row) if row is not None else "",
            "preview": preview,
            "firings": firings,
            "tab": "triggers",
        },
        status=status,
    )


@login_required
@require_POST
def trigger_move(request: HttpRequest, trigger_id: int) -> HttpResponse:
    """Up or down one place in the order triggers run."""
    admin = admin_of(request)
    row = get_object_or_404(Trigger, pk=trigger_id)
    services.move_trigger(row, -1 if request.POST.get("direction") == "up" else 1, actor=admin)
    return redirect("settings_triggers")


@login_required
@require_POST
def trigger_delete(request: HttpRequest, trigger_id: int) -> HttpResponse:
    admin = admin_of(request)
    row = get_object_or_404(Trigger, pk=trigger_id)
    services.delete_trigger(row, actor=admin)
    messages.success(request, f"Deleted the trigger {row.name} and its log.")
    return redirect("settings_triggers")
