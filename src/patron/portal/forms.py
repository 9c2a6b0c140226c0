"""The public web form: the fixed fields, the honeypot, and the ticket fields admins made public.

Custom-field values are checked by `people.custom_fields`, the same rules as everywhere else;
the form only turns its errors into messages next to the field.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from patron.core.errors import InvalidInput
from patron.people.custom_fields import clean_value
from patron.people.models import CustomFieldDefinition
from patron.people.services import normalize_email
from patron.portal import services
from patron.portal.services import WebRequest, check_attachments
from patron.tickets.attachments import Upload, max_attachment_bytes
from patron.tickets.services import MAX_SUBJECT_LENGTH

FieldType = CustomFieldDefinition.FieldType
CUSTOM_PREFIX = "custom_"
HONEYPOT = "website"  # a name form-filling bots cannot resist
MAX_MESSAGE_LENGTH = 50_000


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one input; the count and sizes are checked by the form."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultipleFileField, self).clean(file, initial) for file in files]


def public_ticket_fields() -> list[CustomFieldDefinition]:
    return list(CustomFieldDefinition.objects.filter(applies_to="ticket", public=True))


def _form_field(definition: CustomFieldDefinition) -> forms.Field:
    """A form field that collects the raw value; `clean_value` decides whether it is right."""
    common: dict[str, Any] = {"label": definition.label, "required": False}
    choices = [(choice, choice) for choice in definition.choices]
    required_attrs = {"required": True, "aria-required": "true"} if definition.required else {}
    match definition.field_type:
        case FieldType.NUMBER:
            widget: forms.Widget = forms.NumberInput(attrs={"step": "any", **required_attrs})
            return forms.CharField(widget=widget, **common)
        case FieldType.DATE:
            widget = forms.DateInput(attrs={"type": "date", **required_attrs})
            return forms.CharField(widget=widget, **common)
        case FieldType.CHOICE:
            widget = forms.Select(choices=[("", "—"), *choices], attrs=required_attrs)
            return forms.CharField(widget=widget, **common)
        case FieldType.MULTI_CHOICE:
            return forms.Field(widget=forms.CheckboxSelectMultiple(choices=choices), **common)
        case FieldType.CHECKBOX:
            return forms.BooleanField(**common)
    return forms.CharField(widget=forms.TextInput(attrs=required_attrs), **common)


class WebForm(forms.Form):
    name = forms.CharField(label="Your name", max_length=200, required=False)
    email = forms.CharField(
        label="Your email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={"required": "We need your email address to reply to you."},
    )
    subject = forms.CharField(
        label="Subject",
        max_length=MAX_SUBJECT_LENGTH,
        error_messages={"required": "Please give your request a subject."},
    )
    message = forms.CharField(
        label="How can we help?",
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8}),
        error_messages={"required": "Please write a message."},
    )
    attachments = MultipleFileField(label="Attachments", required=False)
    # Hidden from people by CSS; screen readers read its label and leave it alone.
    website = forms.CharField(
        label="Leave this field empty",
        required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.definitions = {d.key: d for d in public_ticket_fields()}
        for key, definition in self.definitions.items():
            self.fields[CUSTOM_PREFIX + key] = _form_field(definition)
        # Order: the person, their request, the admin's fields, then the files.
        attachments = self.fields.pop("attachments")
        self.fields["attachments"] = attachments
        self.fields["attachments"].help_text = self.attachment_help()

    @staticmethod
    def attachment_help() -> str:
        return (
            f"Up to {services.max_files()} files, at most "
            f"{max_attachment_bytes() // services.MEGABYTE} MB each and "
            f"{services.max_upload_bytes() // services.MEGABYTE} MB together."
        )

    def is_bot(self) -> bool:
        """True when the honeypot was filled in: no person sees that field."""
        return bool(self.data.get(HONEYPOT, "").strip())

    def visible_fields_except_honeypot(self) -> list[forms.BoundField]:
        return [bound for bound in self if bound.name != HONEYPOT]

    def clean_email(self) -> str:
        try:
            return normalize_email(self.cleaned_data["email"])
        except InvalidInput:
            raise forms.ValidationError(
                "Please enter an email address like jo@example.com, so we can reply to you."
            ) from None

    def clean_message(self) -> str:
        message = str(self.cleaned_data["message"])
        if not message.strip():
            raise forms.ValidationError("Please write a message.")
        return message

    def clean_attachments(self) -> list[UploadedFile]:
        files: list[UploadedFile] = self.cleaned_data["attachments"]
        try:
            check_attachments([(file.name or "attachment", file.size or 0) for file in files])
        except InvalidInput as error:
            raise forms.ValidationError(str(error)) from None
        return files

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for key, definition in self.definitions.items():
            name = CUSTOM_PREFIX + key
            if name not in cleaned:
                continue
            raw = cleaned[name]
            if definition.field_type == FieldType.CHECKBOX and raw is False:
                raw = None  # unchecked: store nothing (a required box must be ticked)
            try:
                cleaned[name] = clean_value(definition, raw)
            except InvalidInput as error:
                self.add_error(name, str(error))
        return cleaned

    def web_request(self) -> WebRequest:
        """The validated form as the service takes it; files are read only now."""
        data = self.cleaned_data
        uploads = [
            Upload(
                filename=file.name or "attachment",
                content_type=file.content_type or "application/octet-stream",
                content=file.read(),
            )
            for file in data["attachments"]
        ]
        custom = {
            key: data[CUSTOM_PREFIX + key]
            for key in self.definitions
            if data.get(CUSTOM_PREFIX + key) is not None
        }
        return WebRequest(
            name=data["name"],
            email=data["email"],
            subject=data["subject"],
            message=data["message"],
            uploads=uploads,
            custom_fields=custom,
        )
