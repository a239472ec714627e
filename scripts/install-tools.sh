#!/usr/bin/env bash
# Builds the pinned tools of tools.env into .bin/ from the Go module proxy,
# and installs the npm packages of the ably-js interop test (npm) and of the
# web inbox's page (web: esbuild, eslint, playwright-core; the browser test
# also needs Debian's chromium, which .ci/run installs). Idempotent: a tool
# already built at the pinned version is kept.
#
#   scripts/install-tools.sh [temporal] [staticcheck] [workflowcheck] [temporal-server] [temporal-ui] [npm] [web]
#                                                                    (default: all)
#
# temporal-server builds .bin/temporal-server and .bin/temporal-sql-tool
# (go.temporal.io/server), temporal-ui builds .bin/temporal-ui-server: the
# production topology that `devstack prod` runs. They are built in the
# pinned CLI's module graph, after the CLI (see with_cli).
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

# with_cli name package module version: builds package (of module at
# version) into .bin/name inside the module graph of the pinned Temporal
# CLI, which embeds the same server and UI server releases: the packages
# the CLI's build compiled are reused, so this takes seconds, not minutes.
# The binary must still carry module@version (a CLI pin that embeds another
# release fails here: pin the two together).
with_cli() {
	local name=$1 pkg=$2 module=$3 version=$4 stamp="$BIN/.$1.version" tmp got
	if [[ -x "$BIN/$name" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
		return
	fi
	echo "building $name $version (in the Temporal CLI $TEMPORAL_CLI_VERSION's module graph) from the Go module proxy..." >&2
	tmp=$(mktemp -d)
	(
		cd "$tmp"
		go mod init hitl.local/temporal-tools >/dev/null 2>&1
		GOFLAGS=-mod=mod go get "github.com/temporalio/cli@$TEMPORAL_CLI_VERSION" "$module@$version" >&2
		GOFLAGS="-mod=mod -buildvcs=false" go build -o "$BIN/$name" "$pkg"
	)
	rm -rf "$tmp"
	got=$(go version -m "$BIN/$name" | awk -v m="$module" '($1 == "dep" || $1 == "mod") && $2 == m { print $3 }')
	if [[ "$got" != "$version" ]]; then
		echo "$name was built with $module $got, not the pinned $version" >&2
		exit 1
	fi
	echo "$version" >"$stamp"
}

want=("$@")
[[ ${#want[@]} -gt 0 ]] || want=(temporal staticcheck workflowcheck temporal-server temporal-ui npm web)
wants() { [[ " ${want[*]} " == *" $1 "* ]]; }

wants temporal && build temporal github.com/temporalio/cli/cmd/temporal "$TEMPORAL_CLI_VERSION"
wants staticcheck && build staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"
wants workflowcheck && build workflowcheck go.temporal.io/sdk/contrib/tools/workflowcheck "$WORKFLOWCHECK_VERSION"
if wants temporal-server; then
	with_cli temporal-server go.temporal.io/server/cmd/server go.temporal.io/server "$TEMPORAL_SERVER_VERSION"
	with_cli temporal-sql-tool go.temporal.io/server/cmd/tools/sql go.temporal.io/server "$TEMPORAL_SERVER_VERSION"
fi
wants temporal-ui && with_cli temporal-ui-server github.com/temporalio/ui-server/v2/cmd/server github.com/temporalio/ui-server/v2 "$TEMPORAL_UI_SERVER_VERSION"

if wants npm; then
	if [[ ! -d interop/ablyjs/node_modules ]] || [[ interop/ablyjs/package-lock.json -nt interop/ablyjs/node_modules ]]; then
		echo "installing the ably-js interop test's npm packages (npm ci)..." >&2
		npm ci --prefix interop/ablyjs --no-audit --no-fund >&2
		touch interop/ablyjs/node_modules
	fi
fi
if wants web; then
	web=internal/authserver/web/app
	if [[ ! -d $web/node_modules ]] || [[ $web/package-lock.json -nt $web/node_modules ]]; then
		echo "installing the web inbox's npm packages (npm ci)..." >&2
		npm ci --prefix "$web" --no-audit --no-fund >&2
		touch "$web/node_modules"
	fi
fi
exit 0
