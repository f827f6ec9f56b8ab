# ogmux as a remote MCP service: streamable HTTP (stateless) on port 8765.
# BASE: any image with python3 (>= 3.11) and its venv module. `make image-test` builds on a Debian
# bookworm base made locally when the default cannot be pulled.
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/ogmux PATH=/opt/ogmux/bin:$PATH

# A plain (non-editable) install: the demo corpus and the safety example ship inside the package.
# Behind a TLS-intercepting proxy, pass its CA bundle as a build secret: --secret id=pip_cert,src=FILE.
COPY . /src
RUN --mount=type=secret,id=pip_cert,required=false \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
    && python3 -m venv /opt/ogmux && pip install -q /src && rm -rf /src \
    && useradd --create-home --uid 10001 ogmux && mkdir /app && chown ogmux /app
WORKDIR /app
USER ogmux

EXPOSE 8765
# Binding 0.0.0.0 requires authentication: mount an ogmux.toml with [[tokens]] or [jwt] at /app/ogmux.toml,
# and list the public host names in [server].allowed_hosts.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import sys, urllib.request; urllib.request.urlopen('http://127.0.0.1:8765/healthz', timeout=4); sys.exit(0)"
CMD ["ogmux", "serve", "--http", "--host", "0.0.0.0", "--port", "8765"]
