from django.urls import path

from patron.notifications import views

urlpatterns = [
    path("", views.notification_list, name="notification_list"),
    path("bell", views.bell, name="notification_bell"),
    path("settings", views.notification_settings, name="notification_settings"),
    path("read", views.mark_read, name="notification_mark_read"),
    path("<int:notification_id>/open", views.open_notification, name="notification_open"),
]
