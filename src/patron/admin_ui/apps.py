from django.apps import AppConfig


class AdminUiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "patron.admin_ui"
    label = "admin_ui"
    verbose_name = "Settings pages"
