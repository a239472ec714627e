#!/usr/bin/env bash
# Runs every Fuzz target of the module for a short, bounded time each
# (FUZZTIME, default 10s). Fails on any crash.
#
# Each package's instrumented test binary is built once (go test -c -fuzz)
# and run once per target in the package's directory, so a package with
# several targets is compiled and linked once, not once per target. The
# corpus cache is go test's own ($GOCACHE/fuzz/<import path>), and
# testdata/fuzz seeds are read as go test reads them.
#
# Go 1.26's fuzz coordinator can report a bare "context deadline exceeded"
# when -fuzztime expires while a worker is mid-input (golang/go#75804, fixed
# in Go 1.27). Such a run wrote no failing input and printed no panic or
# test error; it is retried once. Anything else fails at once.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10s}
work=$(mktemp -d)
log="$work/log"
trap 'rm -rf "$work"' EXIT
cache=$(go env GOCACHE)/fuzz

deadline_flake() {
	grep -q 'context deadline exceeded' "$log" &&
		! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"
}

run_target() { # dir bin pkg target
	(cd "$1" && "$2" -test.run='^$' -test.fuzz="^$4\$" -test.fuzztime="$FUZZTIME" \
		-test.timeout=5m -test.fuzzcachedir="$cache/$3") >"$log" 2>&1
}

fail() { # pkg target
	cat "$log"
	echo "FAIL: fuzz target $2 in $1" >&2
	exit 1
}

n=0
# Targets are found in the test files, so listing costs no build.
while read -r pkg dir; do
	targets=$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$dir"/*_test.go 2>/dev/null | sort -u || true)
	[[ -n "$targets" ]] || continue
	bin="$work/$(echo "$pkg" | tr / _).test"
	echo "build $pkg (fuzz-instrumented)"
	go test -c -fuzz=. -o "$bin" "$pkg"
	for target in $targets; do
		echo "fuzz $pkg $target ($FUZZTIME)"
		if ! run_target "$dir" "$bin" "$pkg" "$target"; then
			deadline_flake || fail "$pkg" "$target"
			echo "  bare deadline at the -fuzztime boundary (golang/go#75804), no failing input: retrying once"
			run_target "$dir" "$bin" "$pkg" "$target" || fail "$pkg" "$target"
		fi
		n=$((n + 1))
	done
done < <(go list -f '{{.ImportPath}} {{.Dir}}' ./...)
echo "fuzz: $n targets ran for $FUZZTIME each, no crash"
[[ $n -gt 0 ]]
