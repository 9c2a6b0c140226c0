from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "patron.mail"
    label = "mail"
    verbose_name = "Email channel"
