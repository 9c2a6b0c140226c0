"""The PostgreSQL half of search: fill and match the tsvector column.

Imported only when the database is PostgreSQL (`connection.vendor == "postgresql"`):
`django.contrib.postgres` needs a PostgreSQL driver, which a base install does not have.
The SQLite twin is the FTS5 table and its triggers (migration 0001).
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchQuery, SearchVector, SearchVectorExact
from django.db.models import F, QuerySet

from patron.search.models import SearchDocument

CONFIG = "simple"  # no stemming or stop words: the words are normalized in Python first


def matching(documents: QuerySet[SearchDocument], tsquery: str) -> QuerySet[SearchDocument]:
    """The documents whose vector matches a raw tsquery (`search.text.Terms.tsquery`)."""
    query = SearchQuery(tsquery, search_type="raw", config=CONFIG)
    return documents.filter(SearchVectorExact(F("search_vector"), query))


def refresh_vectors(documents: QuerySet[SearchDocument]) -> None:
    """Compute the vector of each document from its normalized words, title words weighted A
    and body words B (`Terms.tsquery(title_only=True)` asks for A)."""
    documents.update(
        search_vector=SearchVector("title_terms", weight="A", config=CONFIG)
        + SearchVector("body_terms", weight="B", config=CONFIG)
    )
