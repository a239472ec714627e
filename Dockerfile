# syntax=docker/dockerfile:1
#
# The project's long-running programs as small, non-root images. One build
# stage compiles every main; each target image holds one program plus the
# health probe (deploy/healthcheck), since distroless has no shell or curl.
#
#   worker      ./worker               the Temporal worker (workflow + activities)
#   bridge      ./approver  (bridge)   the Ably -> Temporal approval bridge
#   authserver  ./authserver (serve)   approver login and Ably JWTs
#
# docker-compose.yml builds the targets; base images are pinned (tag, and a
# digest for the runtime base).
ARG GO_IMAGE=golang:1.26.8-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /out/ ./worker ./approver ./authserver ./deploy/healthcheck \
 && mkdir -p /out/data/posts

FROM ${RUNTIME_IMAGE} AS runtime
COPY --from=build /out/healthcheck /usr/local/bin/healthcheck
# Writable data directories for named volumes, owned by distroless nonroot.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532

FROM runtime AS worker
COPY --from=build /out/worker /usr/local/bin/worker
COPY config/policy.json /etc/hitl/policy.json
ENV HITL_POLICY_FILE=/etc/hitl/policy.json \
    BLOG_DIR=/data/posts \
    HITL_HEALTH_ADDR=127.0.0.1:8081
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/healthcheck", "http://127.0.0.1:8081/healthz"]
ENTRYPOINT ["/usr/local/bin/worker"]

FROM runtime AS bridge
COPY --from=build /out/approver /usr/local/bin/approver
ENV HITL_HEALTH_ADDR=127.0.0.1:8082
# Healthy while Temporal answers and the approvals channel is attached.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/healthcheck", "http://127.0.0.1:8082/healthz"]
ENTRYPOINT ["/usr/local/bin/approver", "bridge"]

FROM runtime AS authserver
COPY --from=build /out/authserver /usr/local/bin/authserver
COPY config/policy.json /etc/hitl/policy.json
# HITL_POLICY_FILE, not only serve's -policy: `docker compose run authserver
# useradd ...` replaces the command and must check roles against this file.
ENV AUTH_LISTEN=0.0.0.0:3001 \
    AUTH_USERS_FILE=/data/users.json \
    HITL_POLICY_FILE=/etc/hitl/policy.json \
    HITL_HEALTH_ADDR=127.0.0.1:8083
EXPOSE 3001
# The operations port: plain HTTP on loopback, also when AUTH_LISTEN serves TLS.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/healthcheck", "http://127.0.0.1:8083/healthz"]
ENTRYPOINT ["/usr/local/bin/authserver"]
CMD ["serve", "-policy", "/etc/hitl/policy.json"]
