# syntax=docker/dockerfile:1
#
# crmsync image: a static binary on distroless (CA certificates and tzdata included,
# no shell), running as the unprivileged "nonroot" user (uid 65532).
#
#   docker build -t crmsync .
#   docker run --rm crmsync --help
#
# The default command is the long-running scheduler with /healthz and /metrics on
# :9108; override it for one pass: `docker run … crmsync run`.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so the dependency layer is cached across source edits.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# timetzdata embeds the zone database so CRON_TZ= works on any base image.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -tags timetzdata -ldflags="-s -w" -o /out/crmsync ./cmd/sync

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/crmsync /usr/local/bin/crmsync
COPY schedules.yaml /etc/crmsync/schedules.yaml
USER nonroot:nonroot
EXPOSE 9108
ENTRYPOINT ["/usr/local/bin/crmsync"]
CMD ["schedule", "--config", "/etc/crmsync/schedules.yaml", "--http", "0.0.0.0:9108"]
