#!/usr/bin/env bash
# Builds the Wails CLI from its Go module into the tools cache (outside the
# checkout, keyed by version) and prints its path.
set -euo pipefail
version=v2.9.2
dir="${ROUTEDECK_TOOLS_DIR:-$HOME/.cache/routedeck/tools}/wails-$version"
if [ ! -x "$dir/wails" ]; then
	mod=$(mktemp -d)
	trap 'rm -rf "$mod"' EXIT
	(
		cd "$mod"
		go mod init routedeck.tools/wails >/dev/null 2>&1
		go get "github.com/wailsapp/wails/v2/cmd/wails@$version" >/dev/null 2>&1
		# The CLI's pinned x/tools no longer builds with current Go.
		go get golang.org/x/tools@latest >/dev/null 2>&1
		printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/wailsapp/wails/v2/cmd/wails"\n' >tools.go
		go mod tidy >/dev/null 2>&1
		mkdir -p "$dir"
		go build -o "$dir/wails" github.com/wailsapp/wails/v2/cmd/wails
	) >&2
fi
echo "$dir/wails"
