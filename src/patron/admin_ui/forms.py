"""Forms of the settings pages: they parse and show input; services decide what is allowed."""

from __future__ import annotations

import secrets
from difflib import get_close_matches
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django import forms
from django.contrib.auth import get_user_model

from patron.conditions.fields import TEXT_OPS
from patron.people.models import Availability, CustomFieldDefinition, EmailDigest, Role, Team
from patron.sla import durations
from patron.sla.badges import METRIC_NAMES as METRIC_LABELS
from patron.sla.engine import DEFAULT_PAUSE_RULES, MEASURED_ONLY
from patron.sla.models import BusinessCalendar, SlaPolicy
from patron.tickets.models import Priority, Status

GENERATED_PASSWORD_BYTES = 12
MAX_CONDITIONS = 5
SEGMENT_FIELDS = (
    ("relationship", "Relationship"),
    ("tier", "Tier"),
    ("organization", "Organization name"),
    ("language", "Language"),
    ("status", "Ticket status"),
    ("priority", "Ticket priority"),
    ("channel", "Ticket channel"),
)
OP_LABELS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of (comma-separated)",
    "contains": "contains",
}


def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


class TeamsField(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(queryset=Team.objects.all(), required=False, **kwargs)


class AgentCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    first_name = forms.CharField(max_length=150, required=False, label="First name")
    last_name = forms.CharField(max_length=150, required=False, label="Last name")
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.AGENT)
    teams = TeamsField()
    restricted_to_teams = forms.BooleanField(
        required=False, label="Sees only their teams' tickets and tickets assigned to them"
    )
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to generate a one-time password, shown once after saving.",
    )

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"].strip()
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(f"The username {username!r} is taken.")
        return username


class AgentEditForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    teams = TeamsField()
    skills = forms.CharField(required=False, help_text="Comma-separated, e.g. billing, refunds")
    languages = forms.CharField(required=False, help_text="Comma-separated codes, e.g. en, fr")
    capacity = forms.IntegerField(min_value=0, help_text="Open tickets at most.")
    availability = forms.ChoiceField(choices=Availability.choices)
    restricted_to_teams = forms.BooleanField(
        required=False, label="Sees only their teams' tickets and tickets assigned to them"
    )
    active = forms.BooleanField(
        required=False, label="Active (unchecked: the agent can no longer log in)"
    )
    email_digest = forms.ChoiceField(
        choices=EmailDigest.choices,
        required=False,  # a form posted without it leaves the agent's choice as it is
        label="Email digest",
        help_text="How often unread notifications are emailed; agents can change it themselves.",
    )

    def clean_skills(self) -> list[str]:
        return _split(self.cleaned_data["skills"])

    def clean_languages(self) -> list[str]:
        return _split(self.cleaned_data["languages"])


class TeamForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CustomFieldForm(forms.Form):
    applies_to = forms.ChoiceField(
        choices=CustomFieldDefinition.AppliesTo.choices, label="Applies to"
    )
    key = forms.CharField(max_length=64, help_text="Letters, digits, hyphens, single underscores.")
    label = forms.CharField(max_length=120)
    field_type = forms.ChoiceField(choices=CustomFieldDefinition.FieldType.choices, label="Type")
    choices = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="For choice types: one choice per line.",
    )
    required = forms.BooleanField(required=False, label="Required of agents")
    public = forms.BooleanField(required=False, label="Shown on the public web form")
    position = forms.IntegerField(min_value=0, initial=0)

    def clean_choices(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["choices"].splitlines() if line.strip()]


class ConditionForm(forms.Form):
    field = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"list": "condition-fields"}),
        help_text="relationship, tier, organization, language, status, priority, channel, "
        "or custom.<key>",
    )
    op = forms.ChoiceField(
        choices=[(op, OP_LABELS[op]) for op in TEXT_OPS], label="Operator", required=False
    )
    value = forms.CharField(required=False)

    def condition(self) -> dict[str, Any] | None:
        field = (self.cleaned_data.get("field") or "").strip()
        if not field:
            return None
        op = self.cleaned_data.get("op") or "eq"
        value: Any = (self.cleaned_data.get("value") or "").strip()
        if op == "in":
            value = _split(value)
        return {"field": field, "op": op, "value": value}


ConditionFormSet = forms.formset_factory(
    ConditionForm, extra=0, min_num=MAX_CONDITIONS, max_num=MAX_CONDITIONS * 4
)


class SegmentForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    match = forms.ChoiceField(
        choices=[("all", "All conditions (and)"), ("any", "Any condition (or)")],
        label="Match",
    )


def build_rule(form: SegmentForm, conditions: Any) -> dict[str, Any]:
    """The stored rule from a valid SegmentForm and ConditionFormSet."""
    rows = [row.condition() for row in conditions.forms if row.is_valid()]
    match = form.cleaned_data.get("match") or "all"
    return {match: [row for row in rows if row is not None]}


def condition_initial(rule: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The match word and the condition rows of a stored rule, for the form."""
    match = "any" if "any" in rule else "all"
    rows = []
    for condition in rule.get(match, []):
        value = condition.get("value", "")
        rows.append(
            {
                "field": condition.get("field", ""),
                "op": condition.get("op", "eq"),
                "value": ", ".join(map(str, value)) if isinstance(value, list) else value,
            }
        )
    return match, rows


# SLA: business calendars and policies

SLA_RULE_FIELDS = (
    ("relationship", "Relationship (client or customer)"),
    ("segment", "Segment (its slug, e.g. gold)"),
    ("tier", "Tier"),
    ("organization", "Organization name"),
    ("priority", "Ticket priority"),
    ("type", "Ticket type"),
    ("channel", "Ticket channel"),
    ("team", "Team"),
    ("tag", "Tag"),
    ("language", "Language"),
)
WEEKDAYS = (
    ("monday", "Monday"),
    ("tuesday", "Tuesday"),
    ("wednesday", "Wednesday"),
    ("thursday", "Thursday"),
    ("friday", "Friday"),
    ("saturday", "Saturday"),
    ("sunday", "Sunday"),
)
MEASURE_CHOICES = (("business", "Business hours"), ("calendar", "Calendar time (24/7)"))
# Solved and closed stop or pause the clocks by themselves (docs/sla.md).
PAUSABLE_STATUSES = [(s.value, s.label) for s in Status if s not in (Status.SOLVED, Status.CLOSED)]
TIME_ZONE_SUGGESTIONS = 3
TIME_ZONE_LIKENESS = 0.85  # difflib's ratio: "Asia/Jakata" is 0.96 like Asia/Jakarta


class IntervalsField(forms.CharField):
    """One weekday's opening hours typed as "09:00-12:00, 13:00-17:00"; cleaned to the stored
    [["09:00", "12:00"], …] and shown back from it."""

    def to_python(self, value: Any) -> list[list[str]]:  # type: ignore[override]
        try:
            return durations.parse_intervals(super().to_python(value) or "")
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None

    def prepare_value(self, value: Any) -> Any:
        return durations.format_intervals(value) if isinstance(value, list) else value


class DurationTextField(forms.CharField):
    """A target typed as minutes or "1h 30m"; cleaned to minutes (None when blank)."""

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        try:
            minutes = durations.parse_duration(super().to_python(value) or "")
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
        if minutes == 0:
            raise forms.ValidationError("A target of 0 breaches at once; leave it blank for none.")
        return minutes

    def prepare_value(self, value: Any) -> Any:
        return durations.format_duration(value) if isinstance(value, int | float) else value


class DurationListField(forms.CharField):
    """Warning lead times typed as "30, 10" or "1h, 15m"; cleaned to a list of minutes."""

    def to_python(self, value: Any) -> list[int]:  # type: ignore[override]
        try:
            leads = durations.parse_durations(super().to_python(value) or "")
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
        if 0 in leads:
            raise forms.ValidationError("A warning 0 minutes before is the breach itself.")
        return leads

    def prepare_value(self, value: Any) -> Any:
        return durations.format_durations(value) if isinstance(value, list) else value


class CalendarForm(forms.Form):
    name = forms.CharField(max_length=120)
    timezone = forms.CharField(
        max_length=64,
        label="Time zone",
        initial="UTC",
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
        help_text="An IANA name: Asia/Jakarta, Europe/Berlin, America/New_York …",
    )
    always_open = forms.BooleanField(
        required=False, label="Open 24/7: every minute counts (the hours below are ignored)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for day, label in WEEKDAYS:
            self.fields[day] = IntervalsField(
                required=False,
                label=label,
                widget=forms.TextInput(attrs={"placeholder": "closed"}),
            )

    def weekday_fields(self) -> list[forms.BoundField]:
        return [self[day] for day, _ in WEEKDAYS]

    def clean_timezone(self) -> str:
        zone: str = self.cleaned_data["timezone"].strip()
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            close = _zone_suggestions(zone)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise forms.ValidationError(
                f"{zone!r} is not an IANA time zone (such as Asia/Jakarta).{hint}"
            ) from None
        return zone

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("always_open") and not self.errors and not self.hours():
            raise forms.ValidationError(
                "Give the opening hours of at least one day, or tick Open 24/7."
            )
        return cleaned

    def hours(self) -> dict[str, list[list[str]]]:
        """The weekly hours as stored: only open days, by weekday name."""
        return {day: self.cleaned_data[day] for day, _ in WEEKDAYS if self.cleaned_data.get(day)}


def _zone_suggestions(typed: str) -> list[str]:
    """Zones an admin may have meant: the city typed alone ("jakarta", "new york"), or a
    near spelling of the whole name."""
    zones = {name.lower(): name for name in available_timezones()}
    wanted = typed.strip().lower().replace(" ", "_")
    by_city = [name for key, name in zones.items() if key.rsplit("/", 1)[-1] == wanted]
    close = get_close_matches(wanted, zones, n=TIME_ZONE_SUGGESTIONS, cutoff=TIME_ZONE_LIKENESS)
    return sorted(by_city) or [zones[key] for key in close]


def calendar_initial(row: BusinessCalendar) -> dict[str, Any]:
    initial: dict[str, Any] = {
        "name": row.name,
        "timezone": row.timezone,
        "always_open": row.always_open,
    }
    by_index = {index: day for index, (day, _) in enumerate(WEEKDAYS)}
    for key, intervals in (row.hours or {}).items():
        day = _weekday_of(str(key), by_index)
        if day is not None:
            initial[day] = [list(pair) for pair in intervals]
    return initial


def _weekday_of(key: str, by_index: dict[int, str]) -> str | None:
    """The form's weekday for a stored key ("monday", "mon" or "0", as the calendar reads)."""
    key = key.strip().lower()
    if key.isdigit():
        return by_index.get(int(key))
    return next((day for day, _ in WEEKDAYS if day.startswith(key[:3])), None)


class HolidayForm(forms.Form):
    first = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(
        label="Last day",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="For a range; leave empty for one day.",
    )
    name = forms.CharField(max_length=200, required=False, label="Holiday name")


class HolidayImportForm(forms.Form):
    file = forms.FileField(
        label="iCalendar file (.ics)",
        widget=forms.ClearableFileInput(attrs={"accept": ".ics,text/calendar"}),
        help_text="Every day an event covers becomes a holiday (yearly events for ten years).",
    )


class PolicyForm(SegmentForm):
    """A policy: name, rule (its match word here, its conditions in a ConditionFormSet), the
    calendar, and per metric a measure, targets per priority, warnings and pause statuses."""

    active = forms.BooleanField(required=False, initial=True, label="Active")
    calendar = forms.ModelChoiceField(
        queryset=BusinessCalendar.objects.all(),
        required=False,
        empty_label="None (24/7)",
        help_text="Business-hours targets count this calendar's opening hours and holidays.",
    )
    field_order = ["name", "description", "active", "match", "calendar"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["match"].label = "Applies to tickets matching"
        for metric, label in METRIC_LABELS.items():
            measured_only = metric in MEASURED_ONLY
            self.fields[f"{metric}__measure"] = forms.ChoiceField(
                choices=MEASURE_CHOICES,
                label=f"{label}: measure",
                initial="calendar" if measured_only else "business",
            )
            if not measured_only:
                for priority, priority_label in Priority.choices:
                    self.fields[f"{metric}__{priority}"] = DurationTextField(
                        required=False, label=f"{label}: {priority_label} target"
                    )
                self.fields[f"{metric}__warnings"] = DurationListField(
                    required=False, label=f"{label}: warn before"
                )
            self.fields[f"{metric}__pauses"] = forms.MultipleChoiceField(
                choices=PAUSABLE_STATUSES,
                required=False,
                widget=forms.CheckboxSelectMultiple,
                label=f"{label}: paused while",
                initial=sorted(DEFAULT_PAUSE_RULES.get(metric, ())),
            )

    def metric_rows(self) -> list[dict[str, Any]]:
        """Per metric its bound fields, for the targets table."""
        rows = []
        for metric, label in METRIC_LABELS.items():
            measured_only = metric in MEASURED_ONLY
            rows.append(
                {
                    "label": label,
                    "measured_only": measured_only,
                    "measure": self[f"{metric}__measure"],
                    "targets": []
                    if measured_only
                    else [self[f"{metric}__{p}"] for p in Priority.values],
                    "warnings": None if measured_only else self[f"{metric}__warnings"],
                    "pauses": self[f"{metric}__pauses"],
                }
            )
        return rows

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors and cleaned.get("calendar") is None:
            business = [
                METRIC_LABELS[m]
                for m, spec in self.metrics().items()
                if spec["measure"] == "business"
            ]
            if business:
                self.add_error(
                    "calendar",
                    f"{', '.join(business)} count business hours: choose the calendar whose "
                    "hours count, or measure in calendar time.",
                )
        return cleaned

    def metrics(self) -> dict[str, dict[str, Any]]:
        """The stored `metrics`: the target metrics given a target or a warning, and the
        measured-only ones always (their measure)."""
        data = self.cleaned_data
        metrics: dict[str, dict[str, Any]] = {}
        for metric in METRIC_LABELS:
            spec: dict[str, Any] = {"measure": data[f"{metric}__measure"]}
            if metric not in MEASURED_ONLY:
                targets = {
                    p: data[f"{metric}__{p}"] for p in Priority.values if data[f"{metric}__{p}"]
                }
                warnings = data[f"{metric}__warnings"]
                if not targets and not warnings:
                    continue
                spec |= {"targets": targets, "warning_minutes": warnings}
            metrics[metric] = spec
        return metrics

    def pause_rules(self) -> dict[str, list[str]]:
        """The stored `pause_rules`: the measured-only metrics always (so none ticked replaces
        their default), the others when a status is ticked."""
        rules = {}
        for metric in METRIC_LABELS:
            statuses = list(self.cleaned_data[f"{metric}__pauses"])
            if statuses or metric in MEASURED_ONLY:
                rules[metric] = statuses
        return rules


def policy_initial(row: SlaPolicy) -> dict[str, Any]:
    initial: dict[str, Any] = {
        "name": row.name,
        "description": row.description,
        "active": row.active,
        "calendar": row.calendar_id,
    }
    for metric, spec in (row.metrics or {}).items():
        initial[f"{metric}__measure"] = spec.get("measure")
        for priority, minutes in (spec.get("targets") or {}).items():
            initial[f"{metric}__{priority}"] = minutes
        leads = spec.get("warning_minutes", [])
        initial[f"{metric}__warnings"] = leads if isinstance(leads, list) else [leads]
    for metric, statuses in (row.pause_rules or {}).items():
        initial[f"{metric}__pauses"] = list(statuses)
    return initial
