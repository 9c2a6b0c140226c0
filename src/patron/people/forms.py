"""Forms for the contact and organization pages: they parse and label; services decide.

Custom-field inputs are built from the admin's definitions and checked with the same
`people.custom_fields.clean_value` the services use, so an error sits next to its field.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User

from patron.core.errors import InvalidInput
from patron.people.agents import agents
from patron.people.custom_fields import clean_value
from patron.people.models import Contact, CustomFieldDefinition, Organization, Relationship

FieldType = CustomFieldDefinition.FieldType
CUSTOM_PREFIX = "custom_"


class CustomFieldsMixin(forms.Form):
    """Adds one input per custom field defined for `applies_to`, named `custom_<key>`."""

    applies_to = ""

    def add_custom_fields(self, existing: dict[str, object]) -> None:
        self.definitions = list(CustomFieldDefinition.objects.filter(applies_to=self.applies_to))
        for definition in self.definitions:
            name = f"{CUSTOM_PREFIX}{definition.key}"
            self.fields[name] = _input_for(definition)
            if definition.key in existing:
                self.initial.setdefault(name, existing[definition.key])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for definition in getattr(self, "definitions", []):
            name = f"{CUSTOM_PREFIX}{definition.key}"
            if name not in cleaned:
                continue
            try:
                clean_value(definition, cleaned[name])
            except InvalidInput as error:
                self.add_error(name, str(error))
        return cleaned

    def custom_values(self) -> dict[str, object]:
        return {
            d.key: self.cleaned_data.get(f"{CUSTOM_PREFIX}{d.key}")
            for d in getattr(self, "definitions", [])
        }

    def custom_field_names(self) -> list[forms.BoundField]:
        return [self[f"{CUSTOM_PREFIX}{d.key}"] for d in getattr(self, "definitions", [])]


def _input_for(definition: CustomFieldDefinition) -> forms.Field:
    label = definition.label
    choices = [(c, c) for c in definition.choices]
    match definition.field_type:
        case FieldType.CHOICE:
            return forms.ChoiceField(label=label, required=False, choices=[("", "—"), *choices])
        case FieldType.MULTI_CHOICE:
            return forms.MultipleChoiceField(
                label=label, required=False, choices=choices, widget=forms.CheckboxSelectMultiple
            )
        case FieldType.CHECKBOX:
            return forms.BooleanField(label=label, required=False)
        case FieldType.DATE:
            return forms.CharField(
                label=label, required=False, widget=forms.DateInput(attrs={"type": "date"})
            )
    # Text and numbers stay text here: the service's message says what a number must be.
    return forms.CharField(label=label, required=False, max_length=1000)


RELATIONSHIP_OVERRIDE = [
    ("", "Inherit from the organization"),
    (Relationship.CLIENT, "Client"),
    (Relationship.CUSTOMER, "Customer"),
]


class ContactForm(CustomFieldsMixin):
    applies_to = CustomFieldDefinition.AppliesTo.CONTACT

    name = forms.CharField(max_length=200, required=False)
    phone = forms.CharField(max_length=40, required=False)
    language = forms.CharField(max_length=16, required=False, help_text="For example en or pt-BR.")
    time_zone = forms.CharField(
        max_length=64, required=False, help_text="For example Europe/Paris."
    )
    relationship_override = forms.ChoiceField(
        label="Relationship", choices=RELATIONSHIP_OVERRIDE, required=False
    )
    new_email = forms.EmailField(label="Add an email address", required=False)

    def __init__(self, *args: Any, contact: Contact | None = None, **kwargs: Any) -> None:
        if contact is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": contact.name,
                    "phone": contact.phone,
                    "language": contact.language,
                    "time_zone": contact.time_zone,
                    "relationship_override": contact.relationship_override,
                },
            )
        super().__init__(*args, **kwargs)
        self.add_custom_fields(contact.custom_fields if contact else {})


class NewContactForm(ContactForm):
    email = forms.EmailField(label="Email address")
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.all(),
        required=False,
        empty_label="By email domain",
    )

    field_order = ["email", "name", "organization"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["new_email"]


class MergeForm(forms.Form):
    target_email = forms.EmailField(
        label="Email address of the contact to keep",
        help_text="Tickets and addresses of this contact move to that one.",
    )


class AttachForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.all(), required=False, empty_label="No organization"
    )


class AgentChoiceField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name() or obj.get_username()


class OrganizationForm(CustomFieldsMixin):
    applies_to = CustomFieldDefinition.AppliesTo.ORGANIZATION

    name = forms.CharField(max_length=200)
    tier = forms.CharField(max_length=40, required=False, help_text="For example gold.")
    account_manager = AgentChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Nobody"
    )
    domains = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One email domain a line; people writing from them join this organization.",
    )

    def __init__(self, *args: Any, organization: Organization | None = None, **kwargs: Any) -> None:
        if organization is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": organization.name,
                    "tier": organization.tier,
                    "account_manager": organization.account_manager_id,
                    "domains": "\n".join(d.domain for d in organization.domains.all()),
                },
            )
        super().__init__(*args, **kwargs)
        field = self.fields["account_manager"]
        assert isinstance(field, AgentChoiceField)
        field.queryset = agents()
        self.add_custom_fields(organization.custom_fields if organization else {})

    def domain_list(self) -> list[str]:
        raw = self.cleaned_data.get("domains") or ""
        return [d for d in raw.replace(",", "\n").split() if d]


class NewOrganizationForm(OrganizationForm):
    relationship = forms.ChoiceField(choices=Relationship.choices, initial=Relationship.CUSTOMER)


# Phrases in services' messages and the input each is about.
SERVICE_ERROR_FIELDS = (
    ("is not a time zone", "time_zone"),
    ("already belongs to another contact", "new_email"),
    ("already belongs to another contact", "email"),
    ("is not an email domain", "domains"),
    ("needs a name", "name"),
)


def add_service_error(form: forms.Form, error: InvalidInput) -> None:
    """Put a service's refusal next to the field it names, else at the top of the form."""
    message = str(error)
    for phrase, name in SERVICE_ERROR_FIELDS:
        if phrase in message and name in form.fields:
            form.add_error(name, message)
            return
    for name, field in form.fields.items():
        label = str(field.label or name.replace("_", " ").capitalize())
        if message.startswith(label):
            form.add_error(name, message)
            return
    form.add_error(None, message)
