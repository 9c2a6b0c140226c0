"""The ticket page an agent works in: conversation, composer, sidebar fields edited in place,
customer context, timeline, merge and split, next/previous, and who else is on the ticket.

Thin: parse, check, call a service, render. Every POST works without JavaScript (redirect back);
an htmx request gets the re-rendered fragment instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from patron.core import clock
from patron.core.errors import InvalidInput, PatronError
from patron.mail import queries as mail_queries
from patron.people import agents as people_agents
from patron.people import permissions
from patron.people.models import CustomFieldDefinition, Team
from patron.sla import badges as sla_badges
from patron.tickets import attachments, followers, merging, queries, services
from patron.tickets.models import (
    Message,
    Priority,
    Status,
    Ticket,
    TicketType,
)
from patron.workspace import people_queries, presence

STALE_WARNING = "A new message arrived while you were typing — review it, then send again."
# The presence poll may be shortened (browser tests) but never made faster than once a second.
MIN_POLL_SECONDS = 1
SIDEBAR_FIELDS = ("status", "priority", "type", "team", "assignee", "tags", "custom")


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required
    return request.user


# Reading the page


@dataclass(frozen=True)
class Composer:
    """What the composer shows: the text kept after a refusal, and why it was refused."""

    body: str = ""
    kind: str = "reply"
    status: str = ""
    error: str = ""
    stale: bool = False


def _sidebar_context(request: HttpRequest, ticket: Ticket, *, error: str = "") -> dict[str, Any]:
    user = _user(request)
    return {
        "ticket": ticket,
        "sidebar_error": error,
        "may_change": permissions.role_of(user) not in (None, "light_agent")
        and not ticket.merged_into_id,
        "statuses": Status.choices,
        "priorities": Priority.choices,
        "types": TicketType.choices,
        "teams": list(Team.objects.all()),
        "agents": list(people_agents.agents()),
        "tag_text": ", ".join(tag.name for tag in ticket.tags.all()),
        "custom_inputs": queries.custom_field_inputs(ticket),
        "following": any(f.pk == user.pk for f in ticket.followers.all()),
        "sla_badges": sla_badges.for_ticket(ticket.pk, now=clock.now()),
    }


def _customer_context(user: User, ticket: Ticket) -> dict[str, Any]:
    requester = ticket.requester
    organization = None
    if ticket.organization_id is not None:
        organization = queries.organization_with_open_tickets(ticket.organization_id)
    return {
        "requester": requester,
        "requester_fields": people_queries.custom_field_rows("contact", requester.custom_fields),
        "local_time": people_queries.local_time(requester, clock.now()),
        "organization": organization,
        "requester_tickets": queries.requester_tickets(user, ticket),
        "organization_tickets": (
            queries.organization_tickets(user, ticket, organization) if organization else []
        ),
    }


def _poll_seconds(request: HttpRequest) -> int:
    default = int(presence.HEARTBEAT.total_seconds())
    try:
        asked = int(request.GET.get("poll", default))
    except ValueError:
        return default
    return max(MIN_POLL_SECONDS, min(asked, default))


def _attach_mail(request: HttpRequest, ticket: Ticket, conversation: list[Message]) -> None:
    """Give each message its mail (`message.mail`: how it arrived or its delivery state), in
    two queries for the whole conversation; with `?images=<message id>`, that inbound message's
    HTML with its remote images (`message.remote_html`), which the agent asked to see."""
    mail = mail_queries.mail_for_messages(m.pk for m in conversation)
    wanted = request.GET.get("images", "")
    for message in conversation:
        found = mail.get(message.pk)
        message.mail = found  # type: ignore[attr-defined]
        message.remote_html = ""  # type: ignore[attr-defined]
        if found is not None and found.inbound is not None and wanted == str(message.pk):
            inbound = mail_queries.inbound_for_message(ticket, message.pk)
            if inbound is not None and inbound.remote_images:
                html = mail_queries.html_with_remote_images(ticket, message, inbound)
                message.remote_html = html  # type: ignore[attr-defined]


def _render_page(
    request: HttpRequest, ticket: Ticket, *, composer: Composer | None = None, status: int = 200
) -> HttpResponse:
    user = _user(request)
    conversation = list(ticket.messages.all())
    _attach_mail(request, ticket, conversation)
    previous, following = queries.neighbours(user, ticket)
    view = request.GET.get("view", "")
    context = {
        **_sidebar_context(request, ticket),
        **_customer_context(user, ticket),
        "conversation": conversation,
        "last_message_id": max((m.pk for m in conversation), default=0),
        "timeline": queries.timeline(ticket.events.all()),
        "may_reply": not ticket.merged_into_id and ticket.status != Status.CLOSED,
        "may_reply_publicly": permissions.role_of(user) != "light_agent",
        "composer": composer or Composer(),
        "previous_number": previous,
        "next_number": following,
        "view_query": f"?view={view}" if view else "",
        "others": presence.others_on(ticket, viewer=user, now=clock.now()),
        "poll_seconds": _poll_seconds(request),
    }
    return render(request, "tickets/detail.html", context, status=status)


@login_required
def ticket_detail(request: HttpRequest, number: int) -> HttpResponse:
    ticket = queries.ticket_for_page(number)
    permissions.check_view_ticket(request.user, ticket)
    return _render_page(request, ticket)


# The composer


def uploads_from(request: HttpRequest) -> list[attachments.Upload]:
    """The request's files (field `attachments`), read for the services to check and store."""
    return [
        attachments.Upload(
            filename=upload.name or "attachment",
            content_type=upload.content_type or "application/octet-stream",
            content=upload.read(),
        )
        for upload in request.FILES.getlist("attachments")
    ]


def _stale(ticket: Ticket, request: HttpRequest) -> bool:
    """A public message newer than the one the composer was written under, not yet confirmed."""
    if request.POST.get("confirm_stale") == "1":
        return False
    try:
        last_seen = int(request.POST.get("last_message_id", ""))
    except ValueError:
        return False
    return queries.public_message_since(ticket, last_seen)


@login_required
@require_POST
def ticket_reply(request: HttpRequest, number: int) -> HttpResponse:
    ticket = queries.ticket_for_page(number)
    user = _user(request)
    permissions.check_view_ticket(user, ticket)
    kind = "note" if request.POST.get("kind", "reply") == "note" else "reply"
    body = request.POST.get("body", "")
    status = request.POST.get("status") or None
    kept = Composer(body=body, kind=kind, status=status or "")
    if _stale(ticket, request):
        return _render_page(request, ticket, composer=_with_error(kept, STALE_WARNING, stale=True))
    try:
        uploads = uploads_from(request)
        attachments.check_uploads(uploads)
        services.reply(
            ticket,
            author=user,
            body=body,
            public=kind == "reply",
            status=status,
            uploads=uploads,
            mentions=queries.mentioned_agents(body) if kind == "note" else (),
            now=clock.now(),
        )
    except PatronError as error:
        return _render_page(request, ticket, composer=_with_error(kept, str(error)))
    messages.success(request, "Sent.", extra_tags="sent")
    return redirect("ticket_detail", number=number)


def _with_error(composer: Composer, error: str, *, stale: bool = False) -> Composer:
    return Composer(
        body=composer.body, kind=composer.kind, status=composer.status, error=error, stale=stale
    )


# The sidebar


def _agent(raw: str) -> User | None:
    if not raw:
        return None
    user_model: type[User] = get_user_model()
    try:
        return user_model.objects.get(pk=int(raw), agent__isnull=False)
    except (ValueError, user_model.DoesNotExist):
        raise InvalidInput("Choose an agent from the list.") from None


def _team(raw: str) -> Team | None:
    if not raw:
        return None
    try:
        return Team.objects.get(pk=int(raw))
    except (ValueError, Team.DoesNotExist):
        raise InvalidInput("Choose a team from the list.") from None


def _custom_values(ticket: Ticket, post: Any) -> dict[str, object]:
    values: dict[str, object] = {}
    for definition in CustomFieldDefinition.objects.filter(applies_to="ticket"):
        name = f"custom.{definition.key}"
        if definition.field_type == CustomFieldDefinition.FieldType.MULTI_CHOICE:
            values[definition.key] = post.getlist(name)
        elif definition.field_type == CustomFieldDefinition.FieldType.CHECKBOX:
            values[definition.key] = name in post
        else:
            values[definition.key] = post.get(name, "")
    return values


def _change(field: str, ticket: Ticket, request: HttpRequest) -> Callable[[], None]:
    user, now, post = _user(request), clock.now(), request.POST
    value = post.get("value", "")
    changes: dict[str, Callable[[], None]] = {
        "status": lambda: services.change_status(ticket, value, actor=user, now=now),
        "priority": lambda: services.change_priority(ticket, value, actor=user, now=now),
        "type": lambda: services.change_type(ticket, value, actor=user, now=now),
        "team": lambda: services.change_team(ticket, _team(value), actor=user, now=now),
        "assignee": lambda: services.assign(ticket, _agent(value), actor=user, now=now),
        "tags": lambda: services.set_tags(ticket, value.split(","), actor=user, now=now),
        "custom": lambda: services.set_custom_fields(
            ticket, _custom_values(ticket, post), actor=user, now=now
        ),
    }
    return changes[field]


@login_required
@require_POST
def ticket_field(request: HttpRequest, number: int, field: str) -> HttpResponse:
    if field not in SIDEBAR_FIELDS:
        raise Http404(f"There is no ticket field called {field}.")
    ticket = queries.ticket_for_page(number)
    permissions.check_view_ticket(request.user, ticket)
    error = ""
    try:
        _change(field, ticket, request)()
    except PatronError as exc:
        error = str(exc)
    return _sidebar_response(request, number, error=error)


def _sidebar_response(request: HttpRequest, number: int, *, error: str = "") -> HttpResponse:
    if not request.htmx:  # type: ignore[attr-defined]
        if error:
            messages.error(request, error)
        return redirect("ticket_detail", number=number)
    ticket = queries.ticket_for_page(number)  # re-read: the services changed it
    return render(
        request,
        "tickets/_sidebar.html",
        _sidebar_context(request, ticket, error=error),
        status=200,
    )


@login_required
@require_POST
def ticket_follow(request: HttpRequest, number: int) -> HttpResponse:
    ticket = queries.ticket_for_page(number)
    user = _user(request)
    permissions.check_view_ticket(user, ticket)
    if request.POST.get("follow") == "1":
        followers.follow(ticket, user, actor=user, now=clock.now())
    else:
        followers.unfollow(ticket, user, actor=user, now=clock.now())
    return _sidebar_response(request, number)


# Attachments, merge, split


@login_required
@require_GET
def attachment_download(request: HttpRequest, number: int, attachment_id: int) -> FileResponse:
    attachment = queries.attachment_on(number, attachment_id)
    if attachment is None:
        raise Http404("There is no such attachment on this ticket.")
    permissions.check_view_ticket(request.user, attachment.message.ticket)
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.filename,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
@require_POST
def ticket_merge(request: HttpRequest, number: int) -> HttpResponse:
    ticket = queries.ticket_for_page(number)
    user = _user(request)
    permissions.check_view_ticket(user, ticket)
    try:
        if request.POST.get("confirm") != "1":
            raise InvalidInput("Tick the box to confirm the merge; it cannot be undone.")
        raw = request.POST.get("into", "").strip().lstrip("#")
        target = queries.ticket_by_number(int(raw)) if raw.isdigit() else None
        if target is None:
            raise InvalidInput(f"There is no ticket #{raw} to merge into.")
        permissions.check_view_ticket(user, target)
        merging.merge_tickets(ticket, target, actor=user, now=clock.now())
    except PatronError as error:
        messages.error(request, str(error))
        return redirect("ticket_detail", number=number)
    messages.success(request, f"Merged #{number} into #{target.number}.")
    return redirect("ticket_detail", number=target.number)


@login_required
@require_POST
def ticket_split(request: HttpRequest, number: int, message_id: int) -> HttpResponse:
    ticket = queries.ticket_for_page(number)
    user = _user(request)
    permissions.check_view_ticket(user, ticket)
    message = queries.message_on(ticket, message_id)
    if message is None:
        raise Http404("There is no such message on this ticket.")
    try:
        new = merging.split_message(ticket, message, actor=user, now=clock.now())
    except PatronError as error:
        messages.error(request, str(error))
        return redirect("ticket_detail", number=number)
    messages.success(request, f"Split the message into #{new.number}.")
    return redirect("ticket_detail", number=new.number)


# Presence


@login_required
def ticket_presence(request: HttpRequest, number: int) -> HttpResponse:
    """POST: the page's heartbeat ({typing}); GET: who else is here, as a fragment."""
    ticket = queries.ticket_by_number(number)
    if ticket is None:
        raise Http404(f"There is no ticket #{number}.")
    user = _user(request)
    permissions.check_view_ticket(user, ticket)
    now = clock.now()
    if request.method == "POST":
        typing = request.POST.get("typing", "") in ("1", "true")
        presence.touch(user, ticket, typing=typing, now=now)
    elif request.method != "GET":
        return HttpResponse(status=405)
    others = presence.others_on(ticket, viewer=user, now=now)
    return render(request, "tickets/_presence.html", {"others": others, "ticket": ticket})
