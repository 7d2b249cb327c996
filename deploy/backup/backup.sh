#!/bin/sh
# Back up the PainCohort database into BACKUP_DIR as a timestamped file, then delete the
# backups there older than BACKUP_KEEP_DAYS. Prints the new file's path.
#
#   PostgreSQL: paincohort-<UTC time>.dump, `pg_dump --format=custom` of the whole
#     database: every table (history tables and the item wording included), sequences,
#     triggers and functions; pg_dump reads one consistent snapshot while the site runs.
#   SQLite:     paincohort-<UTC time>.sqlite3, a consistent copy made with SQLite's online
#     backup API while the site runs (a plain `cp` can miss what is still in the WAL file).
#
# Environment: DATABASE_URL or PG* (see common.sh), BACKUP_DIR (default ./backups),
# BACKUP_KEEP_DAYS (default 14; 0 keeps every backup). Files are created readable by their
# owner only: they hold pseudonymised health data.
set -eu
. "$(dirname "$0")/common.sh"

BACKUP_DIR=${BACKUP_DIR:-./backups}
BACKUP_KEEP_DAYS=${BACKUP_KEEP_DAYS:-14}
case $BACKUP_KEEP_DAYS in
    ""|*[!0-9]*) die "BACKUP_KEEP_DAYS must be a whole number of days (0: keep all)" ;;
esac

kind=$(database_kind)
umask 077
mkdir -p "$BACKUP_DIR"
stamp=$(date -u +%Y%m%dT%H%M%SZ)

backup_postgresql() {
    target=$BACKUP_DIR/paincohort-$stamp.dump
    dbname=$(pg_dbname)
    pg_dump --format=custom --file="$target.partial" --dbname="$dbname"
    # A dump whose table of contents cannot be read would not restore either.
    pg_restore --list "$target.partial" >/dev/null
}

backup_sqlite() {
    source=$(sqlite_path)
    target=$BACKUP_DIR/paincohort-$stamp.sqlite3
    [ -f "$source" ] || die "$source: no such database file"
    "$(python_for_sqlite)" - "$source" "$target.partial" <<'PY'
import sqlite3, sys

source = sqlite3.connect(sys.argv[1])
copy = sqlite3.connect(sys.argv[2])
source.backup(copy)  # page by page, from one read snapshot: writers may carry on
source.close()
# The copy stands alone (no -wal file beside it) and must read back whole.
copy.execute("PRAGMA journal_mode=DELETE")
check = copy.execute("PRAGMA integrity_check").fetchone()[0]
copy.close()
if check != "ok":
    sys.exit(f"the copy fails SQLite's integrity check: {check}")
PY
}

"backup_$kind"
# Only a complete backup gets its final name (a failed run leaves a .partial).
mv "$target.partial" "$target"
log "wrote $target ($kind)"

# Retention, only after a backup succeeded: the last good ones are never all deleted
# by a run that fails. -mtime +N matches files at least N+1 whole days old.
if [ "$BACKUP_KEEP_DAYS" -gt 0 ]; then
    find "$BACKUP_DIR" -maxdepth 1 -type f -name 'paincohort-*' \
        -mtime +$((BACKUP_KEEP_DAYS - 1)) -print | while read -r old; do
        rm -f "$old" && log "deleted $old (older than $BACKUP_KEEP_DAYS days)"
    done
fi
echo "$target"
