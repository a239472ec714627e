#!/bin/sh
# One-shot schema job: creates the Temporal persistence and visibility
# databases on PostgreSQL and brings both schemas to the version of the
# SQL tool's release. Safe to re-run: `create` ignores an existing database
# and update-schema only applies missing versions.
#
# Run by compose's temporal-schema job (temporalio/admin-tools, where the
# defaults below hold) and by `devstack prod` (the pinned builds in .bin and
# the schema of the same go.temporal.io/server release), so a fix here is a
# fix to both.
#
#   POSTGRES_SEEDS, POSTGRES_USER, SQL_PASSWORD   required (SQL_PASSWORD is
#                                                 read by the SQL tool itself)
#   DB_PORT              default 5432
#   TEMPORAL_SQL_TOOL    default temporal-sql-tool (on PATH)
#   TEMPORAL_SCHEMA_DIR  default /etc/temporal/schema (holds postgresql/v12)
#   WAIT_TRIES           default 30: tries, 2 s apart, to reach PostgreSQL
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
PORT="${DB_PORT:-5432}"
SQL_TOOL="${TEMPORAL_SQL_TOOL:-temporal-sql-tool}"
SCHEMA="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema}/postgresql/v12"
TRIES="${WAIT_TRIES:-30}"

if [ ! -d "$SCHEMA/temporal/versioned" ] || [ ! -d "$SCHEMA/visibility/versioned" ]; then
	echo "no PostgreSQL schema in $SCHEMA (set TEMPORAL_SCHEMA_DIR)" >&2
	exit 1
fi

# sql DB ARGS... runs the SQL tool against database DB.
sql() {
	db=$1
	shift
	"$SQL_TOOL" --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$PORT" -u "$POSTGRES_USER" --db "$db" "$@"
}

# Wait for PostgreSQL: the first create is retried until it connects; the
# last try shows the tool's error.
i=1
until sql temporal create >/dev/null 2>&1; do
	if [ "$i" -ge "$TRIES" ]; then
		echo "PostgreSQL at $POSTGRES_SEEDS:$PORT not usable after $TRIES tries:" >&2
		sql temporal create >&2
		exit 1
	fi
	i=$((i + 1))
	sleep 2
done

for pair in temporal:temporal temporal_visibility:visibility; do
	name=${pair%%:*}
	dir=${pair#*:}
	echo "schema: $name"
	sql "$name" create
	sql "$name" setup-schema -v 0.0
	sql "$name" update-schema -d "$SCHEMA/$dir/versioned"
done
echo "schema: done"
