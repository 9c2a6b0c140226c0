from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "patron.people"
    label = "people"
    verbose_name = "People"
