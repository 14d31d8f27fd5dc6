#!/usr/bin/env bash
# Runs every router_check test file in DIR (Envoy's corpus layout) with
# routedeck's check tool and compares each verdict with Envoy's:
# NAME.golden.proto.{json,yaml} runs against NAME.yaml and must pass;
# NAMEFailures.golden.proto.* without its own NAMEFailures.yaml runs
# against NAME.yaml and must fail with assertion failures.
# Usage: sandbox/checktool/conformance.sh DIR
set -euo pipefail
dir=${1:?usage: conformance.sh DIR}
dir=$(cd "$dir" && pwd)
cd "$(dirname "$0")"
exec go run ./cmd/conformance "$dir"
