#!/usr/bin/env bash
# End-to-end test of the dashboard: starts `routedeck serve` on free
# loopback ports with a fresh data directory (demo workspace, first admin),
# and a real Consul agent and kube-apiserver for the upstream pickers
# (frontend/e2e/targets, with the servers `make tools` builds), then walks
# the UI flows in headless Chromium (frontend/e2e/run.mjs). Then the data
# path: `routedeck proxy` runs as a gateway of its own process from the
# generated bootstrap, serves real HTTP requests, and the request log (API
# and CLI) and /metrics must report each with its rule and version.
#
#   hack/e2e.sh [BINARY [FLOW...]]      (default bin/routedeck, every flow)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-bin/routedeck}
[ $# -gt 0 ] && shift
work=$(mktemp -d)
server=""
targets=""
proxy=""
cleanup() {
	[ -n "$proxy" ] && kill "$proxy" 2>/dev/null && wait "$proxy" 2>/dev/null
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
		ROUTEDECK_E2E_SMTP="$(target smtp)" \
		node e2e/run.mjs "$@" 3>&-
) || status=$?

# The standalone gateway. `routedeck proxy` binds the listeners where the
# gateway says, so gateway "public" moves to a free port first (the demo's
# 8000 may be taken on a developer's machine), and is published.
proxy_check() {
	local url="http://127.0.0.1:$http_port" token gw_port version
	token=$("$bin" token create --name e2e-proxy-check --role admin --data-dir "$work/data")
	export ROUTEDECK_SERVER="$url" ROUTEDECK_TOKEN="$token"
	gw_port=$(free_port)
	while [ "$gw_port" = "$http_port" ] || [ "$gw_port" = "$ads_port" ]; do gw_port=$(free_port); done
	# Whatever port the flows left it on (they may run a proxy of their own).
	"$bin" get gateway public -o json | python3 -c '
import json, sys
gw = json.load(sys.stdin)
for l in gw["listeners"]:
    if l["name"] == "http":
        l["port"] = int(sys.argv[1])
json.dump(gw, open(sys.argv[2], "w"))
' "$gw_port" "$work/public.json"
	curl -fsS -X PUT -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
		--data-binary @"$work/public.json" "$url/api/v1/gateways/public" >/dev/null
	"$bin" publish --gateway public --force >/dev/null
	version=$(curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/gateways/public/published" |
		python3 -c 'import json, sys; print(max(p["version"] for p in json.load(sys.stdin)["items"]))')

	"$bin" proxy --bootstrap "$work/envoy/envoy.yaml" --admin-address-path "$work/proxy.admin" \
		>"$work/proxy.log" 2>&1 3>&- &
	proxy=$!
	local deadline=$((SECONDS + 30))
	until [ -s "$work/proxy.admin" ] && [ "$(curl -sS "http://$(cat "$work/proxy.admin")/ready" 2>/dev/null)" = "LIVE" ]; do
		if ! kill -0 "$proxy" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
			echo "e2e proxy: routedeck proxy did not become LIVE" >&2
			cat "$work/proxy.log" >&2
			return 1
		fi
		sleep 0.1
	done

	# Requests are sent once `logs -f` follows the log, and the check ends
	# when it has printed every one: the stream is the event awaited.
	python3 - "$bin" "$version" "$gw_port" "$url" "$token" <<'PY'
import json, random, subprocess, sys, threading, urllib.request

bin, version, port, url, token = sys.argv[1:]
node = "e2e-envoy"  # the bootstrap's node, from `routedeck bootstrap --node`
run = "%x" % random.getrandbits(32)  # tells these requests from the flows' through the same node
sent = [  # path, host, expected rule, expected status
    ("/healthz?n=0&run=" + run, "shop.example.com", "healthz", 200),
    ("/healthz?n=1&run=" + run, "shop.example.com", "healthz", 200),
    ("/healthz?n=2&run=" + run, "shop.example.com", "healthz", 200),
    ("/healthz?n=3&run=" + run, "shop.example.com", "healthz", 200),
    ("/catalog/shoes?run=" + run, "shop.example.com", "old-catalog", 301),
    ("/nowhere?run=" + run, "unknown.example.com", "", 404),
]

def get(path):
    req = urllib.request.Request(url + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()

def metrics():
    out = {}
    for line in get("/metrics").splitlines():
        if line.startswith("routedeck_accesslog_requests_total{"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out

def requested(e):
    # A rule that rewrites the path (the redirect's prefix too) logs the
    # path it made and the one requested, as Envoy does.
    return e.get("originalPath") or e["path"]

def fail(msg):
    print("e2e proxy: " + msg, file=sys.stderr)
    sys.exit(1)

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None

def send(path, host, want):
    req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), headers={"Host": host})
    try:
        status = opener.open(req, timeout=10).status
    except urllib.error.HTTPError as e:
        status = e.code
    if status != want:
        fail("%s (host %s) through the proxy: %d, want %d" % (path, host, status, want))

opener = urllib.request.build_opener(NoRedirect)
before = metrics()
# The first request goes before `logs -f` starts: that prints the newest
# stored entry, or waits for this one, so its first line says it follows.
send(*sent[0][:2], sent[0][3])
follow = subprocess.Popen([bin, "logs", "--gateway", "public", "-f", "-o", "json", "--limit", "1"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
timer = threading.Timer(30, follow.kill)
timer.start()
seen = {}
try:
    for i, line in enumerate(follow.stdout):
        e = json.loads(line)
        if e["node"] == node and requested(e).endswith(run):
            seen[requested(e)] = e
        if i == 0:
            for path, host, _, want in sent[1:]:
                send(path, host, want)
        if len(seen) == len(sent):
            break
finally:
    timer.cancel()
    follow.kill()
    follow.wait()
if len(seen) != len(sent):
    fail("`routedeck logs -f` printed %d of the %d requests: %s\n%s" % (len(seen), len(sent), sorted(seen), follow.stderr.read()))

def check(source, entries):
    by_path = {requested(e): e for e in entries if e["node"] == node}
    for path, host, rule, status in sent:
        e = by_path.get(path)
        if e is None:
            fail("%s: no entry for %s among %s" % (source, path, json.dumps(list(by_path.values()))))
        if (e["rule"], e["status"], e["version"], e["gateway"], e["host"]) != (rule, status, version, "public", host):
            fail("%s: entry of %s = %s; want rule %r, status %d, version %s" % (source, path, json.dumps(e), rule, status, version))

check("logs -f", seen.values())
check("GET /gateways/public/logs", json.loads(get("/api/v1/gateways/public/logs?since=10m&limit=100"))["items"])
cli = subprocess.run([bin, "logs", "--gateway", "public", "--since", "10m", "-o", "json"], capture_output=True, text=True, check=True)
check("routedeck logs -o json", [json.loads(l) for l in cli.stdout.splitlines()])
healthz = json.loads(get("/api/v1/gateways/public/logs?rule=healthz&since=10m"))["items"]
if sum(1 for e in healthz if e["node"] == node and requested(e).endswith(run)) != 4:
    fail("?rule=healthz: %s" % json.dumps(healthz))

after = metrics()
for labels, n in (('gateway="public",rule="healthz",status_class="2xx"', 4),
                  ('gateway="public",rule="old-catalog",status_class="3xx"', 1),
                  ('gateway="public",rule="",status_class="4xx"', 1)):
    key = "routedeck_accesslog_requests_total{%s}" % labels
    if after.get(key, 0) - before.get(key, 0) != n:
        fail("/metrics %s went from %s to %s, want +%d" % (key, before.get(key), after.get(key), n))
print("e2e proxy: routedeck proxy served %d requests; the request log (API, CLI) and /metrics report each with its rule and version %s" % (len(sent), version))
PY
}
# Every run ends with it; `hack/e2e.sh BINARY proxy` runs it alone.
if [ $status -eq 0 ] && { [ $# -eq 0 ] || [[ " $* " == *" proxy "* ]]; }; then
	proxy_check || status=$?
fi
if [ $status -ne 0 ]; then
	echo "e2e: failed; server log follows" >&2
	tail -50 "$work/server.log" >&2
	echo "e2e: targets log follows" >&2
	tail -20 "$work/targets.log" >&2
fi
exit $status
