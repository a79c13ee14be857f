# syntax=docker/dockerfile:1
# syncd: build a wheel-installed virtualenv in one stage, copy only it into a slim runtime stage.
# Runs as a non-root user, works with a read-only root filesystem (the only writable path is the
# data volume; mount a tmpfs on /tmp), stops cleanly on SIGTERM. See docs/deploy.md.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/syncd
# The dependencies alone first, from pyproject.toml: editing code reuses this layer from the cache.
COPY pyproject.toml ./
RUN /opt/syncd/bin/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && /opt/syncd/bin/pip install --no-cache-dir -r requirements.txt
# Then syncd itself, without touching the dependencies again.
COPY README.md ./
COPY syncd ./syncd
COPY connectors ./connectors
RUN /opt/syncd/bin/pip install --no-cache-dir --no-deps . \
    && find /opt/syncd -name '__pycache__' -prune -exec rm -rf {} +

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="syncd" \
      org.opencontainers.image.description="Owned KPIs with goals, paced and exposed to Prometheus" \
      org.opencontainers.image.licenses="Apache-2.0"
# No bytecode writes (the root filesystem may be read-only); logs straight to the collector.
ENV PATH=/opt/syncd/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SYNCD_CONFIG=/etc/syncd/syncd.yaml \
    SYNCD_LISTEN=0.0.0.0:9464 \
    SYNCD_DATABASE_URL=sqlite:////var/lib/syncd/syncd.db
RUN groupadd --system --gid 10001 syncd \
    && useradd --system --uid 10001 --gid syncd --no-create-home --home-dir /var/lib/syncd \
       --shell /usr/sbin/nologin syncd \
    && install -d -o syncd -g syncd -m 0750 /var/lib/syncd
COPY --from=build /opt/syncd /opt/syncd
# No configuration is baked in: mount yours at $SYNCD_CONFIG (compose: a bind mount, Kubernetes: a
# ConfigMap). `docker run IMAGE demo` runs the demo on its packaged configuration.
USER 10001:10001
WORKDIR /var/lib/syncd
VOLUME ["/var/lib/syncd"]
EXPOSE 9464
# python, not curl: the slim image has no curl, and one fewer package is one fewer CVE to track.
# The port is the one syncd listens on ($SYNCD_LISTEN), not a second copy of it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('SYNCD_LISTEN', '127.0.0.1:9464').rpartition(':')[2]; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]
# `syncd run` finishes its current work and exits on SIGTERM (docker stop, Kubernetes).
STOPSIGNAL SIGTERM
ENTRYPOINT ["syncd"]
CMD ["run"]
