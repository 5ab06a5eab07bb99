# syntax=docker/dockerfile:1
# The one shoplab image: every unit is `shoplab serve <unit>` from it (see
# docker-compose.yml and argocd/). Name and tag scheme are argocd/'s:
# ghcr.io/shoplab/shoplab:<semver>, <semver>-dev for the dev overlay
# (`make image`); image_test.go checks compose, argocd/ and the Makefile agree.
#
# No HEALTHCHECK on purpose: the probes belong to the orchestrator (compose
# healthchecks run `shoplab probe`, Kubernetes its readiness/liveness probes
# on the ops port), and a distroless image has no shell or curl anyway.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Dependencies first, so a code change does not re-download modules.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO off: the SQLite driver is modernc's pure-Go one, so the binary is
# static and runs on distroless/static (no libc).
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w" -o /out/shoplab .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/shoplab /usr/local/bin/shoplab
# distroless's nonroot user (65532); /tmp is writable for --data-dir.
USER nonroot:nonroot
ENTRYPOINT ["shoplab"]
CMD ["--help"]
