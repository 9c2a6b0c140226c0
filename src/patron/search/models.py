"""One row per searchable document; the database's own full-text index points at it.

SQLite: an FTS5 table `search_fts` over `title_terms` and `body_terms` (external content, kept
in step by triggers) whose rowid is the document's `order_key`, so FTS5 hands matches out in
the order results are shown and a page stops reading after its rows (migration 0002).
PostgreSQL: `search_vector`, a tsvector of the same two columns in the `simple` configuration,
title words weighted A and body words B, with a GIN index; both made on their database only.
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


# The order key: the kind's rank above this many bits, the object's id below them.
ORDER_KEY_SHIFT = 40
KIND_RANK = {Kind.TICKET: 1, Kind.ORGANIZATION: 2, Kind.CONTACT: 3}


def order_key(kind: str, object_id: int) -> int:
    """Where a document sorts among hits of the same standing, highest first: contacts, then
    organizations, then tickets, each newest (highest id) first. Fixed for the object's life,
    so re-indexing never moves a document and both databases compute the same key."""
    if not 0 < object_id < 1 << ORDER_KEY_SHIFT:
        raise ValueError(f"object id {object_id} is outside the order key's range")
    return (KIND_RANK[Kind(kind)] << ORDER_KEY_SHIFT) + object_id


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
    order_key = models.BigIntegerField(
        unique=True, help_text="order_key(kind, object_id); the FTS5 rowid on SQLite."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="search_document_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}: {self.title}"
