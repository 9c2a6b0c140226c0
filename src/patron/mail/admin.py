"""The Django admin's view of outbound mail: every row, ticket or not, with its delivery state.
Agents retry a ticket's mail on the ticket page; a failed digest is queued again here."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from patron.core import clock
from patron.core.errors import IllegalTransition, NotAllowed
from patron.mail import outbound
from patron.mail.models import OutboundMail


@admin.register(OutboundMail)
class OutboundMailAdmin(admin.ModelAdmin[OutboundMail]):
    list_display = ("id", "kind", "subject", "recipients", "ticket", "state", "attempts")
    list_filter = ("state", "kind")
    search_fields = ("subject", "message_id_header")
    raw_id_fields = ("ticket", "message", "mailbox")
    readonly_fields = ("last_error", "attempts", "sent_at", "created_at", "message_id_header")
    actions = ["send_again"]

    @admin.display(description="To")
    def recipients(self, mail: OutboundMail) -> str:
        return ", ".join(mail.to)

    @admin.action(description="Send the selected failed or bounced mail again")
    def send_again(self, request: HttpRequest, queryset: QuerySet[OutboundMail]) -> None:
        assert request.user.is_authenticated
        now = clock.now()
        for mail in queryset.select_related("ticket"):
            try:
                outbound.retry(mail, actor=request.user, now=now)
            except (IllegalTransition, NotAllowed) as error:
                self.message_user(request, f"{mail}: {error}", messages.WARNING)
