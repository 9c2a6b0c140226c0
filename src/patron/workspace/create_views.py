"""The agent's "New ticket" page: someone called, or wrote where Patron does not read.
Thin: the form checks shapes, `services.open_ticket_for_address` does the rest."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from patron.core import clock
from patron.core.errors import PatronError
from patron.people import permissions
from patron.people.models import Team
from patron.tickets import services
from patron.tickets.models import Channel, Priority
from patron.workspace.ticket_views import uploads_from

CHANNELS = [
    (Channel.PHONE, "Phone call"),
    (Channel.EMAIL, "Email (written elsewhere)"),
    (Channel.AGENT, "In person or other"),
]


class AgentChoice(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name() or obj.get_username()


class NewTicketForm(forms.Form):
    requester_email = forms.EmailField(label="Requester's email address")
    requester_name = forms.CharField(
        label="Requester's name",
        required=False,
        max_length=200,
        help_text="Used only when nobody has this address yet.",
    )
    subject = forms.CharField(max_length=services.MAX_SUBJECT_LENGTH)
    body = forms.CharField(label="Message", widget=forms.Textarea(attrs={"rows": 6}))
    channel = forms.ChoiceField(label="How it came in", choices=CHANNELS)
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL)
    team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"), required=False)
    assignee = AgentChoice(
        queryset=User.objects.filter(agent__isnull=False, is_active=True).order_by("username"),
        required=False,
    )


@login_required
def new_ticket(request: HttpRequest) -> HttpResponse:
    permissions.check_create_ticket(request.user)
    assert isinstance(request.user, User)
    form = NewTicketForm(request.POST or None, initial={"assignee": request.user.pk})
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = services.open_ticket_for_address(
                email=data["requester_email"],
                name=data["requester_name"],
                subject=data["subject"],
                body=data["body"],
                channel=data["channel"],
                priority=data["priority"],
                team=data["team"],
                assignee=data["assignee"],
                uploads=uploads_from(request),
                actor=request.user,
                now=clock.now(),
            )
        except PatronError as refused:
            error = str(refused)
        else:
            return redirect("ticket_detail", number=ticket.number)
    status = 400 if request.method == "POST" else 200
    return render(request, "tickets/new.html", {"form": form, "error": error}, status=status)
