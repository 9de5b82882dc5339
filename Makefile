# llmslo — make targets. `make test` is the README's test command and what .ci/run calls.
GO ?= go
CLANG ?= clang-19

.PHONY: all test test-privileged vet fmt-check bench-smoke bench generate check-generate cross

all: vet fmt-check test

test: vet fmt-check
	$(GO) test -race -count=1 ./...
	$(GO) test -run '^$$' -bench . -benchtime=1x ./... > /dev/null

test-privileged:
	SLO_REQUIRE_BPF=1 $(GO) test -exec 'sudo -E' -race -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 10 ./... | tee bench.out

generate:
	BPF2GO_CC=$(CLANG) BPF2GO_CFLAGS="-O2 -g -Wall -Werror" $(GO) generate ./internal/bpf

check-generate: generate
	git diff --exit-code -- internal/bpf

cross:
	GOOS=darwin $(GO) build ./...
	GOOS=linux GOARCH=arm64 $(GO) build ./...
