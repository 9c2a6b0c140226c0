"""Indexes the inbox counts read instead of the ticket table (`tickets.inbox.view_counts`).

Every column those counts test is in them (status, assignee, team, merged into, requester; the
solved time for the Solved view), so counting the open and waiting tickets, and those solved
this week, reads an index alone. Plain SQL, the same on SQLite and PostgreSQL, and not in the
model's Meta: no query names them, only planners use them.
"""

from django.db import migrations

CREATE = [
    """CREATE INDEX IF NOT EXISTS ticket_counts ON tickets_ticket
        (status, assignee_id, team_id, merged_into_id, requester_id)""",
    """CREATE INDEX IF NOT EXISTS ticket_solved_counts ON tickets_ticket
        (status, solved_at, assignee_id, team_id, merged_into_id)""",
]
DROP = ["DROP INDEX IF EXISTS ticket_solved_counts", "DROP INDEX IF EXISTS ticket_counts"]


class Migration(migrations.Migration):
    dependencies = [("tickets", "0008_automatic_reply")]

    operations = [migrations.RunSQL(CREATE, DROP)]
