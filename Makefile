# llmslo — make targets. `make test` is the README's test command and what .ci/run calls.
GO ?= go
CLANG ?= clang-19

.PHONY: all test test-busy bench test-privileged vet fmt-check bench-smoke bench generate check-generate cross release e2e-fleet

all: vet fmt-check test

test: vet fmt-check
	$(GO) test -race -count=1 ./...
	$(GO) -C deploy test -race -count=1 ./...
	# The incident lab's small run, without -race: under -race the service is
	# several times slower and no longer the workload the lab calibrates
	# (TestSmallLab skips itself there).
	$(GO) test -count=1 -run TestSmallLab ./cmd/slo-lab/
	# The fleet test, also without -race (TestFleet skips itself there).
	$(MAKE) e2e-fleet
	$(GO) test -run '^$$' -bench . -benchtime=1x ./... > /dev/null

# e2e-fleet runs the reference service as a fleet of three replicas on
# loopback ports, a real Prometheus scraping them with the generated rules
# and a real Alertmanager delivering to a webhook of the test (Debian
# packages prometheus and prometheus-alertmanager), and prints the delays
# from a provider fault to each replica's page, the Prometheus alert and the
# delivery (docs/fleet.md). Without -race: the replicas are the test binary.
e2e-fleet:
	$(GO) test -count=1 -v -run '^TestFleet$$' ./examples/rag-service/

# test-busy runs make test three times in a row while two CPU hogs keep
# both cores busy (internal/busy/test-busy.sh starts them and stops them by
# PID, also on failure or interrupt): the timing tests must hold on a
# loaded machine. On a shared machine, run it under the heavy-test lock.
test-busy:
	MAKE="$(MAKE)" sh internal/busy/test-busy.sh

test-privileged:
	SLO_REQUIRE_BPF=1 $(GO) test -exec 'sudo -E' -race -count=1 ./...

vet:
	$(GO) vet ./...
	$(GO) -C deploy vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# bench runs the library's benchmark suite (-count 10; implementations side by
# side in one run, as sub-benchmarks impl=...) and prints ratios with CIs and
# the overhead gates through ./benchstat (internal/cmd/benchreport). It exits
# non-zero when a gate fails. Figures: docs/performance.md.
BENCH_COUNT ?= 10
BENCHREPORT = $(GO) run ./internal/cmd/benchreport
bench:
	@mkdir -p bench
	$(GO) test -run '^$$' -bench '^BenchmarkServer$$' -benchmem -count $(BENCH_COUNT) . > bench/server.out
	$(GO) test -run '^$$' -bench '^BenchmarkStreamChunk$$' -benchmem -count $(BENCH_COUNT) . > bench/chunk.out
	$(GO) test -run '^$$' -bench '^BenchmarkTransport$$' -benchmem -count $(BENCH_COUNT) . > bench/transport.out
	$(GO) test -run '^$$' -bench '^BenchmarkTransportChunk$$' -benchmem -count $(BENCH_COUNT) . > bench/transport-chunk.out
	@status=0; \
	echo "== server: per request, vs otelhttp (target: llmslo <= 1.25x otelhttp, process CPU) =="; \
	$(BENCHREPORT) -key impl -base otelhttp -gate -gate-only llmslo -units cpu-sec/op -max-overhead 0.25 -max-cv 0.25 bench/server.out || status=1; \
	echo "== server: per streamed chunk, vs bare (target: 0 allocs/chunk) =="; \
	$(BENCHREPORT) -key impl -base bare -gate -gate-only llmslo -units allocs/op -max-overhead 0.0001 bench/chunk.out || status=1; \
	echo "== client: per call through openai-go, vs otelhttp (target: llmslo <= 1.25x otelhttp) =="; \
	$(BENCHREPORT) -key impl -base otelhttp -gate -gate-only llmslo -units sec/op -max-overhead 0.25 -max-cv 0.25 bench/transport.out || status=1; \
	echo "== client: per streamed chunk, vs bare (target: 0 allocs/chunk) =="; \
	$(BENCHREPORT) -key impl -base bare -gate -gate-only llmslo -units allocs/op -max-overhead 0.0001 bench/transport-chunk.out || status=1; \
	exit $$status

generate:
	BPF2GO_CC=$(CLANG) BPF2GO_CFLAGS="-O2 -g -Wall -Werror" $(GO) generate ./internal/bpf

check-generate: generate
	git diff --exit-code -- internal/bpf

cross:
	GOOS=darwin $(GO) build ./...
	GOOS=linux GOARCH=arm64 $(GO) build ./...

# release builds the shipped programs (cmd/slo-sidecar, examples/rag-service)
# for RELEASE_PLATFORMS into dist/: static binaries, a CycloneDX SBOM each,
# an OCI image layout per program (one image per platform, the index, the
# SBOMs attached) and SHA256SUMS — reproducibly, without a container engine
# (deploy/internal/cmd/release; docs/release.md). The version is VERSION;
# SOURCE_DATE_EPOCH and RELEASE_REVISION default to the last commit, and
# must be given outside a git checkout.
RELEASE_PLATFORMS ?= linux/amd64,linux/arm64
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
RELEASE_REVISION ?=
release:
	rm -rf dist
	$(GO) -C deploy run ./internal/cmd/release -root "$(CURDIR)" -out "$(CURDIR)/dist" \
		-platforms "$(RELEASE_PLATFORMS)" -epoch "$(SOURCE_DATE_EPOCH)" -revision "$(RELEASE_REVISION)"
