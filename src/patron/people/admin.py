from django.contrib import admin

from patron.core.admin import ReceiptAdmin
from patron.people import models


class ContactEmailInline(admin.TabularInline[models.ContactEmail, models.Contact]):
    model = models.ContactEmail
    extra = 0


class OrganizationDomainInline(admin.TabularInline[models.OrganizationDomain, models.Organization]):
    model = models.OrganizationDomain
    extra = 0


@admin.register(models.Contact)
class ContactAdmin(admin.ModelAdmin[models.Contact]):
    list_display = ("name", "organization", "relationship_override", "created_at")
    search_fields = ("name", "emails__address")
    inlines = [ContactEmailInline]


@admin.register(models.Organization)
class OrganizationAdmin(admin.ModelAdmin[models.Organization]):
    list_display = ("name", "relationship", "tier", "account_manager")
    list_filter = ("relationship", "tier")
    inlines = [OrganizationDomainInline]


admin.site.register(models.CustomFieldDefinition)
admin.site.register(models.Segment)
admin.site.register(models.Team)
admin.site.register(models.AgentProfile)
admin.site.register(models.PeopleEventDelivery, ReceiptAdmin)
