#!/usr/bin/env bash
# Builds the pinned tools of tools.env into .bin/ from the Go module proxy,
# and installs the ably-js interop test's npm packages. Idempotent: a tool
# already built at the pinned version is kept.
#
#   scripts/install-tools.sh [temporal] [staticcheck] [workflowcheck] [temporal-server] [temporal-ui] [npm]
#                                                                    (default: all)
#
# temporal-server builds .bin/temporal-server and .bin/temporal-sql-tool
# (go.temporal.io/server), temporal-ui builds .bin/temporal-ui-server: the
# production topology that `devstack prod` runs (about 6 minutes, once).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../tools.env
. ./tools.env
BIN="$PWD/.bin"
mkdir -p "$BIN"

build() { # name package version: go install package@version as .bin/name
	local name=$1 pkg=$2 version=$3 stamp="$BIN/.$1.version" tmp
	if [[ -x "$BIN/$name" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
		return
	fi
	echo "building $name $version from the Go module proxy..." >&2
	tmp=$(mktemp -d)
	GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "$pkg@$version"
	mv "$tmp/$(basename "$pkg")" "$BIN/$name"
	rmdir "$tmp"
	echo "$version" >"$stamp"
}

want=("$@")
[[ ${#want[@]} -gt 0 ]] || want=(temporal staticcheck workflowcheck temporal-server temporal-ui npm)
wants() { [[ " ${want[*]} " == *" $1 "* ]]; }

wants temporal && build temporal github.com/temporalio/cli/cmd/temporal "$TEMPORAL_CLI_VERSION"
wants staticcheck && build staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"
wants workflowcheck && build workflowcheck go.temporal.io/sdk/contrib/tools/workflowcheck "$WORKFLOWCHECK_VERSION"
if wants temporal-server; then
	build temporal-server go.temporal.io/server/cmd/server "$TEMPORAL_SERVER_VERSION"
	build temporal-sql-tool go.temporal.io/server/cmd/tools/sql "$TEMPORAL_SERVER_VERSION"
fi
wants temporal-ui && build temporal-ui-server github.com/temporalio/ui-server/v2/cmd/server "$TEMPORAL_UI_SERVER_VERSION"

if wants npm; then
	if [[ ! -d interop/ablyjs/node_modules ]] || [[ interop/ablyjs/package-lock.json -nt interop/ablyjs/node_modules ]]; then
		echo "installing the ably-js interop test's npm packages (npm ci)..." >&2
		npm ci --prefix interop/ablyjs --no-audit --no-fund >&2
		touch interop/ablyjs/node_modules
	fi
fi
exit 0
