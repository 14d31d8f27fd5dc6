#!/usr/bin/env bash
# Desktop smoke test: runs the Wails binary in a virtual X display, waits
# until the window's UI has called the API through the Wails asset handler,
# and saves a screenshot of the screen.
#
#   hack/desktop-smoke.sh BINARY SCREENSHOT.png
set -euo pipefail
bin=$1
shot=$2
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# A free display number: the first without a lock file.
n=90
while [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
Xvfb ":$n" -screen 0 1440x900x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done

log="$work/desktop.log"
DISPLAY=":$n" ROUTEDECK_DATA_DIR="$work/data" ROUTEDECK_ADS_LISTEN=127.0.0.1:0 \
	XDG_CONFIG_HOME="$work/config" WEBKIT_DISABLE_COMPOSITING_MODE=1 \
	"$bin" >"$log" 2>&1 &
pids+=($!)
app=$!

# The UI's first API request reaching the Handler is the proof the window
# loaded the dashboard from the embedded UI and talks to the backend.
deadline=$((SECONDS + 90))
until grep -q 'msg="http request".*path=/api/v1/' "$log"; do
	if ! kill -0 "$app" 2>/dev/null; then
		echo "desktop: the app exited before its UI called the API" >&2
		cat "$log" >&2
		exit 1
	fi
	if [ $SECONDS -ge $deadline ]; then
		echo "desktop: no API request from the window within 90s" >&2
		cat "$log" >&2
		exit 1
	fi
	sleep 0.5
done
grep 'msg="http request".*path=/api/v1/' "$log" | head -3
# The window runs as the local admin: no account is made, and no password
# printed for one.
if grep -q 'created user\|with password' "$log"; then
	echo "desktop: the app printed an admin password it never needs:" >&2
	grep 'created user\|with password' "$log" >&2
	exit 1
fi
# Let the first screen render before taking the picture.
sleep 4
mkdir -p "$(dirname "$shot")"
DISPLAY=":$n" import -window root "$shot"
echo "desktop: window loaded the UI; screenshot in $shot"
