from django.db import migrations

from patron.people.segments import BUILTIN_SEGMENTS


def create_builtin_segments(apps, schema_editor):
    Segment = apps.get_model("people", "Segment")
    for spec in BUILTIN_SEGMENTS:
        Segment.objects.update_or_create(
            slug=spec["slug"],
            defaults={
                "name": spec["name"],
                "rule": spec["rule"],
                "builtin": True,
                "description": spec["description"],
            },
        )


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial")]
    operations = [migrations.RunPython(create_builtin_segments, migrations.RunPython.noop)]
