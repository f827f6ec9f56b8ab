"""`ogmux serve --corpus DIR` serves the documents of DIR: a real stdio server process and the SDK client.

The settings come from a temporary --config file whose own corpus is a decoy directory, so the
bundled demo corpus, a ./ogmux.toml and the configured corpus all lose to --corpus. The SDK
starts the server with a minimal environment, so no OGMUX_* variable of the caller leaks in.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mcp
from mcp import StdioServerParameters

from tests.integration.procs import REPO

GLACIER = """# Glacier calving

Icebergs break off the terminus when meltwater widens crevasses.

# Moraine survey

Walk the lateral moraine and log boulder sizes every fifty metres.
"""

KILN = """# Kiln firing schedule

Raise the kiln to cone six over nine hours, then hold for twenty minutes.
"""

DECOY = """# Glacier calving decoy

Icebergs, crevasses and kilns from the configured corpus that --corpus replaces.
"""


def _write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


async def test_serve_corpus_serves_that_directory(tmp_path: Path) -> None:
    corpus = _write(tmp_path / "corpus", {"glacier-notes.md": GLACIER, "kiln-log.md": KILN})
    decoy = _write(tmp_path / "decoy", {"decoy.md": DECOY})
    config = tmp_path / "ogmux.toml"
    config.write_text(f"[objectgraph]\ncorpus = {str(decoy)!r}\nreload = false\n", encoding="utf-8")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "ogmux", "serve", "--config", str(config), "--corpus", str(corpus)],
        cwd=str(REPO),
    )
    async with mcp.Client(params) as client:
        found = await client.call_tool("search_index", {"query": "icebergs crevasses", "k": 20})
        assert not found.is_error, found.content
        entries = found.structured_content["entries"]
        assert entries[0]["id"] == "glacier-notes#glacier-calving"
        ids = {e["id"] for e in entries}
        assert ids <= {
            "glacier-notes#glacier-calving",
            "glacier-notes#moraine-survey",
            "kiln-log#kiln-firing-schedule",
        }

        kiln = await client.call_tool("search_index", {"query": "kiln cone firing", "k": 20})
        assert not kiln.is_error, kiln.content
        assert kiln.structured_content["entries"][0]["id"] == "kiln-log#kiln-firing-schedule"
        assert {e["id"].split("#")[0] for e in kiln.structured_content["entries"]} <= {
            "glacier-notes",
            "kiln-log",
        }

        ids = ["glacier-notes#moraine-survey", "kiln-log#kiln-firing-schedule", "decoy#glacier-calving-decoy"]
        resolved = await client.call_tool("resolve_context", {"ids": ids, "level": "full", "follow": []})
        assert not resolved.is_error, resolved.content
        result = resolved.structured_content
        nodes = {n["id"]: n for n in result["nodes"]}
        assert set(nodes) == set(ids[:2])
        assert result["not_found"] == ["decoy#glacier-calving-decoy"]
        assert nodes["kiln-log#kiln-firing-schedule"]["doc"] == "kiln-log"
        assert nodes["kiln-log#kiln-firing-schedule"]["text"] in KILN
        assert "Raise the kiln to cone six" in nodes["kiln-log#kiln-firing-schedule"]["text"]
        moraine = nodes["glacier-notes#moraine-survey"]
        assert moraine["doc"] == "glacier-notes" and moraine["title"] == "Moraine survey"
        assert moraine["text"].startswith("# Moraine survey\n") and moraine["text"] in GLACIER
