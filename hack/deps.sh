#!/usr/bin/env bash
# Installs the Debian packages the build and the test suites need, skipping
# what is already there so repeated runs cost nothing.
set -euo pipefail

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(chromium etcd-server xvfb libgtk-3-dev libwebkit2gtk-4.0-dev)

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing Debian packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
