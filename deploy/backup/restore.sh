#!/bin/sh
# Restore a backup made by backup.sh into a fresh, empty database:
#
#   restore.sh BACKUP_FILE
#
#   PostgreSQL (.dump): into the database DATABASE_URL (or PG*) names, which must exist and
#     be empty (createdb NAME, as the role the site uses); pg_restore runs in one
#     transaction and stops at the first error, so a failed restore leaves it empty.
#     Objects are owned by the role that restores (--no-owner).
#   SQLite (.sqlite3): to the file DATABASE_URL names (default db.sqlite3 at the project
#     root), which must not exist: stop the site and move the old file (and any -wal/-shm
#     beside it) away first.
#
# Then check it (README, "Backup and restore"): DATABASE_URL=<restored> python manage.py
# migrate --check, and compare `manage.py db_fingerprint` outputs.
set -eu
. "$(dirname "$0")/common.sh"

[ $# -eq 1 ] || die "usage: restore.sh BACKUP_FILE"
backup=$1
[ -f "$backup" ] || die "$backup: no such backup file"

restore_postgresql() {
    dbname=$(pg_dbname)
    objects=$(psql --no-psqlrc --tuples-only --no-align --dbname="$dbname" --command \
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
           AND c.relkind IN ('r', 'p', 'S', 'v', 'm')")
    [ "$objects" = 0 ] || die "the target database is not empty ($objects tables, sequences" \
        "or views): restore into a fresh database (createdb) and point the site at it"
    pg_restore --exit-on-error --single-transaction --no-owner --dbname="$dbname" "$backup"
    log "restored $backup"
}

restore_sqlite() {
    target=$(sqlite_path)
    for file in "$target" "$target-wal" "$target-shm"; do
        [ ! -e "$file" ] || die "$file exists: stop the site and move it away first"
    done
    umask 077
    "$(python_for_sqlite)" - "$backup" "$target.restoring" <<'PY'
import sqlite3, sys

backup = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
check = backup.execute("PRAGMA integrity_check").fetchone()[0]
if check != "ok":
    sys.exit(f"{sys.argv[1]} fails SQLite's integrity check: {check}")
restored = sqlite3.connect(sys.argv[2])
backup.backup(restored)
restored.execute("PRAGMA journal_mode=WAL")  # as the site runs it
restored.close()
PY
    mv "$target.restoring" "$target"
    log "restored $backup to $target"
}

"restore_$(database_kind)"
