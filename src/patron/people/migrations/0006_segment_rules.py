"""Segments move onto the one condition language (`patron.conditions`). Their rules already had
its shape ({"all"|"any": [conditions]}); this writes each the way the engine stores one: the
operator spelled out (it defaulted to "eq") and an "in" value written as "a, b" as a list.
Nothing is dropped: anything the engine would refuse is kept as it was, and the segment page
says what to fix."""

from typing import Any

from django.db import migrations


def _normal(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    for match in ("all", "any"):
        if match in node and isinstance(node[match], list):
            return {**node, match: [_normal(child) for child in node[match]]}
    if "field" not in node:
        return node
    condition = {**node, "op": node.get("op") or "eq"}
    value = condition.get("value")
    if condition["op"] == "in" and isinstance(value, str):
        condition["value"] = [part.strip() for part in value.split(",") if part.strip()]
    return condition


def normalize(apps: Any, schema_editor: Any) -> None:
    Segment = apps.get_model("people", "Segment")
    for segment in Segment.objects.all():
        rule = _normal(segment.rule)
        if rule != segment.rule:
            segment.rule = rule
            segment.save(update_fields=["rule"])


class Migration(migrations.Migration):
    dependencies = [("people", "0005_peopleevent_outbox")]

    # The old form is still read by the engine, so going back needs no change.
    operations = [migrations.RunPython(normalize, migrations.RunPython.noop)]
