"""Mailbox settings: saved by `save_mailbox` only, which refuses settings the channel cannot
work with."""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from patron.core.errors import InvalidInput
from patron.mail.inbound import IMAP_FOLDER_FIELDS
from patron.mail.models import Mailbox
from patron.people import permissions

MAILBOX_STATE = ("imap_uidvalidity", "imap_last_uid", "imap_checked_at", "imap_error")
"""What polling writes: never set from the settings page."""


def _check_mailbox(mailbox: Mailbox) -> None:
    """Refuse settings the channel cannot work with: a bad or taken address, IMAP polling
    without its server, user name or password, an SMTP user name without a server."""
    try:
        validate_email(mailbox.address)
    except ValidationError:
        raise InvalidInput(f"{mailbox.address!r} is not an email address.") from None
    if Mailbox.objects.filter(address__iexact=mailbox.address).exclude(pk=mailbox.pk).exists():
        raise InvalidInput(f"There is already a mailbox {mailbox.address}.")
    if mailbox.inbound not in Mailbox.Inbound.values:
        raise InvalidInput(
            f"Mail arrives by IMAP, the listener or the pipe, not {mailbox.inbound!r}."
        )
    if mailbox.inbound == Mailbox.Inbound.IMAP and mailbox.active:
        for name, what in (
            ("imap_host", "server"), ("imap_username", "user name"), ("imap_password", "password"),
        ):  # fmt: skip
            if not getattr(mailbox, name):
                raise InvalidInput(f"IMAP polling needs the {what}.")
    if mailbox.smtp_username and not mailbox.smtp_host:
        raise InvalidInput("A user name without a server: give the SMTP server.")


def save_mailbox(mailbox: Mailbox | None, values: Mapping[str, object], *, actor: User) -> Mailbox:
    """Create (mailbox=None) or change a mailbox from the settings page's values.

    The address is stored lower-case; one mailbox at most is the default; new IMAP server or
    folder settings start from UID 0 (the old UIDs mean nothing there); saving acknowledges the
    last IMAP error shown (the next poll reports anything still wrong)."""
    permissions.check_administer(actor)
    editable = {f.name for f in Mailbox._meta.concrete_fields} - {"id", *MAILBOX_STATE}
    unknown = sorted(set(values) - editable)
    if unknown:
        raise InvalidInput(f"A mailbox has no setting {', '.join(unknown)}.")
    mailbox = mailbox if mailbox is not None else Mailbox()
    for name, value in values.items():
        setattr(mailbox, name, value)
    mailbox.address = str(mailbox.address).strip().lower()
    _check_mailbox(mailbox)
    try:
        with transaction.atomic():
            stored = (
                Mailbox.objects.select_for_update()
                .filter(pk=mailbox.pk)
                .values(*IMAP_FOLDER_FIELDS)
                .first()
                if mailbox.pk is not None
                else None
            )
            if stored is None or any(stored[f] != getattr(mailbox, f) for f in IMAP_FOLDER_FIELDS):
                mailbox.imap_uidvalidity = None
                mailbox.imap_last_uid = 0
            mailbox.imap_error = ""
            mailbox.save()
            if mailbox.is_default:
                Mailbox.objects.exclude(pk=mailbox.pk).filter(is_default=True).update(
                    is_default=False
                )
    except IntegrityError:
        raise InvalidInput(f"There is already a mailbox {mailbox.address}.") from None
    return mailbox
