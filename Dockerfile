# One builder, two images:
#   docker build --target manager -t queueworker-operator:dev .   (the operator and the task dashboard; also the default)
#   docker build --target worker  -t queueworker-worker:dev .     (the reference worker)
# Override BASE_IMAGE to build from another registry, e.g. docker.io/library/golang:1.26.
ARG BASE_IMAGE=golang:1.26
FROM ${BASE_IMAGE} AS builder
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
# Download the modules in their own layer, so that a source change does not
# download them again.
COPY go.mod go.sum ./
RUN go mod download

# Copy the Go source (.dockerignore keeps out tests, tools and build output).
COPY . .

# The binaries are built in one layer, so building the second image reuses it.
# GOARCH is left empty unless the builder sets TARGETARCH, so the binary matches
# the platform of the host that builds it.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w" -o /out/ ./cmd/manager ./cmd/worker ./cmd/dashboard

# The reference worker, built on the pkg/worker SDK.
# distroless/static: no shell, no package manager; see
# https://github.com/GoogleContainerTools/distroless
FROM gcr.io/distroless/static:nonroot AS worker
WORKDIR /
COPY --from=builder /out/worker /worker
USER 65532:65532
ENTRYPOINT ["/worker"]

# The operator. It is the last stage, so a plain `docker build .` yields it.
# It also holds the task dashboard (/dashboard), which the chart runs from
# the same image with its own command when dashboard.enabled is set.
FROM gcr.io/distroless/static:nonroot AS manager
WORKDIR /
COPY --from=builder /out/manager /manager
COPY --from=builder /out/dashboard /dashboard
USER 65532:65532
ENTRYPOINT ["/manager"]
