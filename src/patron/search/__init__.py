"""Full-text search over tickets, contacts and organizations: SQLite FTS5 or PostgreSQL
full-text behind one interface, with the same results on both (DESIGN invariant 6).

Write with `patron.search.services` (index_ticket, index_contact, index_organization, remove),
read with `patron.search.queries.query`.
"""
