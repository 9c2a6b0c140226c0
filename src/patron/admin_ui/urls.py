from django.urls import path

from patron.admin_ui import views

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
]
