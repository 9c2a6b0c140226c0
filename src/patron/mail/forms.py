"""The mailbox form of the settings pages. Passwords are write-only: the form never shows a saved
one, and a blank field keeps it."""

from __future__ import annotations

from typing import Any

from django import forms

from patron.mail.models import InboundMail, Mailbox

PASSWORD_HELP = "Leave blank to keep the saved password."
NO_PASSWORD_HELP = "No password is saved."

# The form's fields, grouped as the page shows them.
SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "mailbox",
        "Mailbox",
        (
            "address",
            "display_name",
            "default_team",
            "signature",
            "is_default",
            "active",
        ),
    ),
    (
        "arrives",
        "How mail arrives",
        (
            "inbound",
            "imap_host",
            "imap_port",
            "imap_security",
            "imap_username",
            "imap_password",
            "imap_folder",
            "imap_move_to",
        ),
    ),
    (
        "leaves",
        "How mail leaves",
        ("smtp_host", "smtp_port", "smtp_security", "smtp_username", "smtp_password"),
    ),
    (
        "rules",
        "Senders, threading and limits",
        (
            "allow_unknown_senders",
            "send_acknowledgement",
            "thread_fallback_days",
            "sender_limit_per_hour",
        ),
    ),
)
PASSWORD_FIELDS = ("imap_password", "smtp_password")


class MailboxForm(forms.ModelForm[Mailbox]):
    imap_password = forms.CharField(
        label="IMAP password",
        required=False,
        strip=False,
        max_length=255,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    smtp_password = forms.CharField(
        label="SMTP password",
        required=False,
        strip=False,
        max_length=255,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = Mailbox
        fields = [name for _, _, names in SECTIONS for name in names]
        labels = {
            "address": "Address",
            "display_name": "Display name",
            "default_team": "Default team",
            "is_default": "Default mailbox (replies on tickets that did not come by mail)",
            "active": "Active",
            "inbound": "Mail arrives by",
            "imap_host": "IMAP server",
            "imap_port": "IMAP port",
            "imap_security": "IMAP security",
            "imap_username": "IMAP user name",
            "imap_folder": "Folder",
            "imap_move_to": "Move fetched mail to folder",
            "smtp_host": "SMTP server",
            "smtp_port": "SMTP port",
            "smtp_security": "SMTP security",
            "smtp_username": "SMTP user name",
            "allow_unknown_senders": "Unknown senders may open tickets",
            "send_acknowledgement": "Acknowledge a new ticket's first mail with its number",
            "thread_fallback_days": "Thread by sender and subject within (days)",
            "sender_limit_per_hour": "Mails per sender per hour",
        }
        help_texts = {
            "address": "Customers write to this address; replies go out from it.",
            "inbound": "IMAP is polled every minute. The listener and the pipe need a mail "
            "server set up to hand mail to Patron (see docs/email.md).",
            "imap_host": "Needed for IMAP polling.",
            "smtp_host": "Empty: the site's mail server (PATRON_EMAIL_HOST).",
            "signature": "Added below every reply sent from this mailbox.",
            "thread_fallback_days": "A mail with no reference to a ticket joins the sender's "
            "open ticket with the same subject within this many days; 0 turns it off.",
            "sender_limit_per_hour": "More mails than this from one sender in an hour are held "
            "on the Failed mail page (a mail loop?).",
        }
        widgets = {
            "signature": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in PASSWORD_FIELDS:
            saved = bool(self.instance.pk and getattr(self.instance, name))
            self.fields[name].help_text = PASSWORD_HELP if saved else NO_PASSWORD_HELP

    def clean_address(self) -> str:
        address: str = self.cleaned_data["address"].strip().lower()
        taken = Mailbox.objects.filter(address__iexact=address).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(f"There is already a mailbox {address}.")
        return address

    def _clean_password(self, name: str) -> str:
        """A blank password field keeps the saved password: it is never sent to the browser."""
        value: str = self.cleaned_data.get(name) or ""
        if not value and self.instance.pk:
            return str(Mailbox.objects.filter(pk=self.instance.pk).values_list(name, flat=True)[0])
        return value

    def clean_imap_password(self) -> str:
        return self._clean_password("imap_password")

    def clean_smtp_password(self) -> str:
        return self._clean_password("smtp_password")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("inbound") == Mailbox.Inbound.IMAP and data.get("active"):
            for name, what in (("imap_host", "server"), ("imap_username", "user name")):
                if not data.get(name):
                    self.add_error(name, f"IMAP polling needs the {what}.")
            if not data.get("imap_password") and "imap_password" not in self.errors:
                self.add_error("imap_password", "IMAP polling needs the password.")
        if data.get("smtp_username") and not data.get("smtp_host"):
            self.add_error("smtp_host", "A user name without a server: give the SMTP server.")
        return data


STATE_FILTERS: tuple[tuple[str, str], ...] = (
    (InboundMail.State.FAILED, "Failed"),
    (InboundMail.State.RECEIVED, "Waiting to be processed"),
    (InboundMail.State.DUPLICATE, "Duplicates"),
    (InboundMail.State.IGNORED, "Ignored"),
    (InboundMail.State.DISCARDED, "Discarded"),
)


class MailFilterForm(forms.Form):
    state = forms.ChoiceField(
        choices=STATE_FILTERS, required=False, initial=InboundMail.State.FAILED, label="Show"
    )
    mailbox = forms.ModelChoiceField(
        queryset=Mailbox.objects.all(), required=False, empty_label="All mailboxes"
    )
