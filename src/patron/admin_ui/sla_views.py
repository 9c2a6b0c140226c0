"""Settings pages for SLA policies and business calendars (admins only). Parse, check, do,
render; the rules live in `patron.sla.services`."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from patron import conditions
from patron.admin_ui.forms import (
    METRIC_LABELS,
    SLA_RULE_FIELDS,
    WEEKDAYS,
    CalendarForm,
    ConditionFormSet,
    HolidayForm,
    HolidayImportForm,
    PolicyForm,
    build_rule,
    calendar_initial,
    condition_initial,
    policy_initial,
)
from patron.admin_ui.pages import INVALID_FORM, admin_of, refuse
from patron.core import clock
from patron.core.errors import InvalidInput
from patron.sla import durations
from patron.sla import services as sla
from patron.sla.models import BusinessCalendar, SlaPolicy
from patron.tickets.models import Priority

# SLA policies


def _targets_in_words(row: SlaPolicy) -> list[str]:
    """Each metric's targets as the list shows them: "First reply, business hours: Normal 1h"."""
    lines = []
    priorities = dict(Priority.choices)
    for metric, label in METRIC_LABELS.items():
        spec = (row.metrics or {}).get(metric)
        if not spec or not spec.get("targets"):
            continue
        measure = "business hours" if spec.get("measure") == "business" else "calendar time"
        targets = ", ".join(
            f"{priorities.get(priority, priority)} {durations.format_duration(minutes)}"
            for priority, minutes in sorted(
                spec["targets"].items(), key=lambda item: list(priorities).index(item[0])
            )
            if minutes is not None
        )
        lines.append(f"{label}, {measure}: {targets}")
    return lines


def _rule_in_words(rule: Any) -> str:
    try:
        return conditions.describe("ticket", rule) or "Every ticket"
    except InvalidInput:
        return str(rule)


@login_required
@require_GET
def sla_policy_list(request: HttpRequest) -> HttpResponse:
    admin_of(request)
    policies = [
        (row, _rule_in_words(row.rule), _targets_in_words(row))
        for row in SlaPolicy.objects.select_related("calendar")
    ]
    return render(
        request, "admin_ui/sla_policy_list.html", {"policies": policies, "tab": "sla_policies"}
    )


def _policy_forms(data: Any, row: SlaPolicy | None) -> tuple[PolicyForm, Any]:
    initial: dict[str, Any] = {"match": "all"}
    rows: list[dict[str, Any]] = []
    if row is not None:
        match, rows = condition_initial(row.rule or {})
        initial = policy_initial(row) | {"match": match}
    return PolicyForm(data, initial=initial), ConditionFormSet(
        data, initial=rows, prefix="conditions"
    )


@login_required
@require_http_methods(["GET", "POST"])
def sla_policy_edit(request: HttpRequest, policy_id: int | None = None) -> HttpResponse:
    admin_of(request)
    row = get_object_or_404(SlaPolicy, pk=policy_id) if policy_id else None
    form, condition_forms = _policy_forms(request.POST or None, row)
    if request.method == "POST" and form.is_valid() and condition_forms.is_valid():
        values = {
            "name": form.cleaned_data["name"],
            "description": form.cleaned_data["description"],
            "active": form.cleaned_data["active"],
            "rule": build_rule(form, condition_forms),
            "calendar": form.cleaned_data["calendar"],
            "metrics": form.metrics(),
            "pause_rules": form.pause_rules(),
        }
        try:
            saved = sla.save_policy(row, values, now=clock.now())
        except InvalidInput as refused:
            refuse(form, refused, at={"There is already": "name"})
        else:
            messages.success(request, f"Saved the SLA policy {saved.name}.")
            return redirect("settings_sla_policies")
    status = INVALID_FORM if form.is_bound else 200
    return render(
        request,
        "admin_ui/sla_policy_form.html",
        {
            "form": form,
            "conditions": condition_forms,
            "condition_fields": SLA_RULE_FIELDS,
            "sentence": _rule_in_words(row.rule) if row is not None else "",
            "policy": row,
            "priorities": Priority.choices,
            "tab": "sla_policies",
        },
        status=status,
    )


@login_required
@require_POST
def sla_policy_move(request: HttpRequest, policy_id: int) -> HttpResponse:
    admin_of(request)
    row = get_object_or_404(SlaPolicy, pk=policy_id)
    steps = {"up": -1, "down": 1}
    direction = request.POST.get("direction", "")
    if direction not in steps:
        return HttpResponse("Say up or down.", status=INVALID_FORM)
    sla.move_policy(row, by=steps[direction])
    messages.success(request, f"Moved {row.name} {direction}.")
    return redirect("settings_sla_policies")


@login_required
@require_http_methods(["GET", "POST"])
def sla_policy_delete(request: HttpRequest, policy_id: int) -> HttpResponse:
    admin_of(request)
    row = get_object_or_404(SlaPolicy, pk=policy_id)
    if request.method == "POST":
        sla.delete_policy(row)
        messages.success(request, f"Deleted the SLA policy {row.name}.")
        return redirect("settings_sla_policies")
    return render(
        request, "admin_ui/sla_policy_delete.html", {"policy": row, "tab": "sla_policies"}
    )


# Business calendars

ICAL_MAX_BYTES = 1_000_000
# The calendar's page holds three forms; each its own ids, so "Name" labels one input.
HOLIDAY_IDS = "id_holiday_%s"
IMPORT_IDS = "id_import_%s"


def _hours_in_words(row: BusinessCalendar) -> str:
    """ "Monday-Friday 09:00-17:00; Saturday 10:00-14:00", or "24/7"."""
    if row.always_open:
        return "24/7"
    initial = calendar_initial(row)
    runs: list[tuple[list[str], str]] = []
    for day, label in WEEKDAYS:
        text = durations.format_intervals(initial.get(day, []))
        if runs and runs[-1][1] == text:
            runs[-1][0].append(label)
        else:
            runs.append(([label], text))
    return "; ".join(
        f"{days[0]}{'-' + days[-1] if len(days) > 1 else ''} {text}" for days, text in runs if text
    )


@login_required
@require_GET
def sla_calendar_list(request: HttpRequest) -> HttpResponse:
    admin_of(request)
    calendars = [
        (row, _hours_in_words(row), [policy.name for policy in row.policies.all()])
        for row in BusinessCalendar.objects.annotate(
            holiday_count=Count("holidays")
        ).prefetch_related("policies")
    ]
    return render(
        request,
        "admin_ui/sla_calendar_list.html",
        {"calendars": calendars, "tab": "sla_calendars"},
    )


def _calendar_page(
    request: HttpRequest,
    row: BusinessCalendar | None,
    *,
    form: CalendarForm | None = None,
    holiday_form: HolidayForm | None = None,
    import_form: HolidayImportForm | None = None,
    status: int = 200,
) -> HttpResponse:
    initial = calendar_initial(row) if row is not None else {"timezone": "UTC"}
    return render(
        request,
        "admin_ui/sla_calendar_form.html",
        {
            "form": form or CalendarForm(initial=initial),
            "holiday_form": holiday_form or HolidayForm(auto_id=HOLIDAY_IDS),
            "import_form": import_form or HolidayImportForm(auto_id=IMPORT_IDS),
            "calendar": row,
            "holidays": row.holidays.all() if row is not None else [],
            "time_zones": sorted(available_timezones()),
            "tab": "sla_calendars",
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def sla_calendar_edit(request: HttpRequest, calendar_id: int | None = None) -> HttpResponse:
    admin_of(request)
    row = get_object_or_404(BusinessCalendar, pk=calendar_id) if calendar_id else None
    if request.method == "GET":
        return _calendar_page(request, row)
    form = CalendarForm(request.POST)
    if form.is_valid():
        values = {
            "name": form.cleaned_data["name"],
            "timezone": form.cleaned_data["timezone"],
            "always_open": form.cleaned_data["always_open"],
            "hours": form.hours(),
        }
        try:
            saved = sla.save_calendar(row, values)
        except InvalidInput as refused:
            refuse(form, refused, at={"There is already": "name"})
        else:
            messages.success(request, f"Saved the calendar {saved.name}.")
            if row is None:  # its holidays are added on its own page
                return redirect("settings_sla_calendar_edit", saved.pk)
            return redirect("settings_sla_calendars")
    if row is not None:
        row.refresh_from_db()
    return _calendar_page(request, row, form=form, status=INVALID_FORM)


@login_required
@require_POST
def sla_calendar_delete(request: HttpRequest, calendar_id: int) -> HttpResponse:
    admin_of(request)
    row = get_object_or_404(BusinessCalendar, pk=calendar_id)
    try:
        sla.delete_calendar(row)
    except InvalidInput as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Deleted the calendar {row.name}.")
    return redirect("settings_sla_calendars")


@login_required
@require_POST
def sla_holiday_add(request: HttpRequest, calendar_id: int) -> HttpResponse:
    admin_of(request)
    row = get_object_or_404(BusinessCalendar, pk=calendar_id)
    form = HolidayForm(request.POST, auto_id=HOLIDAY_IDS)
    if form.is_valid():
        data = form.cleaned_data
        try:
            added = sla.add_holiday_range(row, data["first"], data["last"], name=data["name"])
        except InvalidInput as refused:
            refuse(form, refused)
        else:
            messages.success(request, f"Added {added} holiday{pluralize(added)} to {row.name}.")
            return redirect("settings_sla_calendar_edit", row.pk)
    return _calendar_page(request, row, holiday_form=form, status=INVALID_FORM)


@login_required
@require_POST
def sla_holiday_import(request: HttpRequest, calendar_id: int) -> HttpResponse:
    admin_of(request)
    row = get_object_or_404(BusinessCalendar, pk=calendar_id)
    form = HolidayImportForm(request.POST, request.FILES, auto_id=IMPORT_IDS)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > ICAL_MAX_BYTES:
                raise InvalidInput(
                    f"{upload.name} is {upload.size:,} bytes; a holiday calendar is a few "
                    f"kilobytes (at most {ICAL_MAX_BYTES:,})."
                )
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise InvalidInput(f"{upload.name} is not a text file (UTF-8).") from None
            added = sla.import_holidays(row, text)
        except InvalidInput as refused:
            form.add_error("file", str(refused))
        else:
            messages.success(
                request,
                f"Imported {added} new holiday{pluralize(added)} from {upload.name}."
                if added
                else f"{upload.name} had no dates {row.name} does not already have.",
            )
            return redirect("settings_sla_calendar_edit", row.pk)
    return _calendar_page(request, row, import_form=form, status=INVALID_FORM)


@login_required
@require_POST
def sla_holiday_remove(request: HttpRequest, calendar_id: int) -> HttpResponse:
    admin_of(request)
    row = get_object_or_404(BusinessCalendar, pk=calendar_id)
    ids = [int(value) for value in request.POST.getlist("holiday") if value.isdigit()]
    removed = sla.remove_holidays(row, ids)
    messages.success(request, f"Removed {removed} holiday{pluralize(removed)} from {row.name}.")
    return redirect("settings_sla_calendar_edit", row.pk)
