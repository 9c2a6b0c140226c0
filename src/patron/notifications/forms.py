"""The notification settings form: it parses and shows input; the service decides."""

from __future__ import annotations

from django import forms

from patron.notifications.digest import DAILY_HOUR
from patron.people.models import EmailDigest

DIGEST_CHOICES = (
    (EmailDigest.OFF, "Off: no email, the bell only"),
    (EmailDigest.HOURLY, "Hourly: unread notifications of the past hour, at most once an hour"),
    (
        EmailDigest.DAILY,
        f"Daily: unread notifications of the past day, each morning at {DAILY_HOUR:02d}:00",
    ),
)


class NotificationSettingsForm(forms.Form):
    email_digest = forms.ChoiceField(
        choices=DIGEST_CHOICES,
        widget=forms.RadioSelect,
        label="Email digest of unread notifications",
    )
