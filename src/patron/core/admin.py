from django.contrib import admin

from patron.core.models import EventDelivery, ScheduledJob
from patron.core.receipts import Receipt


class ReceiptAdmin(admin.ModelAdmin[Receipt]):
    """The outbox's receipts, whichever event model they belong to."""

    list_display = ("event", "consumer", "state", "attempts", "claimed_at", "done_at")
    list_filter = ("state", "consumer")
    readonly_fields = ("last_error",)


admin.site.register(EventDelivery, ReceiptAdmin)


admin.site.register(ScheduledJob)
