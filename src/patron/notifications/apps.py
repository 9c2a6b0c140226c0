from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "patron.notifications"
    label = "notifications"
    verbose_name = "Notification bell"
