# meshlb — build, test and benchmark targets. `make test` is the one test
# command (CI runs it through .ci/run).

# Use the Go at /usr/local/go when none is on PATH. Exported, because the
# integration tests run `go build` themselves.
ifeq ($(shell command -v go 2>/dev/null),)
export PATH := /usr/local/go/bin:$(PATH)
endif

GO       ?= go
BIN      := $(CURDIR)/bin
MESHLB   := $(BIN)/meshlb

# staticcheck 2026.2.2 (module version v0.8.2): built with Go 1.26 and able
# to check Go 1.26 code. Installed under bin/, keyed by version.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK         := $(BIN)/staticcheck-$(STATICCHECK_VERSION)/staticcheck

FUZZTIME  ?= 20s
BENCH_DIR := $(abspath ../shared/bench)
BENCHCMP_TOOLS := haproxy nginx caddy wrk taskset python3

.PHONY: all build demo test race bench lint fuzz benchcmp benchmtls clean consul scale

all: build

build:
	$(GO) build -o bin/meshlb ./cmd/meshlb

# The Consul agent the integration tests run: built once from
# tools/consul (its own module) and cached in $${MESHLB_CACHE:-~/.cache/meshlb}.
# Prints the binary's path; tests find it there, or through CONSUL_BIN.
consul:
	@tools/consul/install.sh

# Control server, demo backends and sidecars on this machine; Ctrl-C stops it.
demo: build
	./bin/meshlb demo

# Unit and integration tests (integration/ builds the binary itself). The
# pinned Consul agent is built first when it is not cached, so the Consul
# integration tests always run; they fail, never skip, without an agent.
# The integration package (real Consul agents, sidecars, gRPC interop,
# h2spec) takes several minutes on two cores, more than go test's default
# 10-minute bound per package on a cold build cache: it gets 30.
# Test artifacts (t.ArtifactDir: the dashboard's browser screenshot) are
# kept under bin/test-artifacts.
test:
	$(GO) vet ./...
	@mkdir -p $(BIN)/test-artifacts
	CONSUL_BIN="$${CONSUL_BIN:-$$(tools/consul/install.sh)}" $(GO) test -count=1 -timeout 30m -artifacts -outputdir $(BIN)/test-artifacts ./...

# Push latency at the sizes of issue 14: 1,000 ADS streams (half delta)
# against a real control server, one endpoint edit of a service they all
# call; 2,000 then 10,000 services of 10 endpoints. Figures are appended to
# $(SCALE_REPORT). `make test` runs a small variant of the same test.
SCALE_REPORT ?= $(BIN)/scale-report.txt
scale:
	@mkdir -p $(BIN)
	MESHLB_SCALE_REPORT=$(SCALE_REPORT) MESHLB_SCALE_SERVICES=2000 MESHLB_SCALE_STREAMS=1000 \
		$(GO) test -count=1 -v -timeout 20m -run TestPushLatency ./integration/scale/
	MESHLB_SCALE_REPORT=$(SCALE_REPORT) MESHLB_SCALE_SERVICES=10000 MESHLB_SCALE_STREAMS=1000 \
		$(GO) test -count=1 -v -timeout 20m -run TestPushLatency ./integration/scale/

race:
	$(GO) test -race -short ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./sidecar/... ./xds/... ./discovery/...

lint: $(STATICCHECK)
	$(GO) vet ./...
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(dir $@) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# A short run of every Fuzz* target in the module, one `go test -fuzz` each
# (-fuzz must match exactly one target). FUZZTIME=2m for a longer run.
fuzz:
	@set -e; \
	files=$$(grep -rl --include='*_test.go' --exclude-dir=.git --exclude-dir=.cache \
		--exclude-dir=bin --exclude-dir=testdata --exclude-dir=vendor '^func Fuzz' . | sort); \
	if [ -z "$$files" ]; then echo "no Fuzz targets found"; exit 1; fi; \
	for f in $$files; do \
		pkg=$$(dirname "$$f"); \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$f"); do \
			echo "==> $$pkg $$t ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
		done; \
	done

# meshlb beside HAProxy, nginx and Caddy on loopback (shared/bench/run.py).
# Needs: apt-get install haproxy nginx libnginx-mod-stream caddy wrk.
# Extra run.py flags: make benchcmp BENCHFLAGS='--secs 15 --mode http'
# meshlb's mTLS hop beside plaintext and HAProxy: make benchmtls BENCHFLAGS='--secs 10'
benchmtls: build
	python3 tools/bench/mtls.py --meshlb $(MESHLB) $(BENCHFLAGS)

benchcmp: build
	@missing=""; for t in $(BENCHCMP_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
		echo "benchcmp: missing:$$missing"; \
		echo "install with: apt-get install haproxy nginx libnginx-mod-stream caddy wrk"; \
		exit 1; \
	fi
	python3 $(BENCH_DIR)/run.py $(BENCHFLAGS) --extra "meshlb|$(MESHLB) sidecar --config $(BENCH_DIR)/envoy-bootstrap.yaml --log-level warn|18098|18099"

clean:
	rm -rf bin
