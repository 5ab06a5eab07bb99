# shoplab: the two commands are `go run . demo` and `make test`.
GO ?= go

.PHONY: test test-short vet fmt-check generate check-generate demo build bench

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

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...
