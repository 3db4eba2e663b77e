# Keycard container images (multi-stage).
#
#   runtime      the service (default target): the binary, the four shared libraries it links
#                and nothing else; non-root, no shell, works with a read-only root filesystem
#   mock-idp     keycard-mock-idp, the stand-in of the identity providers, on the same base (for
#                the test stack and the demo)
#   test-runner  the black-box HTTP suite (crates/keycard-testkit/tests/api) as one executable on
#                distroless, for the `tests` service of compose.yaml (profile `test`)
#   mail-catcher MailDev (scripts/maildev, pinned by its lockfile) on Debian's Node.js: the SMTP
#                server with a web inbox that `make up`, the demo and the test stack deliver to
#
# Build with BuildKit (`docker compose build`, or `docker build` with BuildKit enabled):
#   docker compose build                         # both images, as compose.yaml names them
#   docker build -t keycard .                    # the runtime image alone
#   docker build --target test-runner -t keycard-tests .
#
# Dependencies are compiled into BuildKit cache mounts (the cargo registry and the target
# directory), so after a code change only Keycard's own crates are recompiled. Binaries are copied
# out of the cache mount in the same RUN: the images never depend on what the cache holds.
# Cargo decides what to rebuild by modification times, and COPY keeps the build context's: a
# source older than the cached artifacts but different from what they were built from (another
# checkout, an unpacked tarball) would be taken as unchanged. So each cargo run first touches the
# files whose content differs from the last build's (target/sources.sha256).
# Only base images available without a registry are used (see ../shared/containers/README.md).

ARG RUST_IMAGE=rust:1.95-slim-trixie
ARG TEST_RUNNER_IMAGE=gcr.io/distroless/cc-debian13:nonroot
ARG DEBIAN_IMAGE=debian:trixie-slim

# ---------------------------------------------------------------------------------------------
# Sources: only what cargo needs, so README or CI edits do not invalidate the build.
FROM ${RUST_IMAGE} AS source
WORKDIR /app
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0 \
    CARGO_NET_RETRY=10
COPY Cargo.toml Cargo.lock rust-toolchain.toml ./
COPY crates ./crates

# ---------------------------------------------------------------------------------------------
# The release binary, stripped of its symbol table (-3 MB; panics still log message and location).
FROM source AS build
RUN --mount=type=cache,id=keycard-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=keycard-target,target=/app/target \
    find crates Cargo.toml Cargo.lock -type f -print0 | sort -z | xargs -0 sha256sum > /tmp/sources.sha256 \
    && touch target/sources.sha256 \
    && { diff target/sources.sha256 /tmp/sources.sha256 | sed -n 's/^> [0-9a-f]*  //p' | xargs -r touch; } \
    && cargo build --release --locked -p keycard --bin keycard -p keycard-mock-idp --bin keycard-mock-idp \
    && cp /tmp/sources.sha256 target/sources.sha256 \
    && install -D -s -m 0755 target/release/keycard /out/keycard \
    && install -D -s -m 0755 target/release/keycard-mock-idp /out/keycard-mock-idp

# ---------------------------------------------------------------------------------------------
# The black-box suite as a test executable, in the release profile so it reuses the dependencies
# the service build compiled; built after (FROM) `build` so the two cargo runs take turns on the
# shared target directory. The test kit itself is compiled unoptimized (an HTTP client does not
# need it, and it makes a rebuild after a test change ~20 s instead of ~2 min). The executable's
# path (target/release/deps/api-<hash>) is read from cargo's JSON messages.
FROM build AS build-tests
RUN --mount=type=cache,id=keycard-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=keycard-target,target=/app/target \
    find crates Cargo.toml Cargo.lock -type f -print0 | sort -z | xargs -0 sha256sum > /tmp/sources.sha256 \
    && touch target/sources.sha256 \
    && { diff target/sources.sha256 /tmp/sources.sha256 | sed -n 's/^> [0-9a-f]*  //p' | xargs -r touch; } \
    && cargo test --release --locked --no-run -p keycard-testkit --test api \
        --config 'profile.release.package.keycard-testkit.opt-level=0' \
        --message-format=json-render-diagnostics > /tmp/cargo-messages.json \
    && exe=$(grep '"name":"api"' /tmp/cargo-messages.json \
             | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1) \
    && test -n "$exe" && test -x "$exe" \
    && cp /tmp/sources.sha256 target/sources.sha256 \
    && install -D -m 0755 "$exe" /out/keycard-api-tests \
    && rm /tmp/cargo-messages.json

# ---------------------------------------------------------------------------------------------
# The test runner: the suite executable and nothing else. It targets KEYCARD_URL (see
# compose.yaml). `outage::` is skipped here: that test starts a PostgreSQL cluster of its own
# (scripts/pg-throwaway, PostgreSQL server binaries) and an in-process Keycard, which this image
# deliberately does not carry; it runs in `make test-local` on the host.
FROM ${TEST_RUNNER_IMAGE} AS test-runner
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="keycard-tests" \
      org.opencontainers.image.description="Keycard's black-box HTTP test suite, run against KEYCARD_URL" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Keycard"
COPY --from=build-tests /out/keycard-api-tests /usr/local/bin/keycard-api-tests
USER 65532:65532
ENV KEYCARD_URL=http://keycard:8080 \
    RUST_BACKTRACE=1
ENTRYPOINT ["/usr/local/bin/keycard-api-tests"]
CMD ["--skip", "outage::", "--test-threads=4"]

# ---------------------------------------------------------------------------------------------
# The runtime root filesystem: distroless taken one step further. gcr.io/distroless/cc-debian13
# is 25.7 MB, of which Keycard uses glibc and libgcc_s only (it links no OpenSSL, no libstdc++
# and needs no tzdata); with it the image would be 45.7 MB instead of 23.6 MB. So: exactly the
# libraries `ldd` lists, from the Debian trixie the binary was linked against, with their dpkg
# records in distroless's layout (var/lib/dpkg/status.d: image scanners see libc6 and
# libgcc-s1 and their versions), the CA bundle (outbound TLS), /etc/os-release, and the
# distroless users: root and nonroot (65532). No shell, no package manager, no compiler.
FROM build AS rootfs
RUN set -eu; \
    r=/rootfs; \
    mkdir -p $r/usr/local/bin $r/etc/ssl/certs $r/var/lib/dpkg/status.d $r/tmp $r/home/nonroot $r/data; \
    cp /out/keycard $r/usr/local/bin/keycard; \
    for lib in $(for bin in /out/keycard /out/keycard-mock-idp; do ldd "$bin"; done | grep -o '/[^ ]*' | sort -u); do \
        cp -L --parents "$lib" $r/; \
        pkg=$(dpkg-query -S "$(readlink -f "$lib")" | head -n 1 | cut -d: -f1); \
        dpkg-query -s "$pkg" > "$r/var/lib/dpkg/status.d/$pkg"; \
    done; \
    dpkg-query -s ca-certificates > $r/var/lib/dpkg/status.d/ca-certificates; \
    cp /etc/ssl/certs/ca-certificates.crt $r/etc/ssl/certs/; \
    cp -L /etc/os-release /etc/nsswitch.conf $r/etc/; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > $r/etc/passwd; \
    printf 'root:x:0:\nnonroot:x:65532:\n' > $r/etc/group; \
    chmod 1777 $r/tmp; \
    chown 65532:65532 $r/home/nonroot $r/data; \
    chmod 0700 $r/data

# ---------------------------------------------------------------------------------------------
# The provider double, on the same root filesystem as the service (it links the same libraries).
FROM scratch AS mock-idp
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="keycard-mock-idp" \
      org.opencontainers.image.description="A strict stand-in of the identity providers Keycard signs in with, for tests and demos" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Keycard"
COPY --from=rootfs /rootfs/ /
COPY --from=build /out/keycard-mock-idp /usr/local/bin/keycard-mock-idp
USER 65532:65532
ENV PATH=/usr/local/bin \
    MOCK_IDP_LISTEN=0.0.0.0:9090
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/keycard-mock-idp"]

# ---------------------------------------------------------------------------------------------
# The mail catcher: a real SMTP server (port 1025) with a web inbox and REST API (port 1080) that
# keeps what it receives in memory and a temporary directory. For development, tests and the
# demo only: it delivers nothing onwards.
FROM ${DEBIAN_IMAGE} AS mail-catcher
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="keycard-mail-catcher" \
      org.opencontainers.image.description="MailDev: catches Keycard's mail in development, tests and demos" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.vendor="Keycard"
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/maildev
COPY scripts/maildev/package.json scripts/maildev/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error \
    && npm cache clean --force \
    && apt-get purge -y npm && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/* /root/.npm
USER nobody
EXPOSE 1025 1080
ENTRYPOINT ["/opt/maildev/node_modules/.bin/maildev", "--ip", "0.0.0.0", "--smtp", "1025", "--web", "1080", "--mail-directory", "/tmp/maildev"]

# ---------------------------------------------------------------------------------------------
# The service (last stage: the default target of a plain `docker build`).
FROM scratch AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="keycard" \
      org.opencontainers.image.description="Keycard: sign-up, login, sessions and tokens for the platform" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Keycard"
COPY --from=rootfs /rootfs/ /
USER 65532:65532
WORKDIR /home/nonroot
# /data is only for SQLite (e.g. `docker run -v keycard-data:/data keycard`): with PostgreSQL
# Keycard writes no file, and the root filesystem can be read-only.
ENV PATH=/usr/local/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    KEYCARD_LISTEN_ADDR=0.0.0.0:8080 \
    KEYCARD_DATA_DIR=/data
EXPOSE 8080
# `keycard healthcheck` probes /readyz on the listen address (exit 0 when the database answers).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/keycard", "healthcheck"]
# Keycard handles SIGTERM itself (graceful shutdown), also as PID 1.
ENTRYPOINT ["/usr/local/bin/keycard"]
CMD ["serve"]
