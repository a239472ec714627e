#!/usr/bin/env bash
# Builds the pinned tools of tools.env into .bin/ from the Go module proxy,
# and installs the npm packages of the ably-js interop test (npm) and of the
# web inbox's page (web: esbuild, eslint, playwright-core; the browser test
# also needs Debian's chromium, which .ci/run installs). Idempotent: a tool
# already built at the pinned version is kept.
#
#   scripts/install-tools.sh [temporal] [staticcheck] [workflowcheck] [npm] [web]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../tools.env
. ./tools.env
BIN="$PWD/.bin"
mkdir -p "$BIN"

build() { # name module version
	local name=$1 module=$2 version=$3 stamp="$BIN/.$1.version"
	if [[ -x "$BIN/$name" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
		return
	fi
	echo "building $name $version from the Go module proxy..." >&2
	GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "$module@$version"
	echo "$version" >"$stamp"
}

want=("$@")
[[ ${#want[@]} -gt 0 ]] || want=(temporal staticcheck workflowcheck npm web)
wants() { [[ " ${want[*]} " == *" $1 "* ]]; }

wants temporal && build temporal github.com/temporalio/cli/cmd/temporal "$TEMPORAL_CLI_VERSION"
wants staticcheck && build staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"
wants workflowcheck && build workflowcheck go.temporal.io/sdk/contrib/tools/workflowcheck "$WORKFLOWCHECK_VERSION"

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
