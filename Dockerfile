# syntax=docker/dockerfile:1
# Cordon's image: the tarball `npm pack` makes, installed with its production dependencies only, run as
# the user `cordon` with its data in a volume. No Docker engine runs where Cordon is developed, so this
# file is not built there: it follows deploy/cordon.service (checked by systemd-analyze verify in CI) and
# test/pack.test.ts (which packs, installs and serves). docs/ops.md#docker says how to run it.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# The dev dependencies build it; none of their install scripts is needed for that.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json README.md ./
COPY bin bin
COPY scripts scripts
COPY src src
COPY deploy deploy
COPY docs/ops.md docs/ops.md
# `prepack` builds dist/ (tsc, then the migrated database template) from an empty one.
RUN npm pack --pack-destination /tmp && mv /tmp/cordon-*.tgz /tmp/cordon.tgz

FROM ${NODE_IMAGE}
RUN groupadd --system cordon \
  && useradd --system --gid cordon --home-dir /var/lib/cordon --shell /usr/sbin/nologin cordon \
  && install -d -o cordon -g cordon -m 0700 /var/lib/cordon
COPY --from=build /tmp/cordon.tgz /tmp/cordon.tgz
RUN npm install --prefix /opt/cordon --omit=dev --no-audit --no-fund /tmp/cordon.tgz \
  && rm /tmp/cordon.tgz \
  && npm cache clean --force
# As the systemd unit: the data in /var/lib/cordon, no demo account (its generated password would go to
# the log). Off loopback Cordon needs TLS (CORDON_TLS_CERT_FILE, CORDON_TLS_KEY_FILE) or, behind a
# TLS-terminating proxy, CORDON_ALLOW_INSECURE_LISTEN=true: it exits 78 until given one of them.
ENV PATH=/opt/cordon/node_modules/.bin:$PATH \
    CORDON_DATA_DIR=/var/lib/cordon \
    CORDON_LISTEN=0.0.0.0:8080 \
    CORDON_DEMO=false
USER cordon
WORKDIR /var/lib/cordon
VOLUME /var/lib/cordon
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "/opt/cordon/node_modules/cordon/deploy/healthcheck.js"]
# Node as PID 1: `cordon serve` handles SIGTERM (docker stop) and SIGINT itself, and starts no children.
ENTRYPOINT ["node", "/opt/cordon/node_modules/cordon/bin/cordon.js"]
CMD ["serve"]
