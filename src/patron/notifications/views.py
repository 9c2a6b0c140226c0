"""The notification bell and the /notifications/ page. Thin: reads live in
`patron.notifications.queries`, changes in `patron.notifications.services`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from patron.core import clock
from patron.core.errors import InvalidInput, NotAllowed
from patron.notifications import digest, services
from patron.notifications import queries as notifications
from patron.notifications.forms import NotificationSettingsForm
from patron.people import permissions
from patron.people.models import AgentProfile

PAGE_SIZE = 25
INVALID_FORM = 400


def _agent(request: HttpRequest) -> User:
    if not permissions.is_agent(request.user):
        raise NotAllowed("Only agents receive notifications.")
    assert isinstance(request.user, User)
    return request.user


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    user = _agent(request)
    page = Paginator(notifications.for_user(user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/list.html",
        {
            "page": page,
            "lines": notifications.lines(page.object_list),
            "unread_count": notifications.unread_count(user),
        },
    )


@login_required
@require_GET
def bell(request: HttpRequest) -> HttpResponse:
    """The small fragment the top bar re-fetches every 20 s."""
    user = _agent(request)
    return render(
        request,
        "notifications/_bell.html",
        {"unread_count": notifications.unread_count(user)},
    )


@login_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    """Mark the chosen notifications read (or all of them with `all`), then back to the list."""
    user = _agent(request)
    if request.POST.get("all"):
        services.mark_all_read(user, clock.now())
    else:
        ids = [int(value) for value in request.POST.getlist("id") if value.isdigit()]
        services.mark_read(user, ids, clock.now())
    return redirect("notification_list")


@login_required
@require_POST
def open_notification(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Mark one notification read and go to its ticket."""
    user = _agent(request)
    found = notifications.for_user(user).filter(pk=notification_id).first()
    if found is None:
        return redirect("notification_list")
    services.mark_read(user, [found.pk], clock.now())
    return redirect("ticket_detail", number=found.ticket.number)


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    """The agent's own notification settings: how often unread notifications are emailed."""
    user = _agent(request)
    profile = AgentProfile.objects.get(user=user)
    form = NotificationSettingsForm(
        request.POST or None, initial={"email_digest": profile.email_digest}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.set_email_digest(
                profile, actor=user, frequency=form.cleaned_data["email_digest"]
            )
        except InvalidInput as refused:
            form.add_error("email_digest", str(refused))
        else:
            messages.success(request, "Notification settings saved.")
            return redirect("notification_settings")
    return render(
        request,
        "notifications/settings.html",
        {
            "form": form,
            "profile": profile,
            "time_zone": digest.time_zone_of(profile),
            "daily_hour": digest.DAILY_HOUR,
        },
        status=INVALID_FORM if form.is_bound else 200,
    )
