#!/bin/sh
# One-shot setup job (temporalio/admin-tools): waits for the Temporal
# frontend, creates the namespace and registers the workflow's search
# attributes (see workflows.SAToolCallIDs, workflows.SAPendingApprovals).
# Safe to re-run: existing ones are kept.
set -eu
: "${TEMPORAL_ADDRESS:?}"
NS="${NAMESPACE:-default}"
RETENTION="${RETENTION:-720h}"

i=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -ge 60 ]; then
		echo "Temporal at $TEMPORAL_ADDRESS not healthy" >&2
		exit 1
	fi
	sleep 2
done

if ! temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$NS" >/dev/null 2>&1; then
	echo "namespace: creating $NS"
	temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$NS" --retention "$RETENTION"
fi

# The namespace cache may need a moment before search attributes can be added.
for sa in ApprovalToolCallIDs:KeywordList PendingApprovals:Int; do
	name=${sa%%:*}
	type=${sa#*:}
	i=0
	until temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" -n "$NS" | grep -qw "$name"; do
		i=$((i + 1))
		if [ "$i" -ge 30 ]; then
			echo "search attribute $name could not be registered" >&2
			exit 1
		fi
		temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" -n "$NS" --name "$name" --type "$type" || sleep 2
	done
	echo "search attribute: $name ($type)"
done
echo "setup: done"
