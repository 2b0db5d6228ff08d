# syntax=docker/dockerfile:1
#
# ShopDB container image: the single `shopdb` binary on a slim Debian base.
#
#   docker build -t shopdb .
#   docker run -d -p 5001:5001 -v shopdb-data:/app/data \
#       -e SHOPDB_ENV=production -e SECRET_KEY=... shopdb
#
# Without DATABASE_URL the server keeps a SQLite file in the /app/data volume.
# See docs/DEPLOY.md for the whole runbook and docker-compose.yml for MySQL.

# ---- build ------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src
# Pinned so a target-dir set in a cargo config cannot move the output.
ENV CARGO_TARGET_DIR=/src/target
COPY . .
# The cache mounts keep downloaded crates and compiled dependencies between builds;
# the binary is copied out because the target/ cache is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p shopdb \
    && install -m 0755 target/release/shopdb /usr/local/bin/shopdb

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --user-group --uid 10001 --home-dir /app --shell /usr/sbin/nologin shopdb \
    && mkdir -p /app/data /app/plugins.d \
    && chown -R shopdb:shopdb /app
COPY --from=build /usr/local/bin/shopdb /usr/local/bin/shopdb

WORKDIR /app
# SQLite database (the default DATABASE_URL sqlite://data/shopdb.sqlite lands here).
VOLUME ["/app/data"]
# Folder plugins (docs/PLUGIN-FOLDER.md): mount a volume or a host folder here.
ENV SHOPDB_PLUGIN_DIR=/app/plugins.d
USER shopdb

# `shopdb serve` takes its --bind from SHOPDB_BIND; inside a container it must
# listen on every interface so the published port reaches it.
ENV SHOPDB_BIND=0.0.0.0:5001
EXPOSE 5001

# The health check talks to the port above; change both together.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["shopdb", "healthcheck", "--url", "http://127.0.0.1:5001"]

# serve applies pending migrations before it starts listening.
CMD ["shopdb", "serve"]
