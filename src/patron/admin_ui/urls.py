from django.urls import path

from patron.admin_ui import sla_views, trigger_views, views, webhook_views

urlpatterns = [
    path("", views.index, name="settings"),
    path("agents/", views.agent_list, name="settings_agents"),
    path("agents/new/", views.agent_create, name="settings_agent_create"),
    path("agents/<int:profile_id>/", views.agent_edit, name="settings_agent_edit"),
    path("teams/", views.team_list, name="settings_teams"),
    path("teams/<int:team_id>/", views.team_edit, name="settings_team_edit"),
    path("teams/<int:team_id>/delete", views.team_delete, name="settings_team_delete"),
    path("custom-fields/", views.custom_field_list, name="settings_custom_fields"),
    path("custom-fields/new/", views.custom_field_edit, name="settings_custom_field_create"),
    path(
        "custom-fields/<int:field_id>/", views.custom_field_edit, name="settings_custom_field_edit"
    ),
    path(
        "custom-fields/<int:field_id>/delete",
        views.custom_field_delete,
        name="settings_custom_field_delete",
    ),
    path("segments/", views.segment_list, name="settings_segments"),
    path("segments/new/", views.segment_edit, name="settings_segment_create"),
    path("segments/preview", views.segment_preview, name="settings_segment_preview"),
    path("segments/<int:segment_id>/", views.segment_edit, name="settings_segment_edit"),
    path("segments/<int:segment_id>/delete", views.segment_delete, name="settings_segment_delete"),
    path("sla/policies/", sla_views.sla_policy_list, name="settings_sla_policies"),
    path("sla/policies/new/", sla_views.sla_policy_edit, name="settings_sla_policy_create"),
    path(
        "sla/policies/<int:policy_id>/", sla_views.sla_policy_edit, name="settings_sla_policy_edit"
    ),
    path(
        "sla/policies/<int:policy_id>/move",
        sla_views.sla_policy_move,
        name="settings_sla_policy_move",
    ),
    path(
        "sla/policies/<int:policy_id>/delete",
        sla_views.sla_policy_delete,
        name="settings_sla_policy_delete",
    ),
    path("sla/calendars/", sla_views.sla_calendar_list, name="settings_sla_calendars"),
    path("sla/calendars/new/", sla_views.sla_calendar_edit, name="settings_sla_calendar_create"),
    path(
        "sla/calendars/<int:calendar_id>/",
        sla_views.sla_calendar_edit,
        name="settings_sla_calendar_edit",
    ),
    path(
        "sla/calendars/<int:calendar_id>/delete",
        sla_views.sla_calendar_delete,
        name="settings_sla_calendar_delete",
    ),
    path(
        "sla/calendars/<int:calendar_id>/holidays/add",
        sla_views.sla_holiday_add,
        name="settings_sla_holiday_add",
    ),
    path(
        "sla/calendars/<int:calendar_id>/holidays/import",
        sla_views.sla_holiday_import,
        name="settings_sla_holiday_import",
    ),
    path(
        "sla/calendars/<int:calendar_id>/holidays/remove",
        sla_views.sla_holiday_remove,
        name="settings_sla_holiday_remove",
    ),
    path("triggers/", trigger_views.trigger_list, name="settings_triggers"),
    path("triggers/new/", trigger_views.trigger_edit, name="settings_trigger_create"),
    path("triggers/<int:trigger_id>/", trigger_views.trigger_edit, name="settings_trigger_edit"),
    path(
        "triggers/<int:trigger_id>/move", trigger_views.trigger_move, name="settings_trigger_move"
    ),
    path(
        "triggers/<int:trigger_id>/delete",
        trigger_views.trigger_delete,
        name="settings_trigger_delete",
    ),
    path("webhooks/", webhook_views.webhook_list, name="settings_webhooks"),
    path("webhooks/new/", webhook_views.webhook_edit, name="settings_webhook_create"),
    path("webhooks/<int:webhook_id>/", webhook_views.webhook_edit, name="settings_webhook_edit"),
    path(
        "webhooks/<int:webhook_id>/rotate",
        webhook_views.webhook_rotate,
        name="settings_webhook_rotate",
    ),
    path(
        "webhooks/<int:webhook_id>/delete",
        webhook_views.webhook_delete,
        name="settings_webhook_delete",
    ),
    path(
        "webhooks/deliveries/<int:delivery_id>/resend",
        webhook_views.webhook_resend,
        name="settings_webhook_resend",
    ),
]
