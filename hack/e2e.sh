#!/usr/bin/env bash
# End-to-end test of the dashboard: starts `routedeck serve` on free
# loopback ports with a fresh data directory (demo workspace, first admin),
# and a real Consul agent and kube-apiserver for the upstream pickers
# (frontend/e2e/targets, with the servers `make tools` builds), then walks
# the UI flows in headless Chromium (frontend/e2e/run.mjs).
#
#   hack/e2e.sh [BINARY [FLOW...]]      (default bin/routedeck, every flow)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-bin/routedeck}
[ $# -gt 0 ] && shift
work=$(mktemp -d)
server=""
targets=""
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	# The targets helper stops its servers within a few seconds of SIGTERM.
	[ -n "$targets" ] && kill "$targets" 2>/dev/null && wait "$targets" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# The discovery flows need real servers: a missing one fails the run (with
# what to do) instead of leaving those flows out.
tools_dir=${ROUTEDECK_TOOLS_DIR:-$HOME/.cache/routedeck/tools}
for tool in "${ROUTEDECK_CONSUL:-$tools_dir/consul-v1.20.6/consul}" \
	"${ROUTEDECK_KUBE_APISERVER:-$tools_dir/kube-apiserver-v1.35.4/kube-apiserver}" \
	"${ROUTEDECK_ETCD:-/usr/bin/etcd}"; do
	if [ ! -x "$tool" ]; then
		echo "e2e: $tool is missing; run \`make tools\` (hack/tools.sh) first" >&2
		exit 1
	fi
done

# Started first, as the API server takes the longest to come up. Its stdin
# is a pipe this script holds open: however the script ends, the helper
# sees the pipe close and stops its servers.
go build -o "$work/targets" ./frontend/e2e/targets
mkfifo "$work/targets.in"
"$work/targets" <"$work/targets.in" >"$work/targets.json" 2>"$work/targets.log" &
targets=$!
exec 3>"$work/targets.in"

# The server's ports come from 10000-19999: below the kernel's ephemeral
# range (where anything bound to port 0 lands) and below the ports the
# helper's test servers claim (20000 up to that range).
free_port() {
	python3 -c '
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    p = random.randrange(10000, min(lo, 20000))
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break
'
}
http_port=$(free_port)
ads_port=$(free_port)
while [ "$ads_port" = "$http_port" ]; do ads_port=$(free_port); done

"$bin" serve --listen "127.0.0.1:$http_port" --ads-listen "127.0.0.1:$ads_port" \
	--data-dir "$work/data" >"$work/server.log" 2>&1 3>&- &
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
deadline=$((SECONDS + 120))
until [ -s "$work/targets.json" ]; do
	if ! kill -0 "$targets" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
		echo "e2e: Consul and kube-apiserver did not come up" >&2
		cat "$work/targets.log" >&2
		exit 1
	fi
	sleep 0.2
done
target() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/targets.json" "$1"; }

# The e2e proxies connect as an operator's Envoy would: a certificate of the
# data directory's CA for gateway "public", and a bootstrap whose ADS cluster
# reads it through SDS files, over mutual TLS.
"$bin" certs issue --gateway public --out "$work/tls" --data-dir "$work/data"
"$bin" bootstrap --gateway public --node e2e-envoy --ads "127.0.0.1:$ads_port" \
	--cert-dir "$work/tls" --out "$work/envoy" --data-dir "$work/data"

password=$(sed -n 's/.*created user "admin" with password \([^ ]*\).*/\1/p' "$work/server.log" | head -1)
[ -n "$password" ] || { echo "e2e: no admin password in the server log" >&2; cat "$work/server.log" >&2; exit 1; }

# Flows that run routedeck's own commands find it here, from frontend/.
bin_path=$(realpath "$bin")
status=0
bin_path=$(realpath "$bin")
(
	cd frontend
	ROUTEDECK_URL="http://127.0.0.1:$http_port" ROUTEDECK_ADMIN_PASSWORD="$password" \
		ROUTEDECK_ADS="127.0.0.1:$ads_port" ROUTEDECK_ADS_BOOTSTRAP="$work/envoy/envoy.yaml" ROUTEDECK_BIN="$bin_path" \
		ROUTEDECK_E2E_CONSUL="$(target consul)" ROUTEDECK_E2E_KUBECONFIG="$(target kubeconfig)" \
		ROUTEDECK_E2E_KUBE_CONTEXT="$(target kubeContext)" ROUTEDECK_E2E_TARGETS="$(target control)" \
		node e2e/run.mjs "$@" 3>&-
) || status=$?
if [ $status -ne 0 ]; then
	echo "e2e: failed; server log follows" >&2
	tail -50 "$work/server.log" >&2
	echo "e2e: targets log follows" >&2
	tail -20 "$work/targets.log" >&2
fi
exit $status
