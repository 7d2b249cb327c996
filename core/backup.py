"""Fingerprint of a whole database, to check that a backup restores what was saved.

For every table: its row count and a SHA-256 of its rows read in primary-key order (the
column names first, so a schema difference shows too); then the sequences' current values
(PostgreSQL's sequences, SQLite's sqlite_sequence). Two databases hold the same data when
their fingerprints are equal line for line: `manage.py db_fingerprint` prints one, run it
on the source and on the restored copy and compare (see README, "Backup and restore").

Rows are read in batches by primary key (keyset pagination), so memory stays bounded
whatever the table's size, and all of it inside one read-only snapshot, so a database in
use gives a consistent fingerprint.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import environ
from django.db import connections
from django.db.utils import load_backend

BATCH_ROWS = 2000


@dataclass(frozen=True)
class TableFingerprint:
    table: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class TableLayout:
    table: str
    columns: list[str]
    keys: list[str]


@contextmanager
def connection_to_url(url: str, alias: str = "fingerprint") -> Iterator:
    """A Django connection to the database at `url` (a DATABASE_URL, as settings read it),
    apart from the configured ones: the fingerprint of a restored copy needs no settings.
    Registered under `alias` while in use (Django's feature checks look it up there)."""
    config = connections.configure_settings({"default": environ.Env.db_url_config(url)})
    connection = load_backend(config["default"]["ENGINE"]).DatabaseWrapper(
        config["default"], alias)
    connections[alias] = connection
    try:
        yield connection
    finally:
        connection.close()
        del connections[alias]


def database_fingerprint(connection) -> list[str]:
    """The fingerprint as lines of text: `table<TAB>name<TAB>rows<TAB>sha256` for every
    table, then `sequence<TAB>name<TAB>value`, sorted by name."""
    layouts = _table_layouts(connection)
    with _read_snapshot(connection), connection.cursor() as cursor:
        tables = [_table_fingerprint(connection, cursor, layout) for layout in layouts]
        sequences = _sequence_values(connection, cursor)
    return ([f"table\t{fp.table}\t{fp.rows}\t{fp.sha256}" for fp in tables]
            + [f"sequence\t{name}\t{value}" for name, value in sequences])


def _table_layouts(connection) -> list[TableLayout]:
    """Every table's columns and primary key, read before the snapshot begins: Django's
    introspection may open transactions of its own (SQLite's feature checks do)."""
    introspection = connection.introspection
    with connection.cursor() as cursor:
        return [TableLayout(table=table,
                            columns=[column.name for column in
                                     introspection.get_table_description(cursor, table)],
                            keys=introspection.get_primary_key_columns(cursor, table) or [])
                for table in sorted(introspection.table_names(cursor))]


@contextmanager
def _read_snapshot(connection) -> Iterator[None]:
    """One read-only transaction around every read. Raw BEGIN rather than atomic():
    the embedded default's atomic() begins IMMEDIATE, which would take SQLite's write lock
    and hold the application's saves back for as long as the fingerprint reads."""
    if connection.in_atomic_block:  # already inside a transaction (a test's): read there
        yield
        return
    begin = ("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
             if connection.vendor == "postgresql" else "BEGIN DEFERRED")
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute(begin)
        try:
            yield
        finally:
            cursor.execute("ROLLBACK")


def _table_fingerprint(connection, cursor, layout: TableLayout) -> TableFingerprint:
    digest = hashlib.sha256(repr(layout.columns).encode())
    rows = 0
    for batch in _batches(connection, cursor, layout):
        rows += len(batch)
        for row in batch:
            digest.update(repr(tuple(_comparable(value) for value in row)).encode())
            digest.update(b"\n")
    return TableFingerprint(table=layout.table, rows=rows, sha256=digest.hexdigest())


def _batches(connection, cursor, layout: TableLayout) -> Iterator[list[tuple]]:
    """The table's rows in primary-key order, BATCH_ROWS at a time: after the first batch,
    each query starts after the last key seen (no OFFSET, which rereads what it skips)."""
    quote = connection.ops.quote_name
    table, columns, keys = layout.table, layout.columns, layout.keys
    select = f"SELECT {', '.join(map(quote, columns))} FROM {quote(table)}"
    if len(keys) != 1:
        # No single-column key (Django makes none of these): the whole table, ordered
        # by every column, in one query.
        order = ", ".join(map(quote, columns))
        cursor.execute(f"{select} ORDER BY {order}")
        yield cursor.fetchall()
        return
    key_index = columns.index(keys[0])
    ordered = f"ORDER BY {quote(keys[0])} LIMIT {BATCH_ROWS}"
    cursor.execute(f"{select} {ordered}")
    batch = cursor.fetchall()
    while batch:
        yield batch
        if len(batch) < BATCH_ROWS:
            return
        cursor.execute(f"{select} WHERE {quote(keys[0])} > %s {ordered}",
                       [batch[-1][key_index]])
        batch = cursor.fetchall()


def _comparable(value):
    # memoryview (PostgreSQL's bytea) has no stable repr: compare its bytes.
    return bytes(value) if isinstance(value, memoryview) else value


def _sequence_values(connection, cursor) -> list[tuple[str, object]]:
    if connection.vendor == "postgresql":
        # last_value is NULL for a sequence never used (pg_dump restores that too).
        cursor.execute("SELECT sequencename, last_value FROM pg_sequences "
                       "WHERE schemaname = current_schema() ORDER BY sequencename")
        return cursor.fetchall()
    if connection.vendor == "sqlite":
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")
        if cursor.fetchone()[0]:
            cursor.execute("SELECT name, seq FROM sqlite_sequence ORDER BY name")
            return cursor.fetchall()
    return []
