"""Markdown → ObjectGraph transpiler, and its fidelity measure.

Public API
----------
- `transpile_text(text, *, path=None, doc_id=None, max_node_tokens=400, complete=None) -> (og_text, Document)`:
  parse the Markdown into nodes, give every node keywords and a dense summary (extractive, or
  from `complete` when given and grounded), add the edges `inference.py` infers (written
  `:kind target (inferred)`), and write an annotated `.og` file. Node content
  is copied byte-for-byte; only `og:` comment blocks are added.
- `transpile_file(src, dst, **same) -> TranspileResult` and `transpile_tree(src_dir, dst_dir, **same)`
  (every `.md`/`.og` below `src_dir`, written as `.og` at the same relative path).
- `fidelity(source, og_text) -> float`: share of the source's content tokens (words and
  punctuation) present, in order, in the Full level of the parsed output (all nodes' text).
- `content_tokens(text) -> list[str]`, `TranspileResult`.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from pathlib import Path

from pydantic import BaseModel

from ogmux.tools.objectgraph.inference import infer_edges
from ogmux.tools.objectgraph.metadata import Complete, fill_metadata
from ogmux.tools.objectgraph.model import Document
from ogmux.tools.objectgraph.parser import DEFAULT_MAX_NODE_TOKENS, parse_document, slugify
from ogmux.tools.objectgraph.writer import render_document, with_og_layout

__all__ = [
    "SUFFIXES",
    "TranspileResult",
    "content_tokens",
    "fidelity",
    "transpile_file",
    "transpile_text",
    "transpile_tree",
]

SUFFIXES = (".md", ".og", ".markdown")
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


class TranspileResult(BaseModel):
    """What one file became."""

    source: str
    output: str
    doc_id: str
    nodes: int
    fidelity: float


def content_tokens(text: str) -> list[str]:
    """Words and single punctuation marks of `text`; whitespace is not content."""
    return _TOKEN_RE.findall(text)


def fidelity(source: str, og_text: str) -> float:
    """Share of `source` content tokens found, in order, in the Full level of `og_text` (1.0 = all)."""
    want = content_tokens(source)
    if not want:
        return 1.0
    full = parse_document(og_text, max_node_tokens=None, metadata=False).body()
    have = content_tokens(full)
    if _is_subsequence(want, have):
        return 1.0
    matcher = SequenceMatcher(None, want, have, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(want)


def _is_subsequence(want: list[str], have: list[str]) -> bool:
    it = iter(have)
    return all(token in it for token in want)


def transpile_text(
    text: str,
    *,
    path: str | None = None,
    doc_id: str | None = None,
    max_node_tokens: int | None = DEFAULT_MAX_NODE_TOKENS,
    complete: Complete | None = None,
) -> tuple[str, Document]:
    """The annotated `.og` text for `text`, and the Document it describes."""
    doc = parse_document(text, path=path, doc_id=doc_id, max_node_tokens=max_node_tokens, metadata=False)
    doc = infer_edges(fill_metadata(doc, complete))
    doc = doc.model_copy(
        update={"nodes": [n.model_copy(update={"derived_metadata": False}) for n in doc.nodes]}
    )
    doc = with_og_layout(doc)
    return render_document(doc), doc


def transpile_file(
    src: str | Path,
    dst: str | Path,
    *,
    doc_id: str | None = None,
    max_node_tokens: int | None = DEFAULT_MAX_NODE_TOKENS,
    complete: Complete | None = None,
) -> TranspileResult:
    """Transpile one file to `dst` (parent directories are created); report its fidelity."""
    src, dst = Path(src), Path(dst)
    with src.open(encoding="utf-8", newline="") as fh:
        text = fh.read()
    og_text, doc = transpile_text(
        text, path=str(src), doc_id=doc_id, max_node_tokens=max_node_tokens, complete=complete
    )
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        fh.write(og_text)
    tmp.replace(dst)
    return TranspileResult(
        source=str(src),
        output=str(dst),
        doc_id=doc.id,
        nodes=len(doc.nodes),
        fidelity=fidelity(text, og_text),
    )


def transpile_tree(
    src_dir: str | Path,
    dst_dir: str | Path,
    *,
    max_node_tokens: int | None = DEFAULT_MAX_NODE_TOKENS,
    complete: Complete | None = None,
) -> list[TranspileResult]:
    """Transpile every Markdown/.og file below `src_dir` into `dst_dir`, keeping relative paths.

    Document ids are file-stem slugs; when two files share a stem, the parent folder's slug is
    prefixed (`ops-readme`), then a number, so ids stay unique across the tree.
    """
    src_dir, dst_dir = Path(src_dir), Path(dst_dir)
    files = sorted(
        p
        for p in src_dir.rglob("*")
        if p.is_file()
        and p.suffix in SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(src_dir).parts)
    )
    outputs: dict[Path, Path] = {}
    for path in files:
        out = dst_dir / path.relative_to(src_dir).with_suffix(".og")
        if out in outputs:
            raise ValueError(f"{outputs[out]} and {path} would both be written to {out}; rename one of them")
        outputs[out] = path
    used: set[str] = set()
    results = []
    for path in files:
        rel = path.relative_to(src_dir)
        doc_id = slugify(path.stem)
        if doc_id in used and len(rel.parts) > 1:
            doc_id = f"{slugify(rel.parts[-2])}-{doc_id}"
        base, n = doc_id, 2
        while doc_id in used:
            doc_id, n = f"{base}-{n}", n + 1
        used.add(doc_id)
        results.append(
            transpile_file(
                path,
                dst_dir / rel.with_suffix(".og"),
                doc_id=doc_id,
                max_node_tokens=max_node_tokens,
                complete=complete,
            )
        )
    return results
