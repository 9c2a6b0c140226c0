from django.contrib import admin

from patron.people import models


class ContactEmailInline(admin.TabularInline):
    model = models.ContactEmail
    extra = 0


class OrganizationDomainInline(admin.TabularInline):
    model = models.OrganizationDomain
    extra = 0


@admin.register(models.Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "relationship_override", "created_at")
    search_fields = ("name", "emails__address")
    inlines = [ContactEmailInline]


@admin.register(models.Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "relationship", "tier", "account_manager")
    list_filter = ("relationship", "tier")
    inlines = [OrganizationDomainInline]


admin.site.register(models.CustomFieldDefinition)
admin.site.register(models.Segment)
admin.site.register(models.Team)
admin.site.register(models.AgentProfile)
