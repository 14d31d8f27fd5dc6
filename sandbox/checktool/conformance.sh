#!/usr/bin/env bash
# Runs every router_check test file in DIR (Envoy's corpus layout) and
# compares each verdict with Envoy's: NAME.golden.proto.{json,yaml} runs
# against NAME.yaml and must pass; NAMEFailures.golden.proto.* without its
# own NAMEFailures.yaml runs against NAME.yaml and must fail with assertion
# failures ("expected: [...], actual: [...]").
#
# Usage: sandbox/checktool/conformance.sh DIR [ROUTEDECK_BINARY]
# With a binary, each pair runs through `ROUTEDECK_BINARY check`; without,
# through the checktool package (go run ./cmd/conformance).
set -euo pipefail
dir=${1:?usage: conformance.sh DIR [ROUTEDECK_BINARY]}
dir=$(cd "$dir" && pwd)
bin=${2:-}
here=$(cd "$(dirname "$0")" && pwd)

if [ -z "$bin" ]; then
  cd "$here"
  exec go run ./cmd/conformance "$dir"
fi
[[ $bin == /* ]] || bin="$PWD/$bin"

bad=0 n=0
shopt -s nullglob
for t in "$dir"/*.golden.proto.json "$dir"/*.golden.proto.yaml; do
  base=$(basename "$t"); name=${base%.golden.proto.*}
  cfg="$dir/$name.yaml"; want=pass
  if [ ! -e "$cfg" ] && [[ $name == *Failures ]]; then
    cfg="$dir/${name%Failures}.yaml"; want=fail
  fi
  if [ ! -e "$cfg" ]; then
    echo "FAIL $base: no route configuration $(basename "$cfg")"; bad=$((bad+1)); continue
  fi
  n=$((n+1))
  got=pass
  out=$("$bin" check -c "$cfg" -t "$t" --details 2>&1) || got=fail
  if [ "$got" = fail ] && ! grep -q 'actual: ' <<<"$out"; then
    got="fail without assertion failures"
  fi
  if [ "$got" = "$want" ]; then
    echo "ok   $base against $(basename "$cfg") ($want)"
  else
    echo "FAIL $base against $(basename "$cfg"): want $want, got $got"
    sed 's/^/     /' <<<"$out"
    bad=$((bad+1))
  fi
done
[ "$n" -gt 0 ] || { echo "no router check test files in $dir"; exit 1; }
[ "$bad" -eq 0 ] || { echo "$bad test files did not get Envoy's verdict"; exit 1; }
