#!/usr/bin/env bash
# Runs every router_check test file in DIR with routedeck's check tool and
# compares the verdict with Envoy's: NAME.golden.proto.{json,yaml} runs
# against NAME.yaml and must pass; a NAMEFailures.golden.proto.* file with
# no NAMEFailures.yaml runs against NAME.yaml and must fail.
# Usage: sandbox/checktool/conformance.sh DIR
set -euo pipefail
dir=${1:?usage: conformance.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
bin=$(mktemp -d)/checktool
trap 'rm -rf "$(dirname "$bin")"' EXIT
(cd "$here" && go build -o "$bin" ./cmd/checktool)

fail=0
n=0
for t in "$dir"/*.golden.proto.json "$dir"/*.golden.proto.yaml; do
  [ -e "$t" ] || continue
  name=$(basename "$t"); name=${name%.golden.proto.*}
  cfg="$dir/$name.yaml"; want=pass
  if [ ! -e "$cfg" ] && [[ $name == *Failures ]]; then
    cfg="$dir/${name%Failures}.yaml"; want=fail
  fi
  if [ ! -e "$cfg" ]; then
    echo "SKIP $name: no route configuration"; continue
  fi
  n=$((n+1))
  out=$("$bin" -c "$cfg" -t "$t" --details 2>&1) && got=pass || got=fail
  if [ "$got" = fail ] && [ "$want" = fail ] && ! grep -q 'expected: \[\|actual: \[' <<<"$out"; then
    got="fail without failure details"
  fi
  if [ "$got" = "$want" ]; then
    echo "ok   $name ($want)"
  else
    echo "FAIL $name: want $want, got $got"; sed 's/^/     /' <<<"$out"; fail=1
  fi
done
[ "$n" -gt 0 ] || { echo "no test files in $dir"; exit 1; }
exit $fail
