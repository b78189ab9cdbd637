# appconfig-agent container image: a release build on the official Swift image, then only the
# binary and the shared libraries it links on debian:bookworm-slim.
#
#   docker build -t appconfig-agent .
#   docker run -p 2772:2772 -e SERVICE_REGION=us-east-1 -e PREFETCH_LIST=App:Env:Profile appconfig-agent
#
# Settings are environment variables (README.md). Backups: set BACKUP_DIRECTORY=/var/lib/appconfig-agent
# and mount a volume there (the directory exists, owned by the agent's user, mode 0700).

FROM swift:6.3-bookworm AS build

# The C libraries the agent builds against; the Swift toolchain is in the image already.
# Versions are not pinned (DL3008): Debian drops superseded versions from its mirrors with every
# security update, so a pin breaks the build within weeks; the suite's name pins the ABI.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libcurl4-openssl-dev \
        libevent-dev \
        libssl-dev \
        pkg-config \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Package.swift names the test targets, so their folders come along; .dockerignore keeps the rest out.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product appconfig-agent --static-swift-stdlib \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/appconfig-agent" /out/appconfig-agent


FROM debian:bookworm-slim

# Exactly the shared libraries `ldd appconfig-agent` needs beyond the base image (libc6 and
# libgcc-s1 are in every Debian image; libstdc++6 is too, but it is named so that a slimmer base
# cannot drop it silently), and libcurl4, which the agent loads with dlopen when it calls AWS.
# Their own dependencies (libevent-core, nghttp2, krb5, …) come with them.
# Tests/Packaging checks this list against the binary and the shim. ca-certificates: TLS to AWS.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates \
        libcurl4 \
        libevent-2.1-7 \
        libevent-pthreads-2.1-7 \
        libssl3 \
        libstdc++6 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 appconfig-agent \
    && useradd --system --no-log-init --uid 10001 --gid 10001 \
        --home-dir /var/lib/appconfig-agent --no-create-home --shell /usr/sbin/nologin appconfig-agent \
    && install -d -m 0700 -o 10001 -g 10001 /var/lib/appconfig-agent

COPY --from=build /out/appconfig-agent /usr/local/bin/appconfig-agent

# Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001

# Inside a container, `localhost` is the container's own loopback. Sidecars that share the network
# namespace (an ECS task in awsvpc mode, a Kubernetes pod) reach it on localhost either way, but a
# published port (`docker run -p`) or another container on a bridge network only reaches the
# container's own interface: so the image listens on every interface. Set HTTP_HOST=localhost to
# keep it to the shared namespace, and ACCESS_TOKEN when the port is reachable from elsewhere.
ENV HTTP_HOST=all \
    HTTP_PORT=2772
EXPOSE 2772

# GET /ping on HTTP_PORT through the agent binary itself: the image has no curl or shell to call.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/appconfig-agent", "healthcheck"]

# SIGTERM stops accepting, finishes in-flight requests and exits 0 within 2 s; the agent handles
# signals itself, so it runs as PID 1 without an init.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/appconfig-agent"]
