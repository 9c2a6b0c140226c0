"""The first agent pages: a ticket list and a ticket page with a reply box. Thin: parse, check,
call a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from patron.core import permissions
from patron.core.errors import NotAllowed, PatronError
from patron.tickets import queries, services
from patron.tickets.models import Status

PAGE_SIZE = 50


@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    if not permissions.is_agent(request.user):
        raise NotAllowed("Only agents can see the ticket list.")
    tickets = queries.ticket_list(request.user)
    status = request.GET.get("status", "")
    if status in Status.values:
        tickets = tickets.filter(status=status)
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "tickets/list.html",
        {"page": page, "statuses": Status.choices, "status": status},
    )


@login_required
def ticket_detail(request: HttpRequest, number: int) -> HttpResponse:
    ticket = queries.ticket_for_page(number)
    permissions.check_view_ticket(request.user, ticket)
    return render(
        request,
        "tickets/detail.html",
        {
            "ticket": ticket,
            "may_reply": not ticket.merged_into_id and ticket.status != Status.CLOSED,
            "may_reply_publicly": permissions.role_of(request.user) != "light_agent",
            "statuses": Status.choices,
        },
    )


@login_required
@require_POST
def ticket_reply(request: HttpRequest, number: int) -> HttpResponse:
    ticket = queries.ticket_for_page(number)
    assert isinstance(request.user, User)  # login_required
    public = request.POST.get("kind", "reply") == "reply"
    status = request.POST.get("status") or None
    try:
        services.reply(
            ticket,
            author=request.user,
            body=request.POST.get("body", ""),
            public=public,
            status=status,
            now=timezone.now(),
        )
    except PatronError as error:
        messages.error(request, str(error))
    return redirect("ticket_detail", number=number)
