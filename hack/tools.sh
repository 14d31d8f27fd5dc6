#!/usr/bin/env bash
# Builds the server binaries the integration suites run against (Consul,
# kube-apiserver) from their Go modules and installs etcd from Debian.
#
# Binaries are cached outside the checkout, one directory per name and
# version, so every clone and worktree reuses them and a version bump builds
# afresh next to the old one:
#
#   ${ROUTEDECK_TOOLS_DIR:-$HOME/.cache/routedeck/tools}/consul-v1.20.6/consul
#   ${ROUTEDECK_TOOLS_DIR:-$HOME/.cache/routedeck/tools}/kube-apiserver-v1.35.4/kube-apiserver
#
# Idempotent: what is already built is skipped. Prints NAME=PATH per tool on
# stdout; progress goes to stderr. Usage: hack/tools.sh [consul|kube-apiserver|etcd]...
set -euo pipefail

CONSUL_VERSION=v1.20.6
KUBE_VERSION=v1.35.4

tools_dir="${ROUTEDECK_TOOLS_DIR:-$HOME/.cache/routedeck/tools}"
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(etcd consul kube-apiserver)

# The builds are long: they run at the lowest priority so a shared machine
# stays usable. On a busy machine, ROUTEDECK_TOOLS_GOFLAGS=-p=1 also limits
# them to one package at a time; by default they use every core, which is
# what keeps a fresh CI machine's first run short.
build_env=(env "GOFLAGS=${ROUTEDECK_TOOLS_GOFLAGS:-}" GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0)
nice=(nice -n 19)

log() { echo "tools: $*" >&2; }

# Each tool is built from a throwaway main module (under .build/ in the tools
# directory, never in the checkout) that requires the tool's module, so the
# tool's dependencies do not leak into routedeck's go.mod.
build_consul() {
	local out="$tools_dir/consul-$CONSUL_VERSION"
	if [ -x "$out/consul" ]; then echo "consul=$out/consul"; return; fi
	local mod="$tools_dir/.build/consul-$CONSUL_VERSION"
	log "building consul $CONSUL_VERSION (this takes several minutes)"
	mkdir -p "$mod" "$out"
	cat >"$mod/go.mod" <<MOD
module routedeck.local/tools/consul

go 1.23
MOD
	# consul-awsauth's published checksum does not match the module proxy's
	# copy for the version Consul pins, so it must bypass the checksum DB.
	(cd "$mod" &&
		"${build_env[@]}" GONOSUMDB=github.com/hashicorp/consul-awsauth GOFLAGS=-mod=mod \
			go get "github.com/hashicorp/consul@$CONSUL_VERSION" >&2 &&
		"${build_env[@]}" GONOSUMDB=github.com/hashicorp/consul-awsauth \
			"${nice[@]}" go build -trimpath -o "$out/consul.tmp" github.com/hashicorp/consul)
	mv "$out/consul.tmp" "$out/consul"
	echo "consul=$out/consul"
}

build_kube_apiserver() {
	local out="$tools_dir/kube-apiserver-$KUBE_VERSION"
	if [ -x "$out/kube-apiserver" ]; then echo "kube-apiserver=$out/kube-apiserver"; return; fi
	local mod="$tools_dir/.build/kube-apiserver-$KUBE_VERSION"
	log "building kube-apiserver $KUBE_VERSION (this takes a long time)"
	mkdir -p "$mod" "$out"
	# k8s.io/kubernetes requires its staging modules as v0.0.0 and points them
	# at ./staging with replace directives, which do not apply to a module
	# that merely depends on it. Replace each of them with the published
	# v0.x release of the same minor instead, taken from that replace block.
	local kmod staging_version
	kmod="$(cd "$mod" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" |
		sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
	staging_version="v0.${KUBE_VERSION#v1.}"
	{
		echo "module routedeck.local/tools/kube-apiserver"
		echo
		echo "go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$kmod")"
		echo
		echo "require k8s.io/kubernetes $KUBE_VERSION"
		echo
		echo "replace ("
		sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/src/.*$#\t\1 => \1 '"$staging_version"'#p' "$kmod"
		echo ")"
	} >"$mod/go.mod"
	local ver="${KUBE_VERSION#v}" ldflags
	ldflags="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION"
	ldflags+=" -X k8s.io/component-base/version.gitMajor=${ver%%.*}"
	ldflags+=" -X k8s.io/component-base/version.gitMinor=$(echo "$ver" | cut -d. -f2)"
	ldflags+=" -X k8s.io/component-base/version/verflag.programName=kube-apiserver"
	(cd "$mod" &&
		"${build_env[@]}" GOFLAGS=-mod=mod go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION" >&2 &&
		"${build_env[@]}" "${nice[@]}" go build -trimpath -ldflags "$ldflags" \
			-o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
	mv "$out/kube-apiserver.tmp" "$out/kube-apiserver"
	echo "kube-apiserver=$out/kube-apiserver"
}

install_etcd() {
	# stdout carries only NAME=PATH lines.
	[ -x /usr/bin/etcd ] || "$(dirname "$0")/deps.sh" etcd-server >&2
	echo "etcd=/usr/bin/etcd"
}

for t in "${want[@]}"; do
	case "$t" in
	consul) build_consul ;;
	kube-apiserver) build_kube_apiserver ;;
	etcd) install_etcd ;;
	*) echo "tools: unknown tool $t (consul, kube-apiserver, etcd)" >&2; exit 2 ;;
	esac
done
