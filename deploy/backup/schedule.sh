#!/bin/sh
# The backup service of docker-compose: backup.sh now, then every BACKUP_INTERVAL_SECONDS
# (default 86400, daily). A failed run is reported and retried at the next turn; the
# file .last-success in BACKUP_DIR dates the last good one (healthy.sh reads it).
set -u
here=$(dirname "$0")
BACKUP_DIR=${BACKUP_DIR:-./backups}
interval=${BACKUP_INTERVAL_SECONDS:-86400}

# sh as PID 1 ignores SIGTERM: stop at once when compose stops the service.
trap 'exit 0' TERM INT

while :; do
    if sh "$here/backup.sh" >/dev/null; then
        touch "$BACKUP_DIR/.last-success"
    else
        echo "schedule.sh: backup failed; next attempt in $interval s" >&2
    fi
    sleep "$interval" &
    wait $!
done
