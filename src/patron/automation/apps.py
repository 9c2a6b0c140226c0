from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "patron.automation"
    label = "automation"
    default_auto_field = "django.db.models.BigAutoField"
