"""One row per searchable document; the database's own full-text index points at it.

SQLite: an FTS5 table `search_fts` over `title_terms` and `body_terms` (external content, kept
in step by triggers), created by migration 0001 on SQLite only. PostgreSQL: `search_vector`, a
tsvector of the same two columns in the `simple` configuration, with a GIN index created by the
same migration on PostgreSQL only.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper


class Kind(models.TextChoices):
    # Ties in the ranking are broken by this value, alphabetically (see `queries`).
    CONTACT = "contact", "Contact"
    ORGANIZATION = "organization", "Organization"
    TICKET = "ticket", "Ticket"


class VectorField(models.Field[Any, Any]):
    """A tsvector column (always NULL on SQLite), declared without `django.contrib.postgres`,
    which imports a PostgreSQL driver: a base install has none. The PostgreSQL-only code that
    fills and matches it lives in `patron.search.postgres`, imported only on PostgreSQL."""

    def db_type(self, connection: BaseDatabaseWrapper) -> str:
        return "tsvector"


class SearchDocument(models.Model):
    kind = models.CharField(max_length=16, choices=Kind.choices)
    object_id = models.PositiveBigIntegerField()
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True, help_text="The text snippets are cut from, as written.")
    title_terms = models.TextField(blank=True, help_text="Normalized words (see search.text).")
    body_terms = models.TextField(blank=True)
    search_vector = VectorField(null=True, blank=True, help_text="PostgreSQL only.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="search_document_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}: {self.title}"
