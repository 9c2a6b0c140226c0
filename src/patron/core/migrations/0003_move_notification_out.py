"""Notification moved to the notifications app: forget it here, in state only. Its table
(`core_notification`) and rows stay; `notifications.0001_initial` takes the model over."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_presence"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="notification", name="notification_once"),
                migrations.DeleteModel(name="Notification"),
            ],
            database_operations=[],
        )
    ]
