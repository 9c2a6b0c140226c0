"""Saved views move onto the one condition language: a list of conditions (all of which had to
hold) becomes the rule {"all": [...]}, and an "in" value written as "a, b" becomes a list.
Nothing is dropped: a condition the engine no longer accepts is kept as it was, and the view
shows why it selects nothing until someone fixes it."""

from typing import Any

from django.db import migrations, models


def _condition(condition: Any) -> Any:
    if not isinstance(condition, dict):
        return condition
    value = condition.get("value")
    if condition.get("op") == "in" and isinstance(value, str):
        condition = {**condition, "value": [p.strip() for p in value.split(",") if p.strip()]}
    return condition


def to_rule(apps: Any, schema_editor: Any) -> None:
    SavedView = apps.get_model("tickets", "SavedView")
    for view in SavedView.objects.all():
        stored = view.rule
        if isinstance(stored, list):
            view.rule = {"all": [_condition(c) for c in stored]}
            view.save(update_fields=["rule"])


def to_list(apps: Any, schema_editor: Any) -> None:
    SavedView = apps.get_model("tickets", "SavedView")
    for view in SavedView.objects.all():
        stored = view.rule
        if isinstance(stored, dict) and set(stored) <= {"all"}:
            view.rule = list(stored.get("all", []))
            view.save(update_fields=["rule"])


class Migration(migrations.Migration):
    dependencies = [("tickets", "0006_event_actor_name")]

    operations = [
        migrations.RenameField("savedview", "conditions", "rule"),
        migrations.RunPython(to_rule, to_list),
        migrations.AlterField(
            model_name="savedview",
            name="rule",
            field=models.JSONField(
                blank=True, default=dict, help_text='{"all": [{"field", "op", "value"}]}'
            ),
        ),
    ]
