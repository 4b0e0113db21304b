"""The database underneath everything kept: connections (SQLite or PostgreSQL) and the hot path's
own writers, the SQLAlchemy tables (shared with schema/env.py), group commits, times and page
cursors as stored, and LISTEN/NOTIFY wake-ups between instances. Never imports Starlette.

May import: the top's leaves, observability.
Public: `tables` (its names), `stamps` (its names), `database.make_database`,
`database.make_writer`, `database.open_database`, `database.DATABASE_ERRORS`,
`groupcommit.GroupCommit`, `notify.Listener`.
"""
