"""Give every document an order key and make it the FTS5 rowid; weight title words on PostgreSQL.

A page of hits is then read in FTS5's own rowid order (on PostgreSQL, by the order key's index)
and stops after its rows, instead of ranking every match first. Every stored document is kept:
the key is computed from its kind and object id, the FTS5 index is rebuilt from the table, the
PostgreSQL vectors are recomputed with the title weighted A.
"""

import importlib

from django.db import migrations, models

RunSQLOn = importlib.import_module("patron.search.migrations.0001_initial").RunSQLOn

OLD_FTS5_TRIGGERS = [
    "DROP TRIGGER IF EXISTS search_fts_update",
    "DROP TRIGGER IF EXISTS search_fts_delete",
    "DROP TRIGGER IF EXISTS search_fts_insert",
    "DROP TABLE IF EXISTS search_fts",
]
# Matches the rank and shift of patron.search.models.order_key (fixed here as they were).
SET_ORDER_KEY = """UPDATE search_searchdocument SET order_key =
    (CASE kind WHEN 'contact' THEN 3 WHEN 'organization' THEN 2 ELSE 1 END) * 1099511627776
    + object_id"""


def fts5(rowid: str) -> list[str]:
    return [
        f"""CREATE VIRTUAL TABLE search_fts USING fts5(
            title_terms, body_terms,
            content='search_searchdocument', content_rowid='{rowid}',
            tokenize="unicode61 remove_diacritics 2"
        )""",
        f"""CREATE TRIGGER search_fts_insert AFTER INSERT ON search_searchdocument BEGIN
            INSERT INTO search_fts(rowid, title_terms, body_terms)
            VALUES (new.{rowid}, new.title_terms, new.body_terms);
        END""",
        f"""CREATE TRIGGER search_fts_delete AFTER DELETE ON search_searchdocument BEGIN
            INSERT INTO search_fts(search_fts, rowid, title_terms, body_terms)
            VALUES ('delete', old.{rowid}, old.title_terms, old.body_terms);
        END""",
        f"""CREATE TRIGGER search_fts_update AFTER UPDATE ON search_searchdocument BEGIN
            INSERT INTO search_fts(search_fts, rowid, title_terms, body_terms)
            VALUES ('delete', old.{rowid}, old.title_terms, old.body_terms);
            INSERT INTO search_fts(rowid, title_terms, body_terms)
            VALUES (new.{rowid}, new.title_terms, new.body_terms);
        END""",
        "INSERT INTO search_fts(search_fts) VALUES ('rebuild')",
    ]


WEIGHTED_VECTORS = """UPDATE search_searchdocument SET search_vector =
    setweight(to_tsvector('simple', title_terms), 'A')
    || setweight(to_tsvector('simple', body_terms), 'B')"""
PLAIN_VECTORS = """UPDATE search_searchdocument SET search_vector =
    to_tsvector('simple', title_terms || ' ' || body_terms)"""


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [
        RunSQLOn("sqlite", OLD_FTS5_TRIGGERS, fts5("id")),
        migrations.AddField(
            model_name="searchdocument",
            name="order_key",
            field=models.BigIntegerField(null=True),
        ),
        migrations.RunSQL(SET_ORDER_KEY, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="searchdocument",
            name="order_key",
            field=models.BigIntegerField(
                help_text="order_key(kind, object_id); the FTS5 rowid on SQLite.", unique=True
            ),
        ),
        RunSQLOn("sqlite", fts5("order_key"), OLD_FTS5_TRIGGERS),
        RunSQLOn("postgresql", WEIGHTED_VECTORS, PLAIN_VECTORS),
    ]
