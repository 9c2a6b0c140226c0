"""The search page's query string, parsed and validated."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from patron.people.models import Relationship
from patron.search.models import Kind
from patron.search.queries import Filters
from patron.tickets.models import Status


def _blank(label: str, choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", label), *choices]


class SearchForm(forms.Form):
    q = forms.CharField(label="Search for", required=False, max_length=500)
    kind = forms.ChoiceField(
        label="Kind", required=False, choices=_blank("All kinds", Kind.choices)
    )
    status = forms.ChoiceField(
        label="Ticket status", required=False, choices=_blank("Any status", Status.choices)
    )
    assignee = forms.ModelChoiceField(
        label="Assignee",
        required=False,
        empty_label="Anyone",
        queryset=get_user_model().objects.filter(agent__isnull=False).order_by("username"),
    )
    relationship = forms.ChoiceField(
        label="Relationship",
        required=False,
        choices=_blank("Clients and customers", Relationship.choices),
    )
    dates = forms.ChoiceField(
        label="Dates apply to",
        required=False,
        choices=[("updated", "Last update"), ("created", "Creation")],
    )
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def filters(self) -> Filters:
        data = self.cleaned_data
        assignee = data.get("assignee")
        return Filters(
            status=data.get("status") or "",
            assignee_id=assignee.pk if assignee is not None else None,
            relationship=data.get("relationship") or "",
            date_field=data.get("dates") or "updated",
            date_from=data.get("from"),
            date_to=data.get("to"),
        )

    def kinds(self) -> list[str] | None:
        kind = self.cleaned_data.get("kind")
        return [kind] if kind else None


# The page's query string says `from` and `to`, which are Python keywords.
SearchForm.base_fields["from"] = SearchForm.base_fields.pop("date_from")
SearchForm.base_fields["to"] = SearchForm.base_fields.pop("date_to")
