from django.contrib import admin

from patron.core.models import EventDelivery, Notification, ScheduledJob


@admin.register(EventDelivery)
class EventDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event", "consumer", "state", "attempts", "claimed_at", "done_at")
    list_filter = ("state", "consumer")
    readonly_fields = ("last_error",)


admin.site.register(ScheduledJob)
admin.site.register(Notification)
