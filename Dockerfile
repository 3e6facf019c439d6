# The local stack and demo in one container: Python 3.12 (project, Lambda), Python 3.11 (Glue
# 5.0's runtime), Python 3.13 (LocalStack, run on the host side of this container, so no Docker
# socket and no auth token), Java 17 (Spark), Node 20 (Serverless Framework). `docker compose up`
# runs `make demo` in it.
FROM python:3.11-slim-bookworm AS python311
FROM python:3.13-slim-bookworm AS python313
FROM node:20-bookworm-slim AS node20

FROM python:3.12-slim-bookworm

# Python 3.11 and 3.13 beside 3.12, from the official images built on the same Debian release.
COPY --from=python311 /usr/local/bin/python3.11 /usr/local/bin/python3.11
COPY --from=python311 /usr/local/lib/python3.11 /usr/local/lib/python3.11
COPY --from=python311 /usr/local/lib/libpython3.11.so.1.0 /usr/local/lib/libpython3.11.so.1.0
COPY --from=python311 /usr/local/include/python3.11 /usr/local/include/python3.11
COPY --from=python313 /usr/local/bin/python3.13 /usr/local/bin/python3.13
COPY --from=python313 /usr/local/lib/python3.13 /usr/local/lib/python3.13
COPY --from=python313 /usr/local/lib/libpython3.13.so.1.0 /usr/local/lib/libpython3.13.so.1.0
COPY --from=python313 /usr/local/include/python3.13 /usr/local/include/python3.13
# Node 20 and npm.
COPY --from=node20 /usr/local/bin/node /usr/local/bin/node
COPY --from=node20 /usr/local/lib/node_modules /usr/local/lib/node_modules

# Debian's package versions move with security updates; the release (bookworm) is the pin.
# hadolint ignore=DL3008
RUN ldconfig \
    && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless make procps git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . .
RUN make setup

# LocalStack listens on all interfaces inside the container so the host can reach it.
ENV MHEALTH_LOCAL_BIND=0.0.0.0
EXPOSE 4566
CMD ["make", "demo"]
