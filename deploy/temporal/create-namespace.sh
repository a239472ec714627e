#!/bin/sh
# One-shot setup job: waits for the Temporal frontend, creates the namespace
# and registers the workflow's search attributes (workflows.SearchAttributes;
# deploy/setup_test.go checks that this list is exactly theirs). Safe to
# re-run: existing ones are kept.
#
# Run by compose's temporal-setup job (temporalio/admin-tools) and by
# `devstack prod` (the pinned Temporal CLI in .bin), so a fix here is a fix
# to both.
#
#   TEMPORAL_ADDRESS   required: host:port of the frontend
#   NAMESPACE          default "default"
#   RETENTION          default 720h (closed runs' history)
#   TEMPORAL_CLI       default temporal (on PATH)
#   WAIT_TRIES         default 60: tries, 2 s apart, to reach the frontend
set -eu
: "${TEMPORAL_ADDRESS:?}"
NS="${NAMESPACE:-default}"
RETENTION="${RETENTION:-720h}"
CLI="${TEMPORAL_CLI:-temporal}"
TRIES="${WAIT_TRIES:-60}"

i=1
until "$CLI" operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
	if [ "$i" -ge "$TRIES" ]; then
		echo "Temporal at $TEMPORAL_ADDRESS not healthy after $TRIES tries" >&2
		exit 1
	fi
	i=$((i + 1))
	sleep 2
done

if ! "$CLI" operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$NS" >/dev/null 2>&1; then
	echo "namespace: creating $NS"
	"$CLI" operator namespace create --address "$TEMPORAL_ADDRESS" -n "$NS" --retention "$RETENTION"
fi

# The namespace cache may need a moment before search attributes can be added.
for sa in ApprovalToolCallIDs:KeywordList PendingApprovals:Int; do
	name=${sa%%:*}
	type=${sa#*:}
	i=0
	until "$CLI" operator search-attribute list --address "$TEMPORAL_ADDRESS" -n "$NS" | grep -qw "$name"; do
		i=$((i + 1))
		if [ "$i" -ge 30 ]; then
			echo "search attribute $name could not be registered" >&2
			exit 1
		fi
		"$CLI" operator search-attribute create --address "$TEMPORAL_ADDRESS" -n "$NS" --name "$name" --type "$type" || sleep 2
	done
	echo "search attribute: $name ($type)"
done
echo "setup: done"
