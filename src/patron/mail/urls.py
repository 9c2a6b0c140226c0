"""Settings pages of the email channel, under /settings/mail/."""

from django.urls import path
from django.views.generic import RedirectView

from patron.mail import admin_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="settings_mailboxes"), name="settings_mail"),
    path("mailboxes/", admin_views.mailbox_list, name="settings_mailboxes"),
    path("mailboxes/new/", admin_views.mailbox_edit, name="settings_mailbox_create"),
    path("mailboxes/<int:mailbox_id>/", admin_views.mailbox_edit, name="settings_mailbox_edit"),
    path("mailboxes/<int:mailbox_id>/test", admin_views.mailbox_test, name="settings_mailbox_test"),
    path("mailboxes/<int:mailbox_id>/poll", admin_views.mailbox_poll, name="settings_mailbox_poll"),
    path("failed/", admin_views.failed_mail, name="settings_failed_mail"),
    path("failed/<int:mail_id>/raw", admin_views.raw_download, name="settings_mail_raw"),
    path("failed/<int:mail_id>/retry", admin_views.mail_retry, name="settings_mail_retry"),
    path("failed/<int:mail_id>/discard", admin_views.mail_discard, name="settings_mail_discard"),
]
