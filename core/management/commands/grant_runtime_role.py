"""`manage.py grant_runtime_role ROLE`: the privileges of the role the application runs as.

Run by the owner role (the one `migrate` connects as) after every `migrate`; idempotent.
The runtime role owns nothing, so it can neither disable a trigger nor truncate a table:
- clinical tables: SELECT, INSERT, UPDATE, DELETE;
- audit tables (history, access and change logs: the tables with the trigger
  `audit_refuse_change`, see core/migrations/0002, and every `*_historical*` table):
  SELECT and INSERT only;
- sequences: USAGE and SELECT; no TRUNCATE, REFERENCES or TRIGGER anywhere.
Tables the owner creates later get SELECT and INSERT by default (ALTER DEFAULT PRIVILEGES):
a new table is treated as an audit table until this command runs again and sorts it.
PostgreSQL only: SQLite has no roles.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

# Tables of the current schema that keep the audit trail (rows only ever added).
AUDIT_TABLES = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
  AND (c.relname LIKE '%%\\_historical%%'
       OR EXISTS (SELECT 1 FROM pg_trigger t
                  WHERE t.tgrelid = c.oid AND t.tgname = 'audit_refuse_change'))
ORDER BY c.relname
"""

# Tables and sequences of the current schema with their owners.
RELATIONS = """
SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'S', 'v', 'm')
ORDER BY c.relname
"""


class Command(BaseCommand):
    help = ("Grant the runtime ROLE what the application needs and no more "
            "(run as the tables' owner after migrate).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("role", help="the role the application connects as (DATABASE_URL)")

    def handle(self, *args, role: str, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("grant_runtime_role needs PostgreSQL: SQLite has no database "
                               "roles (the embedded default runs as the file's owner).")
        with transaction.atomic(), connection.cursor() as cursor:
            quoted = self._checked_role(cursor, role)
            audit = self._audit_tables(cursor)
            self._grant(cursor, quoted, audit)
            cursor.execute(RELATIONS)
            tables = [name for name, kind, _ in cursor.fetchall() if kind in "rpvm"]
        clinical = len(tables) - len(audit)
        self.stdout.write(f"{role}: SELECT, INSERT, UPDATE, DELETE on {clinical} tables; "
                          f"SELECT, INSERT only on {len(audit)} audit tables "
                          f"({', '.join(audit)}); no TRUNCATE; owns nothing.")

    def _checked_role(self, cursor, role: str) -> str:
        """The role's quoted name, after refusing a role that could undo the audit trail."""
        cursor.execute("SELECT rolsuper, rolbypassrls, quote_ident(rolname), "
                       "rolname = current_user FROM pg_roles WHERE rolname = %s", [role])
        row = cursor.fetchone()
        if row is None:
            raise CommandError(f"role: no role {role!r} in this cluster (create it first, "
                               "see deploy/postgres-init).")
        superuser, bypass_rls, quoted, is_me = row
        if is_me:
            raise CommandError(f"role: {role!r} is the role running this command; run it as "
                               "the owner role and name the runtime role.")
        if superuser or bypass_rls:
            raise CommandError(f"role: {role!r} is a superuser (or bypasses row security): "
                               "it could disable any trigger; use a plain role.")
        cursor.execute(RELATIONS)
        relations = cursor.fetchall()
        owned = [name for name, _, owner in relations if owner == role]
        if owned:
            raise CommandError(f"role: {role!r} owns {len(owned)} tables or sequences (e.g. "
                               f"{owned[0]}): reassign them to the owner first (README, "
                               "\"Database roles\").")
        cursor.execute("SELECT current_user")
        me = cursor.fetchone()[0]
        foreign = [name for name, _, owner in relations if owner != me]
        if foreign:
            raise CommandError(f"{len(foreign)} tables or sequences (e.g. {foreign[0]}) are "
                               f"not owned by {me!r}, the role running this command: run it "
                               "as the owner, or reassign them to it first.")
        return quoted

    def _audit_tables(self, cursor) -> list[str]:
        cursor.execute(AUDIT_TABLES)
        return [name for (name,) in cursor.fetchall()]

    def _grant(self, cursor, quoted: str, audit: list[str]) -> None:
        # Start from nothing each time: a privilege granted by hand earlier goes too.
        cursor.execute("SELECT quote_ident(current_schema())")
        schema = cursor.fetchone()[0]
        statements = [
            f"GRANT USAGE ON SCHEMA {schema} TO {quoted}",
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {quoted}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} "
            f"TO {quoted}",
            *(f"REVOKE UPDATE, DELETE ON {schema}.{_quote(table)} FROM {quoted}"
              for table in audit),
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {quoted}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {quoted}",
            # Future tables of this owner: add-only until the next run sorts them.
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON TABLES FROM {quoted}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT ON TABLES "
            f"TO {quoted}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES "
            f"TO {quoted}",
        ]
        for statement in statements:
            cursor.execute(statement)


def _quote(name: str) -> str:
    """A table name from pg_class as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'
