from django.urls import path

from patron.workspace import people_views as views

urlpatterns = [
    path("contacts/", views.contact_list, name="contact_list"),
    path("contacts/new/", views.contact_create, name="contact_create"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact_detail"),
    path("contacts/<int:contact_id>/edit", views.contact_edit, name="contact_edit"),
    path("contacts/<int:contact_id>/organization", views.contact_attach, name="contact_attach"),
    path("contacts/<int:contact_id>/merge/", views.contact_merge, name="contact_merge"),
    path("organizations/", views.organization_list, name="organization_list"),
    path("organizations/new/", views.organization_create, name="organization_create"),
    path(
        "organizations/<int:organization_id>/",
        views.organization_detail,
        name="organization_detail",
    ),
    path(
        "organizations/<int:organization_id>/edit",
        views.organization_edit,
        name="organization_edit",
    ),
    path(
        "organizations/<int:organization_id>/relationship",
        views.organization_relationship,
        name="organization_relationship",
    ),
]
