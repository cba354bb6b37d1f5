# wagate's container image. Two stages on one Debian base: the first builds the locked
# environment (uv.lock, with the `media` extra's ffmpeg for voice notes and stickers) with uv,
# the second copies it into a slim runtime with Debian's python3, libmagic (neonize) and tini
# (signals, child reaping). Nothing comes from a registry but the base image, Debian's
# packages and PyPI.
#
#   docker build -t wagate .
#   docker run -p 8080:8080 -v wagate-data:/data wagate
#
# BASE_IMAGE may name any Debian bookworm image (a mirror, or one made with debootstrap):
# both stages must run the same python3, which the environment's interpreter links to.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
ARG UV_VERSION=0.13.10
ARG DEBIAN_FRONTEND=noninteractive
# Debian's packages unpinned (DL3008): bookworm's security updates replace the versions.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
# The system's trust store (with any CA the base image adds) for pip and uv.
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON=/usr/bin/python3 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
# The dependencies first (their layer is kept while only the source changes), then wagate
# itself, installed as a package rather than linked to /src.
COPY pyproject.toml uv.lock ./
RUN /opt/uv/bin/uv sync --frozen --no-dev --extra media --no-install-project
COPY README.md ./
COPY src ./src
RUN /opt/uv/bin/uv sync --frozen --no-dev --extra media --no-editable

FROM ${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libmagic1 python3 tini \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 wagate \
 && useradd --uid 10001 --gid wagate --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin wagate \
 && mkdir /data \
 && chown wagate:wagate /data
COPY --from=build /app/.venv /app/.venv
# neonize's Go library (in its wheel) loads with this image's libraries, and ffmpeg runs.
RUN /app/.venv/bin/python -B -c "import neonize" \
 && /app/.venv/bin/python -B -c "import subprocess; from wagate.messaging.convert import find_ffmpeg; subprocess.run([str(find_ffmpeg(None)), '-version'], check=True, capture_output=True)"
# SERVER_HOST=0.0.0.0 only here: outside a container wagate listens on loopback by default.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SERVER_HOST=0.0.0.0 \
    SERVER_PORT=8080 \
    WAGATE_DATA_DIR=/data
WORKDIR /data
# By number, so that a runtime can tell it is not root (Kubernetes' runAsNonRoot).
USER 10001:10001
# SQLite database, generated API key, neonize sessions.
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-I", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('SERVER_PORT', '8080'), timeout=4)"]
# tini is PID 1: it hands `docker stop`'s SIGTERM to wagate, which stops its instances and
# host processes before it exits, and reaps any process left without a parent. wagate ends a
# graceful shutdown by dying of the SIGTERM it handled (status 143): -e 143 makes that 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["tini", "-e", "143", "--", "wagate"]
CMD ["serve"]
