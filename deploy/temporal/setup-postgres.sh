#!/bin/sh
# One-shot schema job (temporalio/admin-tools): creates the Temporal
# persistence and visibility databases on PostgreSQL and brings both
# schemas to the version the image ships. Safe to re-run: `create` ignores
# an existing database and update-schema only applies missing versions.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
PORT="${DB_PORT:-5432}"
SCHEMA=/etc/temporal/schema/postgresql/v12

i=0
until nc -z -w 5 "$POSTGRES_SEEDS" "$PORT"; do
	i=$((i + 1))
	if [ "$i" -ge 30 ]; then
		echo "PostgreSQL at $POSTGRES_SEEDS:$PORT not reachable" >&2
		exit 1
	fi
	sleep 2
done

# sql DB ARGS... runs temporal-sql-tool against database DB.
sql() {
	db=$1
	shift
	temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$PORT" -u "$POSTGRES_USER" --db "$db" "$@"
}

for pair in temporal:temporal temporal_visibility:visibility; do
	name=${pair%%:*}
	dir=${pair#*:}
	echo "schema: $name"
	sql "$name" create
	sql "$name" setup-schema -v 0.0
	sql "$name" update-schema -d "$SCHEMA/$dir/versioned"
done
echo "schema: done"
