#!/usr/bin/env bash
# Runs every Fuzz target of the module for a short, bounded time each
# (FUZZTIME, default 10s). Fails on the first crash.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10s}
n=0
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "fuzz $pkg $target ($FUZZTIME)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" >/tmp/fuzz.$$.log 2>&1 || {
			cat /tmp/fuzz.$$.log
			echo "FAIL: fuzz target $target in $pkg" >&2
			exit 1
		}
		n=$((n + 1))
	done
done
rm -f /tmp/fuzz.$$.log
echo "fuzz: $n targets ran for $FUZZTIME each, no crash"
[[ $n -gt 0 ]]
