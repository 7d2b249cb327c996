#!/bin/sh
# First start of the database volume only (the postgres image runs /docker-entrypoint-initdb.d
# once, as the superuser). Two roles, neither a superuser (README, "Database roles"):
# - paincohort_owner owns the database and every table: `migrate` and the backups use it;
# - paincohort_app is what the web and the worker connect as: it owns nothing, so it can
#   neither disable the audit triggers nor truncate a table; `grant_runtime_role`, run by
#   the owner after each migrate, gives it its privileges.
# The passwords come from the environment (docker-compose.yml requires them): no default.
set -eu
: "${PAINCOHORT_OWNER_PASSWORD:?set PAINCOHORT_OWNER_PASSWORD}"
: "${PAINCOHORT_APP_PASSWORD:?set PAINCOHORT_APP_PASSWORD}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v owner_pw="$PAINCOHORT_OWNER_PASSWORD" -v app_pw="$PAINCOHORT_APP_PASSWORD" <<'SQL'
CREATE ROLE paincohort_owner LOGIN PASSWORD :'owner_pw';
CREATE ROLE paincohort_app LOGIN PASSWORD :'app_pw'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
CREATE DATABASE paincohort OWNER paincohort_owner;
REVOKE ALL ON DATABASE paincohort FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE paincohort TO paincohort_app;
SQL
# The runtime role creates nothing in the schema (PostgreSQL 15 already refuses PUBLIC).
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname paincohort <<'SQL'
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
