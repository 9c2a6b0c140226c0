from django.urls import path

from patron.workspace import create_views, inbox_views, mail_views, sla_views, ticket_views

urlpatterns = [
    path("", inbox_views.inbox_page, name="ticket_list"),
    path("counts", inbox_views.inbox_counts, name="inbox_counts"),
    path("bulk", inbox_views.inbox_bulk, name="inbox_bulk"),
    path("new", create_views.new_ticket, name="ticket_new"),
    path("reports/sla", sla_views.sla_report, name="sla_report"),
    path("reports/sla/compliance.csv", sla_views.sla_compliance_csv, name="sla_compliance_csv"),
    path("reports/sla/breaches.csv", sla_views.sla_breaches_csv, name="sla_breaches_csv"),
    path("views/new", inbox_views.saved_view_create, name="saved_view_create"),
    path("views/<int:pk>/edit", inbox_views.saved_view_edit, name="saved_view_edit"),
    path("views/<int:pk>/delete", inbox_views.saved_view_delete, name="saved_view_delete"),
    path("<int:number>/", ticket_views.ticket_detail, name="ticket_detail"),
    path("<int:number>/reply", ticket_views.ticket_reply, name="ticket_reply"),
    path("<int:number>/fields/<str:field>", ticket_views.ticket_field, name="ticket_field"),
    path("<int:number>/follow", ticket_views.ticket_follow, name="ticket_follow"),
    path("<int:number>/merge", ticket_views.ticket_merge, name="ticket_merge"),
    path(
        "<int:number>/messages/<int:message_id>/split",
        ticket_views.ticket_split,
        name="ticket_split",
    ),
    path(
        "<int:number>/attachments/<int:attachment_id>",
        ticket_views.attachment_download,
        name="ticket_attachment",
    ),
    path("<int:number>/presence", ticket_views.ticket_presence, name="ticket_presence"),
    path(
        "<int:number>/mail/<int:outbound_id>/retry",
        mail_views.retry_mail,
        name="ticket_mail_retry",
    ),
    path(
        "<int:number>/messages/<int:message_id>/original.eml",
        mail_views.raw_message,
        name="ticket_message_raw",
    ),
]
