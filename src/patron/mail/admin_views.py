"""Settings pages of the email channel, for admins: mailboxes and the failed mail. Thin: parse,
check (`permissions.check_administer`), call `inbound`/`services`, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from patron.core import clock
from patron.core.errors import InvalidInput
from patron.mail import imap, inbound, mailboxes, services
from patron.mail.forms import SECTIONS, STATE_FILTERS, MailboxForm, MailFilterForm
from patron.mail.models import InboundMail, Mailbox
from patron.people import permissions

INVALID_FORM = 400
PAGE_SIZE = 50
TAB = "mail"


def _admin(request: HttpRequest) -> User:
    """The admin making the request; anyone else gets the 403 page with the reason."""
    permissions.check_administer(request.user)
    assert isinstance(request.user, User)
    return request.user


def _sections(form: MailboxForm) -> list[tuple[str, str, list[object]]]:
    return [(key, title, [form[name] for name in names]) for key, title, names in SECTIONS]


# Mailboxes


@login_required
@require_GET
def mailbox_list(request: HttpRequest) -> HttpResponse:
    _admin(request)
    mailboxes = Mailbox.objects.select_related("default_team").annotate(
        failed_count=Count("inbound_mails", filter=Q(inbound_mails__state=InboundMail.State.FAILED))
    )
    failed_total = InboundMail.objects.filter(state=InboundMail.State.FAILED).count()
    return render(
        request,
        "mail/mailbox_list.html",
        {"mailboxes": mailboxes, "failed_total": failed_total, "tab": TAB},
    )


@login_required
@require_http_methods(["GET", "POST"])
def mailbox_edit(request: HttpRequest, mailbox_id: int | None = None) -> HttpResponse:
    admin = _admin(request)
    mailbox = get_object_or_404(Mailbox, pk=mailbox_id) if mailbox_id is not None else None
    form = MailboxForm(request.POST or None, instance=mailbox)
    if request.method == "POST" and form.is_valid():
        try:
            saved = mailboxes.save_mailbox(mailbox, form.cleaned_data, actor=admin)
        except InvalidInput as refused:
            form.add_error(None, str(refused))
            if mailbox is not None:
                mailbox.refresh_from_db()
        else:
            messages.success(request, f"Saved the mailbox {saved.address}.")
            return redirect("settings_mailbox_edit", mailbox_id=saved.pk)
    status = INVALID_FORM if form.is_bound else 200
    return render(
        request,
        "mail/mailbox_form.html",
        {"form": form, "sections": _sections(form), "mailbox": mailbox, "tab": TAB},
        status=status,
    )


@login_required
@require_POST
def mailbox_test(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    """Log in to the saved IMAP settings and open the folder; say what happened."""
    _admin(request)
    mailbox = get_object_or_404(Mailbox, pk=mailbox_id)
    if not mailbox.imap_host:
        messages.error(request, "Save an IMAP server first, then test the connection.")
    else:
        try:
            found = inbound.check_connection(mailbox)
        except imap.MailboxUnavailable as unavailable:
            messages.error(request, str(unavailable))
        else:
            messages.success(request, found)
    return redirect("settings_mailbox_edit", mailbox_id=mailbox.pk)


@login_required
@require_POST
def mailbox_poll(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    """Fetch this mailbox's new mail now, instead of within the minute."""
    _admin(request)
    mailbox = get_object_or_404(Mailbox, pk=mailbox_id)
    if mailbox.inbound != Mailbox.Inbound.IMAP or not mailbox.imap_host or not mailbox.active:
        messages.error(request, f"{mailbox.address} is not an active IMAP mailbox.")
    else:
        summary = inbound.poll_mailbox(mailbox, now=clock.now())
        if summary.ok:
            messages.success(request, str(summary))
        else:
            messages.error(request, summary.error)
    return redirect("settings_mailboxes")


# Failed mail


@login_required
@require_GET
def failed_mail(request: HttpRequest) -> HttpResponse:
    _admin(request)
    filters = MailFilterForm(request.GET or None)
    state = InboundMail.State.FAILED.value
    mails = InboundMail.objects.select_related("mailbox", "ticket").defer("raw", "headers")
    if filters.is_valid():
        state = filters.cleaned_data["state"] or state
        if filters.cleaned_data["mailbox"] is not None:
            mails = mails.filter(mailbox=filters.cleaned_data["mailbox"])
    mails = mails.filter(state=state).order_by("-received_at", "-id")
    page = Paginator(mails, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = dict(
        InboundMail.objects.values_list("state").annotate(n=Count("id")).order_by("state")
    )
    return render(
        request,
        "mail/failed_mail.html",
        {
            "page": page,
            "filters": filters,
            "state": state,
            "state_label": dict(STATE_FILTERS)[state],
            "states": [(value, label, counts.get(value, 0)) for value, label in STATE_FILTERS],
            "tab": TAB,
        },
    )


@login_required
@require_GET
def raw_download(request: HttpRequest, mail_id: int) -> HttpResponse:
    """The bytes exactly as they arrived, as a file: never rendered, never sniffed."""
    _admin(request)
    mail = get_object_or_404(InboundMail, pk=mail_id)
    response = HttpResponse(bytes(mail.raw), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="patron-mail-{mail.pk}.eml"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _back(request: HttpRequest) -> HttpResponse:
    """To the list the button was on (a local path only), else the failed mail."""
    target = request.POST.get("next", "")
    if not target.startswith(reverse("settings_failed_mail")):
        target = reverse("settings_failed_mail")
    return redirect(target)


@login_required
@require_POST
def mail_retry(request: HttpRequest, mail_id: int) -> HttpResponse:
    _admin(request)
    mail = get_object_or_404(InboundMail, pk=mail_id)
    if mail.state not in (InboundMail.State.FAILED, InboundMail.State.DISCARDED):
        messages.error(request, f"Mail {mail.pk} is {mail.get_state_display().lower()}: no retry.")
        return _back(request)
    services.retry(mail)
    mail.refresh_from_db(fields=["state", "reason", "ticket"])
    if mail.state == InboundMail.State.PROCESSED and mail.ticket is not None:
        messages.success(request, f"Mail {mail.pk} is now on ticket #{mail.ticket.number}.")
    elif mail.state == InboundMail.State.FAILED:
        messages.error(request, f"Mail {mail.pk} failed again: {mail.reason}")
    else:
        messages.success(request, f"Mail {mail.pk} is queued for processing again.")
    return _back(request)


@login_required
@require_POST
def mail_discard(request: HttpRequest, mail_id: int) -> HttpResponse:
    _admin(request)
    mail = get_object_or_404(InboundMail, pk=mail_id)
    if mail.state != InboundMail.State.FAILED:
        messages.error(request, f"Only failed mail can be discarded; mail {mail.pk} is not.")
        return _back(request)
    services.discard(mail, now=clock.now())
    messages.success(request, f"Discarded mail {mail.pk}; its bytes stay under Discarded.")
    return _back(request)
