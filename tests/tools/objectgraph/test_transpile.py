"""Markdown → .og transpilation: content kept byte-for-byte, fidelity 1.000, re-parsable output, CLI."""

import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ogmux.server.cli import main
from ogmux.tools.objectgraph.parser import load_path, parse_document
from ogmux.tools.objectgraph.transpile import (
    content_tokens,
    fidelity,
    transpile_text,
    transpile_tree,
)

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_DOCS = sorted(p for p in FIXTURES.glob("*.md") if p.name != "SOURCES.md")
OG_DEV = Path(__file__).parents[2] / "data" / "og-dev" / "docs"  # 40 real documents; see its SOURCES.md


def _read(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as fh:
        return fh.read()


@pytest.mark.parametrize("path", FIXTURE_DOCS, ids=lambda p: p.name)
def test_fixture_transpiles_losslessly(path):
    src = _read(path)
    og_text, doc = transpile_text(src, path=str(path))
    assert fidelity(src, og_text) == 1.0
    again = parse_document(og_text)
    assert again.body() == parse_document(src).body() == src.lstrip("\r\n")
    assert [n.id for n in again.nodes] == [n.id for n in doc.nodes]
    assert all(n.declared and not n.derived_metadata and n.dense and n.keywords for n in again.nodes)
    assert og_text.startswith(f"<!-- og:meta id={doc.id} ")


def test_fidelity_counts_missing_and_reordered_content():
    src = "# A\n\none two three four\n\n# B\n\nfive six seven eight\n"
    og_text, _ = transpile_text(src)
    assert fidelity(src, og_text) == 1.0
    assert fidelity(src, og_text.replace("six seven", "")) == pytest.approx(10 / 12)
    assert fidelity(src, "# B\n\nfive six seven eight\n\n# A\n\none two three four\n") < 0.7
    assert fidelity("", "anything") == 1.0
    assert content_tokens("a-b, c") == ["a", "-", "b", ",", "c"]


def test_og_comment_blocks_are_not_counted_as_content():
    src = "# A\n\ntext\n"
    assert fidelity(src, '<!-- og:meta id=x title="# A text" -->\n# Z\n') < 1.0


def test_directory_mode_keeps_tree_and_unique_ids(tmp_path):
    src = tmp_path / "src"
    (src / "ops").mkdir(parents=True)
    (src / "dev").mkdir()
    (src / "ops" / "readme.md").write_text("# Ops\n\nRestart it.\n")
    (src / "dev" / "readme.md").write_text("# Dev\n\nBuild it.\n")
    (src / ".hidden.md").write_text("# Hidden\n")
    results = transpile_tree(src, tmp_path / "out")
    assert sorted(Path(r.output).relative_to(tmp_path / "out").as_posix() for r in results) == [
        "dev/readme.og",
        "ops/readme.og",
    ]
    assert sorted(r.doc_id for r in results) == ["ops-readme", "readme"]
    assert all(r.fidelity == 1.0 for r in results)
    assert load_path(tmp_path / "out" / "ops" / "readme.og").id == "ops-readme"


def test_cli_file_and_directory(tmp_path, capsys):
    out = tmp_path / "one.og"
    assert main(["transpile", str(FIXTURE_DOCS[0]), "-o", str(out)]) == 0
    assert "fidelity=1.000" in capsys.readouterr().out
    assert load_path(out).body() == _read(FIXTURE_DOCS[0]).lstrip("\r\n")
    assert main(["transpile", str(FIXTURES), "-o", str(tmp_path / "tree")]) == 0
    printed = capsys.readouterr().out
    assert "mean fidelity 1.000" in printed and len(list((tmp_path / "tree").glob("*.og"))) == 4
    assert main(["transpile", str(tmp_path / "missing.md"), "-o", str(out)]) == 2


def test_cli_reports_syntax_errors_with_location(tmp_path, capsys):
    bad = tmp_path / "bad.og"
    bad.write_text("# A\n<!-- og:node type=steps -->\n## B\n")
    assert main(["transpile", str(bad), "-o", str(tmp_path / "x.og")]) == 1
    assert f"{bad}:2:1: og:node needs an id" in capsys.readouterr().err


def test_every_og_dev_document_transpiles_with_fidelity_one(tmp_path):
    results = transpile_tree(OG_DEV, tmp_path)
    assert len(results) == len(list(OG_DEV.rglob("*.md"))) >= 40
    assert [r.source for r in results if r.fidelity != 1.0] == []
    for r in results[:: max(len(results) // 8, 1)]:
        assert load_path(r.output).body() == _read(Path(r.source)).lstrip("\r\n")


def test_cli_llm_without_backend_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("OGMUX_")]:
        monkeypatch.delenv(key)
    assert main(["transpile", str(FIXTURE_DOCS[0]), "-o", str(tmp_path / "x.og"), "--llm"]) == 2
    assert "needs a model backend" in capsys.readouterr().err


class _OpenAIWire(BaseHTTPRequestHandler):
    """Answers chat completions in the OpenAI wire format with metadata built from the prompt's section."""

    def log_message(self, *args):
        pass

    def _send(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": "meta", "object": "model"}]})

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["content-length"])))
        section = req["messages"][-1]["content"].split("\n", 1)[1].rsplit("<<<end og-data", 1)[0]
        words = re.findall(r"[A-Za-z]{4,}", section)
        reply = json.dumps(
            {"keywords": [*words[:2], "hallucinated"], "dense": "Model: " + " ".join(words[:5])}
        )
        self.server.requests.append(req)  # type: ignore[attr-defined]
        self._send(
            {
                "id": "c1",
                "object": "chat.completion",
                "created": 0,
                "model": req["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
        )


def test_cli_llm_asks_the_configured_backend(tmp_path, monkeypatch, capsys):
    """`--llm` through the real router and openai SDK against a local server speaking the OpenAI wire format."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OpenAIWire)
    server.requests = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = tmp_path / "ogmux.toml"
        config.write_text(
            '[[router.backends]]\nname = "meta"\nkind = "openai"\n'
            f'replicas = ["http://127.0.0.1:{server.server_address[1]}/v1"]\napi_key_env = "TRANSPILE_TEST_KEY"\n'
        )
        monkeypatch.setenv("TRANSPILE_TEST_KEY", "test-key")
        src = tmp_path / "restart.md"
        src.write_text(
            "# Restarting\n\nDrain traffic first.\n\n## Steps\n\n1. Stop the unit.\n2. Start the unit.\n"
        )
        out = tmp_path / "restart.og"
        assert main(["transpile", str(src), "-o", str(out), "--llm", "--config", str(config)]) == 0
        assert "fidelity=1.000" in capsys.readouterr().out
    finally:
        server.shutdown()
    doc = load_path(out)
    assert len(server.requests) == 2 and all(r["max_tokens"] == 160 for r in server.requests)
    assert [n.dense for n in doc.nodes] == [
        "Model: Restarting Drain traffic first",
        "Model: Steps Stop unit Start unit",
    ]
    assert doc.nodes[0].keywords == ["restarting", "drain"]  # the ungrounded keyword was dropped
    assert doc.body() == src.read_text()


def test_directory_mode_refuses_two_sources_for_one_output(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.md").write_text("# A\n")
    (tmp_path / "src" / "a.og").write_text("# A again\n")
    assert main(["transpile", str(tmp_path / "src"), "-o", str(tmp_path / "out")]) == 1
    assert "would both be written to" in capsys.readouterr().err


def test_file_into_existing_directory(tmp_path):
    assert main(["transpile", str(FIXTURE_DOCS[0]), "-o", str(tmp_path)]) == 0
    assert (tmp_path / FIXTURE_DOCS[0].with_suffix(".og").name).is_file()
