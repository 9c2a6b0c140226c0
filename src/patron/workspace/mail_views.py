"""The ticket page's mail actions: send a failed or bounced reply again, and download the raw
bytes a customer's message arrived as. Thin: check, call `patron.mail`, answer."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from patron.core import clock
from patron.core.errors import PatronError
from patron.mail import outbound as mail_outbound
from patron.mail import queries as mail_queries
from patron.people import permissions
from patron.tickets.models import Ticket


def _ticket(request: HttpRequest, number: int) -> Ticket:
    ticket = Ticket.objects.filter(number=number).first()
    if ticket is None:
        raise Http404(f"There is no ticket #{number}.")
    permissions.check_view_ticket(request.user, ticket)
    return ticket


@login_required
@require_POST
def retry_mail(request: HttpRequest, number: int, outbound_id: int) -> HttpResponse:
    ticket = _ticket(request, number)
    outbound = mail_queries.outbound_on_ticket(ticket, outbound_id)
    if outbound is None:
        raise Http404("There is no such mail on this ticket.")
    assert isinstance(request.user, User)  # login_required
    try:
        mail_outbound.retry(outbound, actor=request.user, now=clock.now())
    except PatronError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "The mail is queued again and goes out in a moment.")
    anchor = f"#message-{outbound.message_id}" if outbound.message_id else ""
    return redirect(reverse("ticket_detail", args=[number]) + anchor)


@login_required
@require_GET
def raw_message(request: HttpRequest, number: int, message_id: int) -> HttpResponse:
    """The mail exactly as it arrived, as a download that no browser renders or sniffs."""
    ticket = _ticket(request, number)
    inbound = mail_queries.inbound_for_message(ticket, message_id)
    if inbound is None:
        raise Http404("This message did not arrive by email.")
    response = HttpResponse(bytes(inbound.raw), content_type="message/rfc822")
    response["Content-Disposition"] = (
        f'attachment; filename="ticket-{number}-message-{message_id}.eml"'
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
