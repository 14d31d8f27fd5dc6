#!/usr/bin/env bash
# End-to-end test of the dashboard: starts `routedeck serve` on free
# loopback ports with a fresh data directory (demo workspace, first admin),
# then walks the UI flows in headless Chromium (frontend/e2e/run.mjs).
#
#   hack/e2e.sh [BINARY]      (default bin/routedeck)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-bin/routedeck}
work=$(mktemp -d)
server=""
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http_port=$(free_port)
ads_port=$(free_port)

"$bin" serve --listen "127.0.0.1:$http_port" --ads-listen "127.0.0.1:$ads_port" \
	--data-dir "$work/data" >"$work/server.log" 2>&1 &
server=$!

deadline=$((SECONDS + 60))
until curl -fsS "http://127.0.0.1:$http_port/api/v1/health" >/dev/null 2>&1; do
	if ! kill -0 "$server" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
		echo "e2e: server did not come up" >&2
		cat "$work/server.log" >&2
		exit 1
	fi
	sleep 0.2
done
password=$(sed -n 's/.*created user "admin" with password \([^ ]*\).*/\1/p' "$work/server.log" | head -1)
[ -n "$password" ] || { echo "e2e: no admin password in the server log" >&2; cat "$work/server.log" >&2; exit 1; }

status=0
(
	cd frontend
	ROUTEDECK_URL="http://127.0.0.1:$http_port" ROUTEDECK_ADMIN_PASSWORD="$password" \
		ROUTEDECK_ADS="127.0.0.1:$ads_port" node e2e/run.mjs
) || status=$?
if [ $status -ne 0 ]; then
	echo "e2e: failed; server log follows" >&2
	tail -50 "$work/server.log" >&2
fi
exit $status
