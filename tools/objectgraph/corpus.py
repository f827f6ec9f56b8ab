"""A corpus: a directory tree of `.og`/`.md` files, loaded into query-ready snapshots.

`Corpus.snapshot()` returns the current immutable `Snapshot`. With reload on, it first
re-stats the files (at most every `reload_interval_s`) and re-parses changed ones; the new
snapshot is built completely before it replaces the old one, so a call always sees one
consistent corpus. A file that no longer parses keeps its last good version served and its
error (file:line:column) is listed in `issues`. `lint()` adds duplicate ids and dangling or
cyclic `requires` edges.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from ogmux.tools.objectgraph.access import covers, effective_scopes
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.errors import ObjectGraphSyntaxError
from ogmux.tools.objectgraph.model import Document, Node
from ogmux.tools.objectgraph.snapshot import (
    AssertionRecord,
    ChangeRecord,
    DocRecord,
    EdgeRecord,
    NodeRecord,
    Snapshot,
)
from ogmux.tools.objectgraph.untrusted import content_hash

__all__ = ["Corpus", "CorpusError", "Issue", "ParseFn", "build_snapshot", "lint_documents"]

ParseFn = Callable[[str, str, ObjectGraphConfig], Document]
"""Parse file text (with its path relative to the corpus root) into a Document."""

SUFFIXES = (".og", ".md")


class CorpusError(ValueError):
    """The corpus directory is missing or unreadable."""


class Issue(BaseModel):
    """A problem found while loading or linting: where, what, and how to fix it."""

    severity: Literal["error", "warning"]
    kind: Literal["syntax", "read", "duplicate-doc", "duplicate-node", "dangling-edge", "requires-cycle"]
    path: str
    line: int = 1
    column: int = 1
    message: str
    hint: str = ""

    def __str__(self) -> str:
        tail = f" (hint: {self.hint})" if self.hint else ""
        return f"{self.path}:{self.line}:{self.column}: {self.severity}: {self.message}{tail}"


Prepared = tuple[DocRecord, list[NodeRecord]]


@dataclass
class _FileState:
    stamp: tuple[int, int]
    doc: Document | None
    error: Issue | None
    prepared: Prepared | None = None


def _default_parse(text: str, path: str, config: ObjectGraphConfig) -> Document:
    from ogmux.tools.objectgraph.parser import parse_document

    return parse_document(text, path=path, max_node_tokens=config.max_node_tokens)


def _stamp(p: Path) -> tuple[int, int]:
    st = p.stat()
    return (st.st_mtime_ns, st.st_size)


def _files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix in SUFFIXES and p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def _records(doc: Document) -> Prepared:
    by_id = {n.id: n for n in doc.nodes}

    def heading_path(n: Node) -> tuple[str, ...]:
        """Titles of the ancestors that every caller seeing `n` may see."""
        mine = effective_scopes(n.scopes)
        path, cur, seen = [], n.parent, set()
        while cur and cur in by_id and cur not in seen:
            seen.add(cur)
            if covers(effective_scopes(by_id[cur].scopes), mine):
                path.append(by_id[cur].title)
            cur = by_id[cur].parent
        return tuple(reversed(path))

    nodes = []
    for n in doc.nodes:
        edges = []
        for e in n.edges:
            tdoc, tnode = e.resolve(doc.id)
            edges.append(EdgeRecord(kind=e.kind, target=f"{tdoc}#{tnode}"))
        assertion = None
        if n.assertion is not None:
            assertion = AssertionRecord(
                checks=tuple(c.model_dump(mode="json") for c in n.assertion.checks),
                retries=n.assertion.retries,
                escalate=n.assertion.escalate_to,
            )
        scopes = effective_scopes(n.scopes)
        nodes.append(
            NodeRecord(
                id=f"{doc.id}#{n.id}",
                doc=doc.id,
                node=n.id,
                title=n.title,
                type=n.type,
                scopes=scopes,
                keywords=tuple(n.keywords),
                dense=n.dense,
                full=n.full,
                version=n.version,
                hash=content_hash(n.full),
                heading_path=heading_path(n),
                confidence=n.confidence,
                parent=f"{doc.id}#{n.parent}" if n.parent else None,
                edges=tuple(edges),
                assertion=assertion,
            )
        )
    changelog = []
    for c in doc.changelog:
        refs = []
        for ref in c.changed:
            d, nid = (ref.split("#", 1) if "#" in ref else (doc.id, ref))
            refs.append(f"{d}#{nid}")
        changelog.append(ChangeRecord(version=c.version, date=c.date.isoformat(), nodes=tuple(refs), summary=c.summary))
    record = DocRecord(
        id=doc.id,
        title=doc.title,
        version=doc.version,
        path=doc.path or "",
        hash=content_hash(doc.body()),
        nodes=tuple(n.id for n in nodes),
        changelog=tuple(changelog),
        scopes=effective_scopes([doc.scope]),
    )
    return record, nodes


def build_snapshot(
    docs: list[Document], generation: int = 0, prepared: list[Prepared] | None = None
) -> tuple[Snapshot, list[Issue]]:
    """Query-ready snapshot of `docs` (first one wins on a duplicate id) and the duplicates found.

    `prepared` may hold each document's records from an earlier load (they depend on nothing else).
    """
    issues: list[Issue] = []
    doc_records: dict[str, DocRecord] = {}
    nodes: dict[str, NodeRecord] = {}
    first_path: dict[str, str] = {}
    for i, doc in enumerate(docs):
        where = doc.path or doc.id
        if doc.id in doc_records:
            issues.append(
                Issue(
                    severity="error",
                    kind="duplicate-doc",
                    path=where,
                    message=f"document id {doc.id!r} is already used by {first_path[doc.id]}; this file is not served",
                    hint="give each document a unique id in its meta block (or rename the file)",
                )
            )
            continue
        record, recs = prepared[i] if prepared is not None else _records(doc)
        seen: set[str] = set()
        kept = []
        for n, r in zip(doc.nodes, recs, strict=True):
            if r.id in seen:
                issues.append(
                    Issue(
                        severity="error",
                        kind="duplicate-node",
                        path=where,
                        line=n.line_start,
                        message=f"node id {n.id!r} appears twice in document {doc.id!r}; the later one is not served",
                        hint="node ids must be unique within a document",
                    )
                )
                continue
            seen.add(r.id)
            kept.append(r)
        first_path[doc.id] = where
        doc_records[doc.id] = DocRecord(**{**record.__dict__, "nodes": tuple(r.id for r in kept)})
        nodes.update((r.id, r) for r in kept)
    return Snapshot(docs=doc_records, nodes=nodes, generation=generation), issues


def _line_of(doc: Document, node_id: str) -> int:
    n = doc.get(node_id)
    return n.line_start if n is not None else 1


def lint_documents(docs: list[Document], snapshot: Snapshot) -> list[Issue]:
    """Dangling edges (any kind) and `requires` cycles among the served documents."""
    issues: list[Issue] = []
    by_doc = {d.id: d for d in docs}
    for n in snapshot.nodes.values():
        doc = by_doc.get(n.doc)
        for e in n.edges:
            if e.target not in snapshot.nodes:
                issues.append(
                    Issue(
                        severity="error" if e.kind == "requires" else "warning",
                        kind="dangling-edge",
                        path=doc.path or n.doc if doc else n.doc,
                        line=_line_of(doc, n.node) if doc else 1,
                        message=f"{n.id} :{e.kind} {e.target} points to no node in the corpus",
                        hint="fix the target id ('node-id' or 'doc-id#node-id') or add the missing node",
                    )
                )
    for cycle in _requires_cycles(snapshot):
        first = snapshot.nodes[cycle[0]]
        doc = by_doc.get(first.doc)
        issues.append(
            Issue(
                severity="error",
                kind="requires-cycle",
                path=(doc.path or first.doc) if doc else first.doc,
                line=_line_of(doc, first.node) if doc else 1,
                message="requires cycle among: " + ", ".join(cycle),
                hint="a node cannot (indirectly) require itself; turn one edge into :see-also",
            )
        )
    return issues


def _requires_cycles(snapshot: Snapshot) -> list[list[str]]:
    """Strongly connected components of the `requires` graph that contain a cycle (Tarjan, iterative)."""
    graph = {
        nid: [e.target for e in n.edges if e.kind == "requires" and e.target in snapshot.nodes]
        for nid, n in snapshot.nodes.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            recurse = False
            for j in range(i, len(graph[v])):
                w = graph[v][j]
                if w not in index:
                    work.append((v, j + 1))
                    work.append((w, 0))
                    recurse = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if recurse:
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in graph[v]:
                    out.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out


class Corpus:
    """A live corpus rooted at a directory; thread-safe; `snapshot()` is what queries read."""

    def __init__(self, root: Path | str, config: ObjectGraphConfig | None = None, parse: ParseFn | None = None):
        self.root = Path(root)
        self.config = config or ObjectGraphConfig()
        self._parse = parse or _default_parse
        if not self.root.is_dir():
            raise CorpusError(f"corpus directory not found: {self.root} (set objectgraph.corpus or pass --corpus DIR)")
        self._files: dict[str, _FileState] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._checked = 0.0
        self._issues: list[Issue] = []
        self._snapshot, _ = build_snapshot([])
        self.refresh()

    @property
    def issues(self) -> list[Issue]:
        """Load problems of the current snapshot: files that fail to parse, duplicate ids."""
        return list(self._issues)

    def snapshot(self) -> Snapshot:
        """The current snapshot, after re-reading changed files when reload is on and due."""
        if self.config.reload and time.monotonic() - self._checked >= self.config.reload_interval_s:
            self.refresh()
        return self._snapshot

    def refresh(self) -> bool:
        """Re-read changed, new and deleted files; swap in a new snapshot if anything changed."""
        with self._lock:
            self._checked = time.monotonic()
            try:
                paths = _files(self.root)
            except OSError as exc:
                raise CorpusError(f"cannot read corpus directory {self.root}: {exc}") from None
            changed = False
            current = {}
            for p in paths:
                rel = p.relative_to(self.root).as_posix()
                try:
                    stamp = _stamp(p)
                except OSError:
                    continue
                old = self._files.get(rel)
                current[rel] = old
                if old is not None and old.stamp == stamp:
                    continue
                changed = True
                current[rel] = self._load(p, rel, stamp, old)
            if set(current) != set(self._files):
                changed = True
            if not changed and self._generation:
                return False
            self._files = {k: v for k, v in current.items() if v is not None}
            states = [s for s in self._files.values() if s.doc is not None]
            for st in states:
                if st.prepared is None:
                    st.prepared = _records(st.doc)  # type: ignore[arg-type]
            self._generation += 1
            snapshot, dups = build_snapshot(
                [s.doc for s in states], self._generation, [s.prepared for s in states]  # type: ignore[misc]
            )
            self._issues = [s.error for s in self._files.values() if s.error is not None] + dups
            self._snapshot = snapshot
            return True

    def _load(self, p: Path, rel: str, stamp: tuple[int, int], old: _FileState | None) -> _FileState:
        last_good = old.doc if old is not None else None
        kept = old.prepared if old is not None else None
        try:
            with p.open(encoding="utf-8", newline="") as fh:  # keep CRLF: Full is the source byte for byte
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            issue = Issue(severity="error", kind="read", path=rel, message=f"cannot read file: {exc}", hint="save the file as UTF-8 text")
            return _FileState(stamp, last_good, issue, kept)
        try:
            doc = self._parse(text, rel, self.config)
        except ObjectGraphSyntaxError as exc:
            issue = Issue(
                severity="error",
                kind="syntax",
                path=rel,
                line=exc.line,
                column=exc.column,
                message=exc.message + ("; the last good version is still served" if last_good else ""),
                hint=exc.hint,
            )
            return _FileState(stamp, last_good, issue, kept)
        except ValidationError as exc:
            # The parser reports what it checks with a location; anything it missed still must not
            # take the corpus down.
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            issue = Issue(
                severity="error",
                kind="syntax",
                path=rel,
                message=f"invalid document ({where}: {first['msg']})"
                + ("; the last good version is still served" if last_good else ""),
                hint="fix the value named above",
            )
            return _FileState(stamp, last_good, issue, kept)
        return _FileState(stamp, doc, None)

    def lint(self) -> list[Issue]:
        """Every load issue plus dangling and cyclic edges, errors first then by file and line."""
        with self._lock:
            docs = [s.doc for s in self._files.values() if s.doc is not None]
            snapshot = self._snapshot
            issues = self._issues + lint_documents(docs, snapshot)
        return sorted(issues, key=lambda i: (i.severity != "error", i.path, i.line, i.column))
