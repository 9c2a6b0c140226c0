"""Writing stored clocks back in bulk: the fields a refresh may change, compared and written."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from patron.sla.models import SlaClock

# Clock fields a refresh may change (all but the ticket, metric and cycle that name the clock).
CLOCK_FIELDS = (
    "policy", "state", "measure", "target_minutes", "started_at", "due_at", "next_warning_at",
    "warnings_sent", "achieved_at", "breached_at", "stopped_at", "breach_announced",
    "counted_minutes", "paused_minutes", "paused_business_minutes", "evaluated_at",
)  # fmt: skip


def update(clocks: Sequence[SlaClock]) -> None:
    """Write the clocks' fields back, one prepared UPDATE run for all of them (`executemany`:
    psycopg pipelines it; SQLite steps one statement). Django's `bulk_update` builds one CASE
    per column over every row instead, which both databases evaluate per row and column: five
    times slower than the refresh itself at 300 tickets."""
    if not clocks:
        return
    fields = [f for f in SlaClock._meta.concrete_fields if f.name in CLOCK_FIELDS]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(str(f.column))} = %s" for f in fields)
    sql = f"UPDATE {quote(SlaClock._meta.db_table)} SET {assignments} WHERE id = %s"
    rows = [
        [f.get_db_prep_save(getattr(c, f.attname), connection) for f in fields] + [c.pk]
        for c in clocks
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def values(clock: SlaClock) -> tuple[object, ...]:
    """The clock's stored fields, evaluated_at last."""
    return tuple(
        clock.policy_id if name == "policy" else getattr(clock, name) for name in CLOCK_FIELDS
    )
