#!/bin/sh
# Health check of the backup service: healthy while the last good backup is younger than
# one interval plus an hour (a failing backup turns the service unhealthy within a day).
BACKUP_DIR=${BACKUP_DIR:-./backups}
interval=${BACKUP_INTERVAL_SECONDS:-86400}
minutes=$((interval / 60 + 60))
[ -n "$(find "$BACKUP_DIR/.last-success" -mmin -"$minutes" 2>/dev/null)" ]
