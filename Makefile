# shoplab: the two commands are `go run . demo` and `make test`.
GO ?= go

.PHONY: test test-short vet fmt-check generate check-generate demo build bench bench-go

## test: vet, then every test with the race detector (heavy suites included)
test: vet
	$(GO) test -race -count=1 -timeout 30m ./...

## test-short: the quick suites only
test-short: vet
	$(GO) test -race -short ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

generate:
	$(GO) generate ./services/api/...

build:
	$(GO) build -o shoplab .

demo:
	$(GO) run . demo

## bench: the performance table against same-run baselines (docs/performance.md)
bench:
	$(GO) run . bench

## bench-go: the Go micro-benchmarks, for benchstat
bench-go:
	$(GO) test -run '^$$' -bench . -count 6 ./...
