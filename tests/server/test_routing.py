"""The server's router: API keys come from the environment variables the backends name."""

from __future__ import annotations

from ogmux.router.types import ChatRequest
from ogmux.server.routing import build_router
from ogmux.server.settings import load_settings
from tests.router.wire_server import AUTH, wire_server


async def test_api_key_env_is_resolved_into_the_upstream_credential(monkeypatch) -> None:
    monkeypatch.setenv("UPSTREAM_TEST_KEY", "sk-from-env")
    with wire_server() as url:
        backend = {"name": "hosted", "kind": "openai", "model": "ok", "replicas": [f"{url}/v1"], "api_key_env": "UPSTREAM_TEST_KEY"}
        router = build_router(load_settings(None, **{"router.backends": [backend], "audit.sink": "off"}))
        await router.start()
        try:
            await router.chat(ChatRequest(messages=[{"role": "user", "content": "hi"}]))
        finally:
            await router.aclose()
    assert AUTH[-1] == "Bearer sk-from-env"
