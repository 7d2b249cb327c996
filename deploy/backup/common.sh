# Shared by backup.sh and restore.sh (sourced, not run): which database to use.
#
# DATABASE_URL as the application reads it: postgres://... or postgresql://... (handed to
# pg_dump/pg_restore/psql as a libpq URI, so any query parameters must be libpq's, such as
# sslmode), or sqlite:////absolute/path. Without DATABASE_URL: PostgreSQL when the libpq
# variables say so (PGHOST, PGDATABASE or PGSERVICE; PGUSER, PGPASSWORD... as usual),
# otherwise the embedded default, db.sqlite3 at the project root, as in the settings.

PROJECT_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATABASE_URL=${DATABASE_URL:-}

die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

log() {
    echo "$(basename "$0"): $*" >&2
}

# Prints "postgresql" or "sqlite".
database_kind() {
    case $DATABASE_URL in
        postgres://*|postgresql://*) echo postgresql ;;
        sqlite:*) echo sqlite ;;
        "")
            if [ -n "${PGHOST:-}${PGDATABASE:-}${PGSERVICE:-}" ]; then
                echo postgresql
            else
                echo sqlite
            fi ;;
        *) die "DATABASE_URL: only postgres://, postgresql:// and sqlite: URLs are supported" ;;
    esac
}

# The SQLite file: sqlite:////abs/path gives /abs/path, sqlite:///rel gives rel (as
# django-environ reads them); query parameters are dropped.
sqlite_path() {
    if [ -z "$DATABASE_URL" ]; then
        echo "$PROJECT_ROOT/db.sqlite3"
        return
    fi
    path=${DATABASE_URL#sqlite://}
    path=${path#/}
    path=${path%%\?*}
    case $path in
        ""|:memory:) die "DATABASE_URL: an in-memory SQLite database cannot be backed up" ;;
    esac
    echo "$path"
}

# The Python that runs SQLite's backup API: $PYTHON, else the project's venv, else python3.
python_for_sqlite() {
    if [ -n "${PYTHON:-}" ]; then
        echo "$PYTHON"
    elif [ -x "$PROJECT_ROOT/.venv/bin/python" ]; then
        echo "$PROJECT_ROOT/.venv/bin/python"
    else
        echo python3
    fi
}

# The database for pg_dump/pg_restore/psql --dbname: the URL, else PGDATABASE (always
# explicit: pg_restore without --dbname would print SQL instead of restoring).
pg_dbname() {
    dbname=${DATABASE_URL:-${PGDATABASE:-}}
    [ -n "$dbname" ] || die "set DATABASE_URL or PGDATABASE"
    echo "$dbname"
}
