"""An index for the inbox's Solved view and its count at 100,000 tickets (benchmarks/pages.py).

(The name is older than the content; mail.0001_initial depends on it.)"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0003_split_off_event"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["status", "solved_at"], name="ticket_status_solved"),
        ),
    ]
