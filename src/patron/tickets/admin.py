from django.contrib import admin

from patron.tickets import models


@admin.register(models.Ticket)
class TicketAdmin(admin.ModelAdmin[models.Ticket]):
    list_display = ("number", "subject", "status", "priority", "assignee", "updated_at")
    list_filter = ("status", "priority", "channel")
    search_fields = ("number", "subject")
    raw_id_fields = ("requester", "organization", "merged_into")


@admin.register(models.TicketEvent)
class TicketEventAdmin(admin.ModelAdmin[models.TicketEvent]):
    list_display = ("ticket", "kind", "actor_kind", "at")
    list_filter = ("kind",)
    raw_id_fields = ("ticket",)
