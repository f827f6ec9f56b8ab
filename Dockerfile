# ogmux as a remote MCP service: streamable HTTP (stateless) on port 8765.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY ogmux ./ogmux
COPY server ./server
COPY tools ./tools
COPY router ./router
COPY evaluators ./evaluators
COPY examples ./examples
RUN pip install -e . && useradd --create-home --uid 10001 ogmux && chown -R ogmux /app
USER ogmux

EXPOSE 8765
# Binding 0.0.0.0 requires authentication: mount an ogmux.toml with [[tokens]] or [jwt] at /app/ogmux.toml,
# and list the public host names in [server].allowed_hosts.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import sys, urllib.request; urllib.request.urlopen('http://127.0.0.1:8765/healthz', timeout=4); sys.exit(0)"
CMD ["ogmux", "serve", "--http", "--host", "0.0.0.0", "--port", "8765"]
