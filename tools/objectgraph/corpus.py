"""A corpus: a directory tree of `.og`/`.md` files, loaded into query-ready snapshots.

`Corpus.snapshot()` returns the current immutable `Snapshot` at once. With reload on, it
starts a background re-scan (at most every `reload_interval_s`) that re-parses changed files
and swaps in a new snapshot only when it is complete, so a call never waits for a reload and
always sees one consistent corpus. A file that does not parse is left out (or keeps its last
good version) and its error (file:line:column) is listed in `issues`; whatever a file holds,
loading it raises nothing. Files whose real path leaves the corpus root, files over
`max_file_bytes` and a second document claiming a served document's id are refused the same
way. `lint()` adds dangling or cyclic `requires` edges.
"""

from __future__ import annotations

import os
import stat
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
from ogmux.tools.objectgraph.granularity import coarsen
from ogmux.tools.objectgraph.inference import infer_edges
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
    kind: Literal[
        "syntax", "read", "refused", "duplicate-doc", "duplicate-node", "dangling-edge", "requires-cycle",
        "scope-not-inherited",
    ]
    path: str
    line: int = 1
    column: int = 1
    message: str
    hint: str = ""

    def __str__(self) -> str:
        tail = f" (hint: {self.hint})" if self.hint else ""
        return f"{_printable(self.path)}:{self.line}:{self.column}: {self.severity}: {self.message}{tail}"


def _printable(path: str) -> str:
    """A file name as log text (a writer's text: a line break or escape in it would forge a log line)."""
    return path if path.isprintable() else path.encode("unicode_escape").decode("ascii")


Prepared = tuple[DocRecord, list[NodeRecord]]


@dataclass
class _FileState:
    stamp: tuple[int, int]
    doc: Document | None
    error: Issue | None
    prepared: Prepared | None = None


def _default_parse(text: str, path: str, config: ObjectGraphConfig) -> Document:
    from ogmux.tools.objectgraph.parser import parse_document

    doc = parse_document(
        text, path=path, max_node_tokens=config.max_node_tokens, max_attr_chars=config.max_attribute_chars
    )
    return coarsen(doc, config.merge_tokens)


def _refused(rel: str, message: str, hint: str) -> Issue:
    return Issue(severity="warning", kind="refused", path=rel, message=message, hint=hint)


def _files(root: Path) -> tuple[list[tuple[str, Path]], list[Issue]]:
    """Corpus files as (path relative to the root, real path), sorted; and the links refused.

    Hidden entries are skipped. Symbolic links to directories are not followed, and a linked
    file is read only when its real path stays under the root (a link cannot publish an
    outside file).
    """
    real_root = root.resolve()
    found: list[tuple[str, Path]] = []
    refused: list[Issue] = []

    def unreadable(exc: OSError) -> None:
        where = Path(exc.filename or root)
        if where == root:
            raise exc
        rel = where.relative_to(root).as_posix() if where.is_relative_to(root) else str(where)
        refused.append(Issue(severity="error", kind="read", path=rel, message=f"cannot read directory: {exc.strerror}",
                             hint="check its permissions; its files are not served"))

    for base, dirs, names in os.walk(root, onerror=unreadable, followlinks=False):
        here = Path(base)
        for name in sorted(dirs):
            if name.startswith("."):
                dirs.remove(name)
            elif (here / name).is_symlink():
                rel = (here / name).relative_to(root).as_posix()
                refused.append(
                    _refused(rel, "symbolic link to a directory: not followed", "copy or move the files into the corpus")
                )
        for name in names:
            p = here / name
            if name.startswith(".") or p.suffix not in SUFFIXES:
                continue
            rel = p.relative_to(root).as_posix()
            real = p.resolve()
            if p.is_symlink() and not real.is_relative_to(real_root):
                refused.append(
                    _refused(
                        rel,
                        "symbolic link to a file outside the corpus root: not served",
                        "copy the file into the corpus directory instead of linking to it",
                    )
                )
            elif real.is_file():
                found.append((rel, real))
    return sorted(found), refused


def _stamp(p: Path) -> tuple[int, int]:
    st = p.stat()
    return (st.st_mtime_ns, st.st_size)


def _unchanged(p: Path, stamp: tuple[int, int]) -> bool:
    """Whether `p` still has `stamp` (a file being written changes between two looks)."""
    try:
        return _stamp(p) == stamp
    except OSError:
        return False


def _read(real: Path, limit: int) -> bytes:
    """The file's bytes; refuses a path that became a symbolic link or a non-regular file, and files over `limit` bytes.

    O_NONBLOCK: a FIFO swapped in after the scan must not block the reload thread in open().
    """
    fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError("not a regular file")
        if info.st_size > limit:
            raise _TooLarge(limit)
        data = fh.read(info.st_size + 1)  # a file still growing is cut below
    if len(data) > limit:
        raise _TooLarge(limit)
    return data


_NAMED_FILES = 5  # files a max_files warning names; it counts the rest


class _TooLarge(Exception):
    def __init__(self, limit: int):
        self.limit = limit


def _records(doc: Document) -> Prepared:
    doc = infer_edges(doc)
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
            edges.append(EdgeRecord(kind=e.kind, target=f"{tdoc}#{tnode}", inferred=e.inferred))
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
    docs: list[Document],
    generation: int = 0,
    prepared: list[Prepared] | None = None,
    served: dict[str, str] | None = None,
) -> tuple[Snapshot, list[Issue]]:
    """Query-ready snapshot of `docs` and the duplicate ids found.

    A document id claimed by several files goes to the file that `served` (doc id -> path,
    the previous snapshot's owners) names; when none of them served it before, none of them
    is served. So a new file can never take over an id, whatever its name. `prepared` may hold
    each document's records from an earlier load (they depend on nothing else).
    """
    served = served or {}
    issues: list[Issue] = []
    claims: dict[str, list[int]] = {}
    for i, doc in enumerate(docs):
        claims.setdefault(doc.id, []).append(i)
    doc_records: dict[str, DocRecord] = {}
    nodes: dict[str, NodeRecord] = {}
    for doc_id, idx in claims.items():
        paths = [docs[i].path or doc_id for i in idx]
        keep = idx[0] if len(idx) == 1 else next((i for i in idx if docs[i].path == served.get(doc_id)), None)
        for i, where in zip(idx, paths, strict=True):
            if i == keep:
                continue
            if keep is not None:
                message = f"document id {doc_id!r} is already served from {docs[keep].path}; this file is not served"
            else:
                others = ", ".join(p for p in paths if p != where)
                message = f"document id {doc_id!r} is also declared in {others}; none of these files is served"
            issues.append(
                Issue(
                    severity="error",
                    kind="duplicate-doc",
                    path=where,
                    message=message,
                    hint="give each document a unique id in its meta block (or rename the file)",
                )
            )
        if keep is None:
            continue
        doc = docs[keep]
        record, recs = prepared[keep] if prepared is not None else _records(doc)
        seen: set[str] = set()
        kept = []
        for n, r in zip(doc.nodes, recs, strict=True):
            if r.id in seen:
                issues.append(
                    Issue(
                        severity="error",
                        kind="duplicate-node",
                        path=doc.path or doc.id,
                        line=n.line_start,
                        message=f"node id {n.id!r} appears twice in document {doc.id!r}; the later one is not served",
                        hint="node ids must be unique within a document",
                    )
                )
                continue
            seen.add(r.id)
            kept.append(r)
        doc_records[doc.id] = DocRecord(**{**record.__dict__, "nodes": tuple(r.id for r in kept)})
        nodes.update((r.id, r) for r in kept)
    return Snapshot(docs=doc_records, nodes=nodes, generation=generation), issues


def _line_of(doc: Document, node_id: str) -> int:
    n = doc.get(node_id)
    return n.line_start if n is not None else 1


def _subsections_left_visible(doc: Document) -> list[Issue]:
    """Plain subsections that a reader may see while the section they are nested in is hidden from that reader.

    Scopes are not inherited, so an author who marks only `## Secret` admin-only serves its `### Details`
    to everyone; a warning says so (a subsection with a marker is the author's explicit choice).
    """
    issues: list[Issue] = []
    above: list[Node] = []  # the sections enclosing the current one, by heading level
    for n in doc.nodes:
        if n.level in (0, 7):
            continue
        while above and above[-1].level >= n.level:
            above.pop()
        hidden = next((a for a in above if not covers(effective_scopes(a.scopes), effective_scopes(n.scopes))), None)
        if hidden is not None and not n.declared:
            issues.append(
                Issue(
                    severity="warning",
                    kind="scope-not-inherited",
                    path=doc.path or doc.id,
                    line=n.line_start,
                    message=f"{doc.id}#{n.id} is nested in {doc.id}#{hidden.id} ({', '.join(hidden.scopes)}) but has no "
                    f"og:node marker: it is served with the document's default scope ({', '.join(n.scopes)})",
                    hint="scopes are not inherited: give it a marker with the scopes= it needs",
                )
            )
        above.append(n)
    return issues


def lint_documents(docs: list[Document], snapshot: Snapshot) -> list[Issue]:
    """Dangling edges (any kind), `requires` cycles among the served documents, and plain subsections served
    more widely than the section they are nested in."""
    issues: list[Issue] = [i for d in docs for i in _subsections_left_visible(d)]
    by_doc = {d.id: d for d in docs}
    for n in snapshot.nodes.values():
        doc = by_doc.get(n.doc)
        for e in n.edges:
            if e.target not in snapshot.nodes and not e.inferred:  # `ogmux check` lists inferred edges apart
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
        nid: [e.target for e in n.edges if e.kind == "requires" and not e.inferred and e.target in snapshot.nodes]
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
        self._lock = threading.Lock()  # one scan at a time
        self._start_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._generation = 0
        self._checked = 0.0
        self._issues: list[Issue] = []
        self._refused: list[Issue] = []
        self._snapshot, _ = build_snapshot([])
        self.refresh()

    @property
    def issues(self) -> list[Issue]:
        """Load problems of the current snapshot: files that fail to parse or are refused, duplicate ids."""
        return list(self._issues)

    def snapshot(self) -> Snapshot:
        """The current snapshot, at once; when reload is on and due, a background re-scan is started."""
        if self.config.reload and time.monotonic() - self._checked >= self.config.reload_interval_s:
            self._start_reload()
        return self._snapshot

    def wait_reload(self, timeout: float | None = None) -> Snapshot:
        """Wait for a running background re-scan (if any) to finish; return the current snapshot."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return self._snapshot

    def _start_reload(self) -> None:
        with self._start_lock:
            if self._worker is not None and self._worker.is_alive():
                return
            self._checked = time.monotonic()
            self._worker = threading.Thread(target=self._reload, name="objectgraph-reload", daemon=True)
            self._worker.start()

    def _reload(self) -> None:
        """A background re-scan; whatever fails, the last snapshot stays served and the failure is listed."""
        try:
            self.refresh()
        except Exception as exc:  # noqa: BLE001 - e.g. the directory went away
            message = str(exc) if isinstance(exc, CorpusError) else f"reload failed ({type(exc).__name__}: {exc})"
            self._issues = [Issue(severity="error", kind="read", path=".", message=message, hint="the last good snapshot is served")]

    def _within_file_limit(self, paths: list[tuple[str, Path]]) -> tuple[list[tuple[str, Path]], list[Issue]]:
        """At most `max_files` files: those served already first, then new ones in path order; the rest
        refused.

        Files are counted before any is read (the limit exists so a flood is never parsed), so files of
        every scope count alike: it bounds what writers put in the corpus, whoever may read it.
        """
        limit = self.config.max_files
        if len(paths) <= limit:
            return paths, []
        ranked = sorted(paths, key=lambda p: (p[0] not in self._files, p[0]))
        kept = {rel for rel, _ in ranked[:limit]}
        left_out = sorted(rel for rel, _ in ranked[limit:])
        named = ", ".join(_printable(rel) for rel in left_out[:_NAMED_FILES])
        more = f" and {len(left_out) - _NAMED_FILES} more" if len(left_out) > _NAMED_FILES else ""
        issue = _refused(
            left_out[0],
            f"not served: {named}{more} ({len(left_out)} of {len(paths)} files, over objectgraph.max_files = "
            f"{limit}); files already served keep their place and new ones fill the rest in path order, "
            "whatever scopes their nodes have (files are counted before they are read)",
            "raise objectgraph.max_files or remove files (anyone who may add files can fill the corpus)",
        )
        return [p for p in paths if p[0] in kept], [issue]

    def refresh(self) -> bool:
        """Re-read changed, new and deleted files now; swap in a new snapshot if anything changed."""
        with self._lock:
            self._checked = time.monotonic()
            try:
                paths, refused = _files(self.root)
            except OSError as exc:
                raise CorpusError(f"cannot read corpus directory {self.root}: {exc}") from None
            paths, over = self._within_file_limit(paths)
            refused += over
            changed = False
            current: dict[str, _FileState | None] = {}
            for rel, real in paths:
                try:
                    stamp = _stamp(real)
                except OSError:
                    continue
                old = self._files.get(rel)
                current[rel] = old
                if old is not None and old.stamp == stamp:
                    continue
                state = self._load(real, rel, stamp, old)
                if not _unchanged(real, stamp):
                    continue  # written to while it was read: the next scan reads the finished file
                changed = True
                current[rel] = state
            if set(current) != set(self._files):
                changed = True
            refused_now = [str(i) for i in refused]
            if not changed and self._generation and refused_now == [str(i) for i in self._refused]:
                return False
            self._refused = refused
            self._files = {k: v for k, v in current.items() if v is not None}
            states = [s for s in self._files.values() if s.doc is not None]
            self._generation += 1
            owners = {d.id: d.path for d in self._snapshot.docs.values()}
            snapshot, dups = build_snapshot(
                [s.doc for s in states], self._generation, [s.prepared for s in states], owners  # type: ignore[misc]
            )
            self._issues = [s.error for s in self._files.values() if s.error is not None] + refused + dups
            self._snapshot = snapshot
            return True

    def _load(self, real: Path, rel: str, stamp: tuple[int, int], old: _FileState | None) -> _FileState:
        """Read and parse one file. Never raises: a failure keeps the last good version and says where."""
        last_good = old.doc if old is not None else None
        kept = old.prepared if old is not None else None
        served = "; the last good version is still served" if last_good else ""

        def failed(kind: str, message: str, hint: str, line: int = 1, column: int = 1) -> _FileState:
            issue = Issue(
                severity="error", kind=kind, path=rel, line=line, column=column, message=message + served, hint=hint  # type: ignore[arg-type]
            )
            return _FileState(stamp, last_good, issue, kept)

        from ogmux.tools.objectgraph.parser import decode_source

        try:
            text = decode_source(_read(real, self.config.max_file_bytes), rel)
            doc = self._parse(text, rel, self.config)
            return _FileState(stamp, doc, None, _records(doc))
        except _TooLarge as exc:
            return failed(
                "read",
                f"file is larger than {exc.limit} bytes",
                "split it into smaller documents, or raise objectgraph.max_file_bytes",
            )
        except OSError as exc:
            return failed("read", f"cannot read file: {exc.strerror or exc}", "check the file's permissions")
        except ObjectGraphSyntaxError as exc:
            return failed("syntax", exc.message, exc.hint, exc.line, exc.column)
        except ValidationError as exc:
            # The parser reports what it checks with a location; anything it missed still must not
            # take the corpus down.
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            return failed("syntax", f"invalid document ({where}: {first['msg']})", "fix the value named above")
        except Exception as exc:  # noqa: BLE001 - no file may take the corpus down, whatever it holds
            return failed(
                "syntax",
                f"the document could not be parsed ({type(exc).__name__})",
                "simplify the file around its og: blocks; this is a parser defect worth reporting",
            )

    def lint(self) -> list[Issue]:
        """Every load issue plus dangling and cyclic edges, errors first then by file and line."""
        with self._lock:
            snapshot = self._snapshot
            docs = [
                s.doc
                for s in self._files.values()
                if s.doc is not None and s.doc.id in snapshot.docs and snapshot.docs[s.doc.id].path == s.doc.path
            ]
            issues = self._issues + lint_documents(docs, snapshot)
        return sorted(issues, key=lambda i: (i.severity != "error", i.path, i.line, i.column))
