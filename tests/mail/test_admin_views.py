"""The email settings pages through Django's test client: admins only, mailboxes with write-only
passwords, the IMAP connection test against the real Dovecot, and the failed mail page (raw
download, retry, discard)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from patron.mail import services
from patron.mail.models import InboundMail, Mailbox
from patron.people.models import Role
from patron.tickets.models import Ticket
from tests import factories
from tests.mail.servers import PASSWORD, Dovecot

RAW = (
    b"From: Noor Haddad <noor@customer.example>\r\nTo: support@desk.example\r\n"
    b"Subject: Parcel stuck\r\nMessage-ID: <p1@customer.example>\r\n"
    b"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n\r\n<script>alert(1)</script> Where is it?\r\n"
)


def make_agent(role: str = Role.AGENT, **kwargs: Any) -> User:
    return factories.agent(role, password=None, **kwargs)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin() -> Client:
    return logged_in(make_agent(Role.ADMIN, username="ada"))


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox.objects.create(
        address="support@desk.example",
        display_name="Support",
        inbound=Mailbox.Inbound.IMAP,
        imap_host="imap.desk.example",
        imap_username="support",
        imap_password="imap-secret-1",
        smtp_host="smtp.desk.example",
        smtp_username="support",
        smtp_password="smtp-secret-2",
    )


def stored(
    mailbox: Mailbox, raw: bytes = RAW, *, state: str = InboundMail.State.FAILED, **extra: Any
) -> InboundMail:
    """A stored mail as processing left it (made directly: these tests run in a transaction,
    where `receive_raw` refuses to)."""
    values: dict[str, Any] = {
        "mailbox": mailbox,
        "raw": raw,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "size": len(raw),
        "source": InboundMail.Source.IMAP,
        "received_at": datetime(2026, 11, 23, 9, 0, tzinfo=datetime.now().astimezone().tzinfo),
        "state": state,
        "sender": "noor@customer.example",
        "subject": "Parcel stuck",
        "reason": "Processing failed: ValueError: something broke",
        "attempts": 1,
    }
    values.update(extra)
    return InboundMail.objects.create(**values)


def form_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "address": "Help@Desk.Example",
        "display_name": "Help desk",
        "default_team": "",
        "signature": "The help desk",
        "active": "on",
        "inbound": Mailbox.Inbound.IMAP,
        "imap_host": "imap.desk.example",
        "imap_port": "993",
        "imap_security": "tls",
        "imap_username": "help",
        "imap_password": "",
        "imap_folder": "INBOX",
        "imap_move_to": "",
        "smtp_host": "",
        "smtp_port": "587",
        "smtp_security": "starttls",
        "smtp_username": "",
        "smtp_password": "",
        "allow_unknown_senders": "on",
        "thread_fallback_days": "7",
        "sender_limit_per_hour": "30",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


PAGES: tuple[tuple[str, dict[str, str], str], ...] = (
    ("settings_mailboxes", {}, "get"),
    ("settings_mailbox_create", {}, "get"),
    ("settings_mailbox_edit", {"mailbox_id": "mailbox"}, "get"),
    ("settings_mailbox_test", {"mailbox_id": "mailbox"}, "post"),
    ("settings_mailbox_poll", {"mailbox_id": "mailbox"}, "post"),
    ("settings_failed_mail", {}, "get"),
    ("settings_mail_raw", {"mail_id": "mail"}, "get"),
    ("settings_mail_retry", {"mail_id": "mail"}, "post"),
    ("settings_mail_discard", {"mail_id": "mail"}, "post"),
)


def url_for(name: str, kwargs: dict[str, str], mailbox: Mailbox, mail: InboundMail) -> str:
    objects = {"mailbox": mailbox.pk, "mail": mail.pk}
    return reverse(name, kwargs={key: objects[value] for key, value in kwargs.items()})


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR, Role.LIGHT_AGENT])
@pytest.mark.parametrize(("name", "kwargs", "method"), PAGES)
def test_every_page_is_forbidden_to_non_admins_with_the_reason(
    role: str, name: str, kwargs: dict[str, str], method: str, mailbox: Mailbox
) -> None:
    mail = stored(mailbox)
    client = logged_in(make_agent(role))

    response = getattr(client, method)(url_for(name, kwargs, mailbox, mail))

    assert response.status_code == 403
    assert "Only admins can change Patron" in response.content.decode()
    mail.refresh_from_db()
    assert mail.state == InboundMail.State.FAILED  # neither retried nor discarded


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_the_login_page(mailbox: Mailbox) -> None:
    response = Client().get(reverse("settings_failed_mail"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_the_settings_tabs_link_to_the_mailboxes(admin: Client) -> None:
    page = admin.get(reverse("settings_teams")).content.decode()
    assert reverse("settings_mailboxes") in page


@pytest.mark.django_db
def test_the_list_shows_each_mailbox_with_its_imap_status(admin: Client, now: datetime) -> None:
    Mailbox.objects.create(
        address="ok@desk.example",
        imap_host="imap.desk.example",
        imap_checked_at=now,
        imap_last_uid=42,
    )
    broken = Mailbox.objects.create(
        address="broken@desk.example",
        imap_host="imap.desk.example",
        imap_checked_at=now,
        imap_error="Could not log in as broken on imap.desk.example:993: Authentication failed.",
    )
    Mailbox.objects.create(address="piped@desk.example", inbound=Mailbox.Inbound.PIPE)
    stored(broken)

    page = admin.get(reverse("settings_mailboxes")).content.decode()

    assert "ok@desk.example" in page and "OK (last UID 42)" in page
    assert "Could not log in as broken on imap.desk.example:993: Authentication failed." in page
    assert "2026-11-23 09:00:00" in page
    assert "Pipe from the mail server" in page
    assert "1 mail could not be processed" in page
    assert f"{reverse('settings_failed_mail')}?mailbox={broken.pk}" in page


@pytest.mark.django_db
def test_an_admin_creates_a_mailbox_and_the_address_is_stored_lower_case(admin: Client) -> None:
    response = admin.post(reverse("settings_mailbox_create"), form_data(imap_password="pw-1"))

    created = Mailbox.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("settings_mailbox_edit", args=[created.pk])
    assert created.address == "help@desk.example"
    assert created.imap_password == "pw-1"
    assert created.signature == "The help desk"


@pytest.mark.django_db
def test_imap_polling_needs_server_user_and_password(admin: Client) -> None:
    response = admin.post(
        reverse("settings_mailbox_create"), form_data(imap_host="", imap_username="")
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "IMAP polling needs the server." in page
    assert "IMAP polling needs the user name." in page
    assert "IMAP polling needs the password." in page
    assert not Mailbox.objects.exists()


@pytest.mark.django_db
def test_a_second_mailbox_with_the_same_address_is_refused(admin: Client, mailbox: Mailbox) -> None:
    response = admin.post(
        reverse("settings_mailbox_create"),
        form_data(address="SUPPORT@desk.example", imap_password="x"),
    )
    assert response.status_code == 400
    assert "There is already a mailbox support@desk.example." in response.content.decode()


@pytest.mark.django_db
def test_passwords_are_never_sent_to_the_browser(admin: Client, mailbox: Mailbox) -> None:
    page = admin.get(reverse("settings_mailbox_edit", args=[mailbox.pk])).content.decode()

    assert "imap-secret-1" not in page and "smtp-secret-2" not in page
    assert page.count("Leave blank to keep the saved password.") == 2
    assert 'name="imap_password"' in page and 'type="password"' in page


@pytest.mark.django_db
def test_a_blank_password_keeps_the_saved_one_and_a_new_one_replaces_it(
    admin: Client, mailbox: Mailbox
) -> None:
    url = reverse("settings_mailbox_edit", args=[mailbox.pk])
    common = {
        "address": mailbox.address,
        "imap_host": mailbox.imap_host,
        "imap_username": "support",
        "smtp_host": "smtp.desk.example",
        "smtp_username": "support",
    }

    kept = admin.post(url, form_data(**common, display_name="Renamed"))
    mailbox.refresh_from_db()
    assert kept.status_code == 302
    assert mailbox.display_name == "Renamed"
    assert mailbox.imap_password == "imap-secret-1"
    assert mailbox.smtp_password == "smtp-secret-2"

    admin.post(url, form_data(**common, imap_password="new-imap", smtp_password="new-smtp"))
    mailbox.refresh_from_db()
    assert (mailbox.imap_password, mailbox.smtp_password) == ("new-imap", "new-smtp")


@pytest.mark.django_db
def test_changing_the_imap_folder_forgets_the_old_uids(admin: Client, mailbox: Mailbox) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(
        imap_uidvalidity=7, imap_last_uid=300, imap_error="old"
    )
    url = reverse("settings_mailbox_edit", args=[mailbox.pk])
    base = {"address": mailbox.address, "imap_host": mailbox.imap_host, "imap_username": "support"}

    admin.post(url, form_data(**base, display_name="Same folder"))
    mailbox.refresh_from_db()
    assert (mailbox.imap_uidvalidity, mailbox.imap_last_uid) == (7, 300)
    assert mailbox.imap_error == ""  # saving acknowledges the status shown

    admin.post(url, form_data(**base, imap_folder="Support"))
    mailbox.refresh_from_db()
    assert (mailbox.imap_uidvalidity, mailbox.imap_last_uid, mailbox.imap_error) == (None, 0, "")


@pytest.mark.django_db
def test_only_one_mailbox_is_the_default(admin: Client, mailbox: Mailbox) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(is_default=True)

    admin.post(reverse("settings_mailbox_create"), form_data(imap_password="pw", is_default="on"))

    assert list(Mailbox.objects.filter(is_default=True).values_list("address", flat=True)) == [
        "help@desk.example"
    ]


@pytest.mark.django_db
def test_the_failed_mail_page_lists_failed_mail_with_its_reason(
    admin: Client, mailbox: Mailbox
) -> None:
    failed = stored(mailbox)
    stored(
        mailbox,
        RAW + b"dup",
        state=InboundMail.State.DUPLICATE,
        subject="A duplicate",
        reason="Same Message-ID as mail 1, already processed.",
    )

    page = admin.get(reverse("settings_failed_mail")).content.decode()

    assert "noor@customer.example" in page and "Parcel stuck" in page
    assert "Processing failed: ValueError: something broke" in page
    assert "2026-11-23 09:00:00" in page
    assert reverse("settings_mail_raw", args=[failed.pk]) in page
    assert reverse("settings_mail_retry", args=[failed.pk]) in page
    assert reverse("settings_mail_discard", args=[failed.pk]) in page
    assert "A duplicate" not in page
    assert "Failed (1)" in page and "Duplicates (1)" in page

    duplicates = admin.get(reverse("settings_failed_mail"), {"state": "duplicate"})
    assert "A duplicate" in duplicates.content.decode()
    assert "Parcel stuck" not in duplicates.content.decode()
    assert reverse("settings_mail_discard", args=[failed.pk]) not in duplicates.content.decode()


@pytest.mark.django_db
def test_the_failed_mail_page_filters_by_mailbox(admin: Client, mailbox: Mailbox) -> None:
    other = Mailbox.objects.create(address="sales@desk.example", inbound=Mailbox.Inbound.PIPE)
    stored(mailbox, subject="For support")
    stored(other, RAW + b"2", subject="For sales")

    page = admin.get(reverse("settings_failed_mail"), {"mailbox": other.pk}).content.decode()

    assert "For sales" in page and "For support" not in page


@pytest.mark.django_db
def test_the_raw_download_is_the_exact_bytes_as_an_attachment_never_rendered(
    admin: Client, mailbox: Mailbox
) -> None:
    mail = stored(mailbox)

    response = admin.get(reverse("settings_mail_raw", args=[mail.pk]))

    assert response.status_code == 200
    assert response.content == RAW
    assert response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"] == f'attachment; filename="patron-mail-{mail.pk}.eml"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_retry_and_discard_answer_only_post(admin: Client, mailbox: Mailbox) -> None:
    mail = stored(mailbox)
    assert admin.get(reverse("settings_mail_retry", args=[mail.pk])).status_code == 405
    assert admin.get(reverse("settings_mail_discard", args=[mail.pk])).status_code == 405


@pytest.mark.django_db
def test_retry_and_discard_need_the_csrf_token(mailbox: Mailbox) -> None:
    mail = stored(mailbox)
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_agent(Role.ADMIN))

    assert client.post(reverse("settings_mail_discard", args=[mail.pk])).status_code == 403
    assert client.post(reverse("settings_mail_retry", args=[mail.pk])).status_code == 403
    mail.refresh_from_db()
    assert mail.state == InboundMail.State.FAILED


@pytest.mark.django_db
def test_discard_keeps_the_bytes_under_discarded(admin: Client, mailbox: Mailbox) -> None:
    mail = stored(mailbox)

    response = admin.post(
        reverse("settings_mail_discard", args=[mail.pk]),
        {"next": reverse("settings_failed_mail") + "?state=failed"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("settings_failed_mail") + "?state=failed"
    mail.refresh_from_db()
    assert mail.state == InboundMail.State.DISCARDED
    assert bytes(mail.raw) == RAW
    assert (
        "Parcel stuck"
        in admin.get(reverse("settings_failed_mail"), {"state": "discarded"}).content.decode()
    )


@pytest.mark.django_db
def test_the_next_address_must_be_the_failed_mail_page(admin: Client, mailbox: Mailbox) -> None:
    mail = stored(mailbox)
    response = admin.post(
        reverse("settings_mail_discard", args=[mail.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("settings_failed_mail")


@pytest.mark.django_db(transaction=True)
def test_retry_processes_a_failed_mail_into_a_ticket(mailbox: Mailbox) -> None:
    """A mail held by the sender limit: the admin retries it and it becomes a ticket."""
    admin = logged_in(make_agent(Role.ADMIN, username="ada"))
    mail = services.receive_raw(
        RAW, mailbox=mailbox, source="imap", received_at=datetime.now().astimezone()
    )
    mail.refresh_from_db()
    assert mail.state == InboundMail.State.PROCESSED  # the immediate backend processed it
    InboundMail.objects.filter(pk=mail.pk).update(
        state=InboundMail.State.FAILED, reason="held", ticket=None, message=None
    )
    Ticket.objects.all().delete()

    response = admin.post(reverse("settings_mail_retry", args=[mail.pk]), follow=True)

    mail.refresh_from_db()
    assert mail.state == InboundMail.State.PROCESSED, mail.reason
    assert mail.attempts == 2 and mail.bypass_limits
    assert mail.ticket is not None
    assert f"is now on ticket #{mail.ticket.number}" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_retry_that_fails_again_says_why(admin: Client) -> None:
    unknown_only = Mailbox.objects.create(
        address="support@desk.example", allow_unknown_senders=False, inbound="pipe"
    )
    mail = services.receive_raw(
        RAW, mailbox=unknown_only, source="pipe", received_at=datetime.now().astimezone()
    )
    mail.refresh_from_db()
    assert mail.state == InboundMail.State.FAILED

    response = admin.post(reverse("settings_mail_retry", args=[mail.pk]), follow=True)

    page = response.content.decode()
    assert f"Mail {mail.pk} failed again" in page
    assert "only takes mail from known contacts" in page


@pytest.mark.django_db
def test_processed_mail_cannot_be_retried_or_discarded(admin: Client, mailbox: Mailbox) -> None:
    mail = stored(mailbox, state=InboundMail.State.PROCESSED, reason="")

    retry = admin.post(reverse("settings_mail_retry", args=[mail.pk]), follow=True)
    discard = admin.post(reverse("settings_mail_discard", args=[mail.pk]), follow=True)

    assert "no retry" in retry.content.decode()
    assert "Only failed mail can be discarded" in discard.content.decode()
    mail.refresh_from_db()
    assert mail.state == InboundMail.State.PROCESSED


# The connection test against the real Dovecot.


def dovecot_mailbox(dovecot: Dovecot, user: str, **changes: Any) -> Mailbox:
    values: dict[str, Any] = {
        "address": "support@desk.example",
        "inbound": Mailbox.Inbound.IMAP,
        "imap_host": "127.0.0.1",
        "imap_port": dovecot.imap_port,
        "imap_security": "none",
        "imap_username": user,
        "imap_password": PASSWORD,
    }
    values.update(changes)
    return Mailbox.objects.create(**values)


@pytest.mark.django_db
def test_test_connection_reports_what_it_found(
    admin: Client, dovecot: Dovecot, mailbox_user: str
) -> None:
    from tests.mail.servers import message

    dovecot.deliver(mailbox_user, message(1))
    box = dovecot_mailbox(dovecot, mailbox_user)

    response = admin.post(reverse("settings_mailbox_test", args=[box.pk]), follow=True)

    page = response.content.decode()
    assert f"Connected to 127.0.0.1:{dovecot.imap_port} as {mailbox_user}" in page
    assert "holds 1 message, 1 unread." in page
    assert "\\Seen" not in dovecot.flags(mailbox_user)[1]  # nothing read or marked


@pytest.mark.django_db
def test_test_connection_reports_a_wrong_password_in_one_sentence(
    admin: Client, dovecot: Dovecot, mailbox_user: str
) -> None:
    box = dovecot_mailbox(dovecot, mailbox_user, imap_password="wrong-password-here")

    response = admin.post(reverse("settings_mailbox_test", args=[box.pk]), follow=True)

    page = response.content.decode()
    assert f"Could not log in as {mailbox_user} on 127.0.0.1:{dovecot.imap_port}" in page
    assert "wrong-password-here" not in page


@pytest.mark.django_db
def test_test_connection_reports_a_missing_folder(
    admin: Client, dovecot: Dovecot, mailbox_user: str
) -> None:
    box = dovecot_mailbox(dovecot, mailbox_user, imap_folder="Nowhere")

    response = admin.post(reverse("settings_mailbox_test", args=[box.pk]), follow=True)

    assert "could not open the folder &#x27;Nowhere&#x27;" in response.content.decode()
