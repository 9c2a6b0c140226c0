"""Forms of the settings pages: they parse and show input; services decide what is allowed."""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from patron.people.models import Availability, CustomFieldDefinition, EmailDigest, Role, Team
from patron.people.segments import OPS

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
        widget=forms.TextInput(attrs={"list": "segment-fields"}),
        help_text="relationship, tier, organization, language, status, priority, channel, "
        "or custom.<key>",
    )
    op = forms.ChoiceField(
        choices=[(op, OP_LABELS[op]) for op in OPS], label="Operator", required=False
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
