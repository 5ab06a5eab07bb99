# shoplab: the two commands are `go run . demo` and `make test`.
GO ?= go

.PHONY: test test-short vet fmt-check generate check-generate demo ci-baseline build bench bench-go

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

## ci-baseline: record the demo baseline .ci/run diffs against (only its journal.json is kept)
ci-baseline:
	@d=$$(mktemp -d) && $(GO) run . demo --out $$d/demo && mkdir -p ci/baselines/demo && \
	  cp $$d/demo/journal.json ci/baselines/demo/journal.json && rm -rf $$d && \
	  echo "ci/baselines/demo/journal.json recorded: commit it"

## bench: the performance table against same-run baselines (docs/performance.md)
bench:
	$(GO) run . bench

## bench-go: the Go micro-benchmarks, for benchstat
bench-go:
	$(GO) test -run '^$$' -bench . -count 6 ./...

## image: the one container image, every unit is `shoplab serve <unit>` in it
## (needs a Docker engine). Name and tag scheme are argocd/'s: <semver> for
## prod, <semver>-dev for the dev overlay (a test checks they agree).
IMAGE ?= ghcr.io/shoplab/shoplab
TAG ?= 0.1.0-dev
.PHONY: image lambda-zip
image:
	docker build -t $(IMAGE):$(TAG) .

## lambda-zip: the notification Lambda for the provided.al2023 runtime: this
## same static binary, named bootstrap, zipped (docs/development.md).
## amd64: terraform/aws/modules/lambda deploys it on x86_64 (a test checks).
LAMBDA_ARCH ?= amd64
lambda-zip:
	mkdir -p dist/lambda
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_ARCH) $(GO) build -trimpath -ldflags "-s -w" -tags lambda.norpc -o dist/lambda/bootstrap .
	$(GO) run ./internal/cmd/lambdazip -o dist/lambda/notification.zip dist/lambda/bootstrap
	@echo "dist/lambda/notification.zip: runtime provided.al2023, architecture $(LAMBDA_ARCH), handler bootstrap"

## fuzz: every gateway fuzz target for FUZZ_EXECS executions each (not part
## of `make test`; a crasher lands in services/gateway/testdata/fuzz/ and
## `make test` replays it from then on)
FUZZ_EXECS ?= 1000000
FUZZ_PKG := ./services/gateway
.PHONY: fuzz
fuzz:
	@for t in $$($(GO) test -list '^Fuzz' $(FUZZ_PKG) | grep '^Fuzz'); do \
	  echo "== $$t ($(FUZZ_EXECS) executions)"; \
	  start=$$(date +%s); \
	  $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZ_EXECS)x $(FUZZ_PKG) || exit 1; \
	  echo "== $$t: $$(( $$(date +%s) - start )) s"; \
	done
