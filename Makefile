# routedeck — build, run and test.
#
#   make run      build the UI and the server, serve the demo on 127.0.0.1:8080
#                 (ADS on 127.0.0.1:18000 over mutual TLS; make envoy-config
#                 writes what a local Envoy of the demo gateway needs)
#   make test     install what the tests need, then run every suite
#
# Tools that take long to build (Consul, kube-apiserver) are cached outside
# the checkout, in $(TOOLS_DIR), so fresh clones reuse them.

SHELL        := /usr/bin/env bash
GO           ?= go
BIN          := bin/routedeck
DATA_DIR     ?= .routedeck
LISTEN       ?= 127.0.0.1:8080
ADS_LISTEN   ?= 127.0.0.1:18000
TOOLS_DIR    ?= $(HOME)/.cache/routedeck/tools
CONFORMANCE  ?= ../shared/conformance/envoy-router-check
export ROUTEDECK_TOOLS_DIR := $(TOOLS_DIR)

.PHONY: all run envoy-config build ui ui-deps desktop test test-deps test-go test-stress test-fuzz test-ui test-e2e \
        test-desktop conformance tools bench vet clean

all: build

## run: build everything and serve the dashboard with the demo workspace
run: build
	./$(BIN) serve --listen $(LISTEN) --ads-listen $(ADS_LISTEN) --data-dir $(DATA_DIR)

## envoy-config: a certificate of the data directory's CA for gateway "public"
## and a bootstrap reading it, in $(DATA_DIR)/envoy: envoy -c $(DATA_DIR)/envoy/envoy.yaml
envoy-config: build
	./$(BIN) certs issue --gateway public --out $(abspath $(DATA_DIR))/envoy/tls --data-dir $(DATA_DIR)
	./$(BIN) bootstrap --gateway public --ads $(ADS_LISTEN) --cert-dir $(abspath $(DATA_DIR))/envoy/tls \
		--out $(abspath $(DATA_DIR))/envoy --data-dir $(DATA_DIR)

## build: bin/routedeck, server build with the UI embedded (no webkit needed)
build: ui
	$(GO) build -o $(BIN) .

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

ui-deps: frontend/node_modules/.installed

## ui: the Vite build into frontend/dist (embedded by the Go build), redone
## only when a frontend source, its configuration or its packages changed
UI_SOURCES := $(shell find frontend/src frontend/public -type f 2>/dev/null) \
              frontend/index.html frontend/vite.config.ts frontend/tsconfig.json \
              frontend/package.json frontend/package-lock.json
ui: frontend/dist/index.html

frontend/dist/index.html: frontend/node_modules/.installed $(UI_SOURCES)
	cd frontend && npm run build
	touch $@

## desktop: the Wails desktop app, build/bin/routedeck-desktop
desktop: ui
	./hack/deps.sh libgtk-3-dev libwebkit2gtk-4.0-dev
	"$$(./hack/wails.sh)" build -m -s -skipbindings -tags webkit2_40 -o routedeck-desktop

## tools: Consul, kube-apiserver, etcd for the integration suites (cached)
tools:
	./hack/tools.sh

## test: everything CI runs
test: test-deps vet test-go test-stress test-fuzz test-ui build test-e2e conformance test-desktop

test-deps: tools
	./hack/deps.sh chromium xvfb imagemagick

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

test-go:
	$(GO) test -count=1 -timeout 20m ./...

# The simulated Envoy's xDS tests again and again with the race detector,
# several processes at once: updates lost to an interleaving or to a port
# taken under load show up here rather than once in a while in test-go.
STRESS_COUNT ?= 8
STRESS_PROCS ?= 2
STRESS_RUN   := TestDataPlane|TestTLS|TestSecrets|TestListener|TestUpstreamTLS|TestBuildKeeps
test-stress:
	$(GO) test -race -c -o bin/sim-stress.test ./sandbox/sim
	cd sandbox/sim && pids=(); \
	for i in $$(seq $(STRESS_PROCS)); do \
		../../bin/sim-stress.test -test.run '$(STRESS_RUN)' -test.count $(STRESS_COUNT) -test.timeout 5m & pids+=($$!); \
	done; \
	status=0; for p in "$${pids[@]}"; do wait $$p || status=1; done; exit $$status

# Short coverage-guided runs of the condition-language parser, the JSON
# route decoder and the YAML manifest loader, on top of the seed corpora
# that `go test` already replays. The budgets are counts of executions, not
# durations: Go's fuzz coordinator can report "context deadline exceeded"
# as a failure when a -fuzztime duration ends while a worker is busy (Go
# issue 75804, fixed after go1.26), which a loaded machine makes likely.
test-fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 200000x ./backend/rules
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime 30000x ./backend/manifest
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeRoute$$' -fuzztime 100000x ./backend/strictjson

test-ui: ui-deps
	cd frontend && npm test

test-e2e: build
	./hack/e2e.sh

# The desktop binary under Xvfb: its window must load the UI, whose first
# API call reaches the Wails asset handler.
test-desktop: desktop
	./hack/desktop-smoke.sh build/bin/routedeck-desktop build/bin/desktop.png

## conformance: Envoy's router_check corpus through `routedeck check`, when present
# It also makes, on that corpus, the checks of the tool's output that
# Envoy's own test of its tool makes.
conformance: build
	@if [ -d "$(CONFORMANCE)" ]; then ./sandbox/checktool/conformance.sh "$(CONFORMANCE)" ./$(BIN) && \
		ROUTEDECK_ROUTER_CHECK_CORPUS="$(abspath $(CONFORMANCE))" $(GO) test -tags conformance -count=1 -run '^TestEnvoyToolSequence$$' ./sandbox/checktool; \
	else echo "conformance: $(CONFORMANCE) not present, skipped"; fi

## bench: benchmarks and the JSON harness
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./backend/... ./sandbox/...
	$(GO) run ./bench

clean:
	rm -rf bin frontend/node_modules
	find frontend/dist -mindepth 1 ! -name .keep -delete
