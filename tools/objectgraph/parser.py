"""Parse `.og` / `.md` text into a `Document` (syntax: docs/objectgraph.md, v1.0).

Public API
----------
- `parse_document(text, *, path=None, doc_id=None, max_node_tokens=400, metadata=True) -> Document`
  `doc_id` is used when the text has no `og:meta id=` (default: slug of the file stem);
  `max_node_tokens` splits unmarked sections above that many cl100k tokens (None: never);
  `metadata` fills missing keywords / dense summaries extractively.
- `load_path(path, **same keywords) -> Document`: read a file (UTF-8, newlines kept) and parse it.
- `slugify(text) -> str`: the id slug used for headings and file names.
- `split_lines(text) -> list[str]`: lines with their endings (`\\r\\n`, `\\r`, `\\n`), as Markdown sees them.

Malformed `og:` blocks raise `ObjectGraphSyntaxError` (path:line:column + hint). A file with
no `og:` blocks is plain Markdown: one node per heading section, nested by heading level.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pydantic import ValidationError

from tools.objectgraph.errors import ObjectGraphSyntaxError
from tools.objectgraph.model import (
    CHECK_OPS,
    EDGE_KINDS,
    ID_PATTERN,
    NODE_TYPES,
    Assertion,
    ChangelogEntry,
    Check,
    Document,
    Edge,
    Node,
    Segment,
    parse_ref,
)
from tools.objectgraph.tokens import count_tokens
from tools.objectgraph.writer import render_changelog, render_index, render_marker, render_meta

__all__ = ["DEFAULT_MAX_NODE_TOKENS", "load_path", "parse_document", "slugify", "split_lines"]

DEFAULT_MAX_NODE_TOKENS = 400
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_OG_START = re.compile(r" {0,3}<!--\s*og:")
_OG_HEAD = re.compile(r"( {0,3}<!--\s*og:)([A-Za-z_-]*)")
_ATTR_RE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_-]*)=("(?:[^"\\]|\\.)*"|[^\s"]+)')
_ID_RE = re.compile(ID_PATTERN)
_WARNING_RE = re.compile(r"\b(warning|caution|danger|important|never|do not|don't|pitfall)", re.I)
_EXAMPLE_RE = re.compile(r"\bexamples?\b", re.I)
_STEPS_RE = re.compile(r"\b(steps?|how to|procedure|workflow|install|setup|set up|quick ?start)\b", re.I)
_MD = MarkdownIt("commonmark").enable("table")


def split_lines(text: str) -> list[str]:
    """Split into lines keeping their endings; `''.join(split_lines(t)) == t`."""
    return _LINE_RE.findall(text)


def slugify(text: str) -> str:
    """Lowercase ASCII slug: letters/digits joined by `-`, at most 64 chars; `section` if empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > 64:
        slug = slug[:64].rsplit("-", 1)[0] if "-" in slug[:64] else slug[:64]
    return slug or "section"


# ---------------------------------------------------------------- og: block syntax


@dataclass
class _Ctx:
    path: str | None
    lines: list[str]

    def error(self, message: str, line: int, column: int = 1, hint: str = "") -> ObjectGraphSyntaxError:
        return ObjectGraphSyntaxError(message, path=self.path, line=line, column=column, hint=hint)


@dataclass
class _Attrs:
    values: dict[str, str]
    columns: dict[str, int]
    line: int


def _parse_attrs(ctx: _Ctx, text: str, line: int, col0: int) -> _Attrs:
    values: dict[str, str] = {}
    columns: dict[str, int] = {}
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _ATTR_RE.match(text, pos)
        if match is None:
            col = col0 + pos + (len(text[pos:]) - len(text[pos:].lstrip()))
            raise ctx.error(
                "expected key=value", line, col, 'write attributes as key=value or key="quoted value"'
            )
        key, raw = match.group(1), match.group(2)
        col = col0 + match.start(1)
        if key in values:
            raise ctx.error(f"attribute {key!r} given twice", line, col, "keep one of them")
        if raw.startswith('"'):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError:
                raise ctx.error(f"bad quoted value for {key!r}", line, col, "quoted values use JSON string escapes")
        values[key] = raw
        columns[key] = col
        pos = match.end()
    return _Attrs(values, columns, line)


def _check_keys(ctx: _Ctx, attrs: _Attrs, allowed: tuple[str, ...], what: str) -> None:
    for key in attrs.values:
        if key not in allowed:
            raise ctx.error(f"unknown attribute {key!r} in {what}", attrs.line, attrs.columns[key],
                            f"allowed: {', '.join(allowed)}")


def _split_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _check_id(ctx: _Ctx, value: str, line: int, col: int, what: str = "id") -> str:
    if not _ID_RE.fullmatch(value):
        raise ctx.error(f"invalid {what} {value!r}", line, col,
                        "ids use letters, digits, '.', '_', '-', start with a letter or digit, ≤128 chars")
    return value


@dataclass
class _Block:
    kind: str
    start: int  # 0-based first line
    end: int  # 0-based exclusive
    head: _Attrs
    body: list[tuple[int, str]]  # (1-based line, text) of lines after the first


def _read_block(ctx: _Ctx, start: int, end: int) -> _Block:
    raw_lines = [ln.rstrip("\r\n") for ln in ctx.lines[start:end]]
    head_match = _OG_HEAD.match(raw_lines[0])
    assert head_match is not None
    kind = head_match.group(2)
    if kind not in ("meta", "index", "changelog", "node"):
        raise ctx.error(f"unknown block og:{kind}", start + 1, len(head_match.group(1)) + 1,
                        "use og:meta, og:index, og:changelog or og:node")
    last = raw_lines[-1]
    close = last.find("-->")
    if close < 0:
        raise ctx.error(f"og:{kind} comment is not closed", start + 1, 1, "end the block with -->")
    after = last[close + 3 :]
    if after.strip():
        column = close + 4 + len(after) - len(after.lstrip())
        raise ctx.error("text after -->", end, column, "put content on the next line")
    texts = list(raw_lines)
    texts[-1] = last[:close]
    first_text = texts[0][head_match.end() :]
    head = _parse_attrs(ctx, first_text, start + 1, head_match.end() + 1)
    body = [(start + 1 + i, t) for i, t in enumerate(texts[1:], start=1)]
    return _Block(kind, start, end, head, body)


@dataclass
class _Marker:
    block: _Block
    id: str
    attrs: dict[str, str]
    edges: list[Edge]
    checks: list[Check]


_NODE_KEYS = ("id", "type", "title", "scopes", "confidence", "version", "tags", "retries", "escalate")


def _read_marker(ctx: _Ctx, block: _Block) -> _Marker:
    head = block.head
    _check_keys(ctx, head, _NODE_KEYS, "og:node")
    if "id" not in head.values:
        raise ctx.error("og:node needs an id", block.start + 1, 1, "add id=<node-id>")
    node_id = _check_id(ctx, head.values["id"], head.line, head.columns["id"])
    typ = head.values.get("type")
    if typ is not None and typ not in NODE_TYPES:
        raise ctx.error(f"unknown node type {typ!r}", head.line, head.columns["type"],
                        f"use one of {', '.join(NODE_TYPES)}")
    edges: list[Edge] = []
    checks: list[Check] = []
    for line_no, text in block.body:
        stripped = text.strip()
        col = len(text) - len(text.lstrip()) + 1
        if not stripped:
            continue
        if stripped.startswith(":"):
            kind, _, targets = stripped[1:].partition(" ")
            if kind not in EDGE_KINDS:
                raise ctx.error(f"unknown edge kind :{kind}", line_no, col,
                                f"use one of {', '.join(':' + k for k in EDGE_KINDS)}")
            if not targets.strip():
                raise ctx.error(f"edge :{kind} has no target", line_no, col, "write :kind id[, doc#id ...]")
            for target in _split_list(targets):
                try:
                    parse_ref(target, "_")
                except ValueError:
                    raise ctx.error(f"invalid edge target {target!r}", line_no, col + text.strip().find(target),
                                    "targets are node-id or doc-id#node-id")
                edges.append(Edge(kind=kind, target=target))  # type: ignore[arg-type]
        elif stripped.startswith("check:"):
            checks.append(_read_check(ctx, stripped[6:].strip(), line_no, col))
        else:
            raise ctx.error("unrecognised line in og:node", line_no, col,
                            "lines are ':kind target, ...' edges or 'check: path op value'")
    if typ == "assertion" and not checks:
        raise ctx.error("assertion node without checks", block.start + 1, 1, "add lines 'check: path op value'")
    if typ != "assertion":
        for key in ("retries", "escalate"):
            if key in head.values:
                raise ctx.error(f"{key} is only allowed on assertion nodes", head.line, head.columns[key],
                                "set type=assertion or remove it")
        if checks:
            raise ctx.error("checks are only allowed on assertion nodes", block.start + 1, 1, "set type=assertion")
    return _Marker(block, node_id, head.values, edges, checks)


def _read_check(ctx: _Ctx, text: str, line: int, col: int) -> Check:
    parts = text.split(None, 2)
    if len(parts) < 2:
        raise ctx.error("check needs a path and an operator", line, col, "write 'check: health.status eq \"ok\"'")
    path, op = parts[0], parts[1]
    if op not in CHECK_OPS:
        raise ctx.error(f"unknown check operator {op!r}", line, col, f"use one of {', '.join(CHECK_OPS)}")
    value = None
    if len(parts) == 3:
        try:
            value = json.loads(parts[2])
        except json.JSONDecodeError:
            raise ctx.error(f"check value is not JSON: {parts[2]!r}", line, col,
                            'quote strings: "ok"; numbers, true/false/null and [lists] as in JSON')
    elif op != "exists":
        raise ctx.error(f"check operator {op} needs a value", line, col, "add a JSON value after the operator")
    try:
        return Check(path=path, op=op, value=value)  # type: ignore[arg-type]
    except ValidationError:
        raise ctx.error(f"invalid check path {path!r}", line, col, "paths are dotted keys like queue.depth")


# ---------------------------------------------------------------- Markdown structure


@dataclass
class _Event:
    kind: str  # og | heading | block
    start: int
    end: int
    level: int = 0
    inline: str = ""
    title: str = ""
    tag: str = ""
    splits: list[int] = field(default_factory=list)  # extra split candidates inside (list items)


def _front_matter(lines: list[str]) -> tuple[int, int] | None:
    i = 0
    while i < len(lines):
        text = lines[i].strip()
        if not text:
            i += 1
        elif _OG_START.match(lines[i]):
            while i < len(lines) and "-->" not in lines[i]:
                i += 1
            i += 1
        else:
            break
    if i >= len(lines) or lines[i].rstrip("\r\n") != "---":
        return None
    for j in range(i + 1, len(lines)):
        if lines[j].rstrip("\r\n") in ("---", "..."):
            return i, j + 1
    return None


def _plain(inline: Token | None) -> str:
    if inline is None or not inline.children:
        return inline.content.strip() if inline else ""
    parts = [c.content for c in inline.children if c.type in ("text", "code_inline", "html_inline")]
    parts = [p if p.strip() else " " for p in parts]
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def _events(lines: list[str]) -> list[_Event]:
    front = _front_matter(lines)
    md_lines = list(lines)
    if front:
        for i in range(*front):
            md_lines[i] = lines[i][len(lines[i].rstrip("\r\n")) :]  # keep the line break, drop the text
    tokens = _MD.parse("".join(md_lines))
    events: list[_Event] = []
    if front:
        events.append(_Event("block", front[0], front[1], tag="front_matter"))
    for i, tok in enumerate(tokens):
        if tok.level != 0 or tok.map is None or tok.nesting == -1:
            continue
        start, end = tok.map
        if tok.type == "html_block" and _OG_START.match(tok.content):
            events.append(_Event("og", start, end))
        elif tok.type == "heading_open":
            inline = tokens[i + 1] if i + 1 < len(tokens) else None
            events.append(_Event("heading", start, end, level=int(tok.tag[1]),
                                 inline=inline.content if inline else "", title=_plain(inline)))
        else:
            ev = _Event("block", start, end, tag=tok.type.removesuffix("_open"))
            if tok.type in ("bullet_list_open", "ordered_list_open"):
                ev.splits = [t.map[0] for t in tokens[i + 1 :] if t.type == "list_item_open" and t.level == 1
                             and t.map and start < t.map[0] < end]
            events.append(ev)
    events.sort(key=lambda e: e.start)
    # Lines no token covers (link reference definitions) still belong to the text.
    covered = [False] * len(lines)
    for ev in events:
        for k in range(ev.start, min(ev.end, len(lines))):
            covered[k] = True
    orphan_start = None
    for k in range(len(lines) + 1):
        loose = k < len(lines) and not covered[k] and lines[k].strip() != ""
        if loose and orphan_start is None:
            orphan_start = k
        elif not loose and orphan_start is not None:
            events.append(_Event("block", orphan_start, k, tag="reference"))
            orphan_start = None
    events.sort(key=lambda e: e.start)
    return events


# ---------------------------------------------------------------- assembly


@dataclass
class _Draft:
    start: int
    level: int
    marker: _Marker | None
    heading: _Event | None
    blocks: list[_Event] = field(default_factory=list)
    end: int = 0
    id: str = ""
    parent: int | None = None
    part: int = 0  # >0 for pieces split off an oversized section


def parse_document(
    text: str,
    *,
    path: str | None = None,
    doc_id: str | None = None,
    max_node_tokens: int | None = DEFAULT_MAX_NODE_TOKENS,
    metadata: bool = True,
) -> Document:
    """Parse `.og` or plain `.md` text into a Document (see the module docstring)."""
    if max_node_tokens is not None and max_node_tokens < 16:
        raise ValueError("max_node_tokens must be at least 16 (or None to never split)")
    lines = split_lines(text)
    ctx = _Ctx(path, lines)
    events = _events(lines)

    manifest: dict[str, _Block] = {}
    drafts: list[_Draft] = []
    layout: list[tuple[str, int, object]] = []  # (kind, start line, payload)
    pending: _Marker | None = None
    current: _Draft | None = None
    seen_heading = False
    for ev in events:
        if ev.kind == "og":
            block = _read_block(ctx, ev.start, ev.end)
            if pending is not None:
                raise ctx.error("og:node marker is not followed by content", pending.block.start + 1, 1,
                                "put the heading or text of the node right after its marker")
            if block.kind == "node":
                pending = _read_marker(ctx, block)
                layout.append(("marker", ev.start, pending))
            else:
                if block.kind in manifest:
                    raise ctx.error(f"second og:{block.kind} block", ev.start + 1, 1,
                                    f"a document has at most one og:{block.kind}; merge them")
                manifest[block.kind] = block
                layout.append((block.kind, ev.start, block))
                current = None
            continue
        if ev.kind == "heading":
            seen_heading = True
            current = _Draft(ev.start, ev.level, pending, ev)
        elif pending is not None:
            level = 7 if seen_heading or drafts else 0
            current = _Draft(ev.start, level, pending, None, [ev])
        elif current is None:
            if drafts:
                raise ctx.error("text after an og: manifest block must start with a heading or og:node marker",
                                ev.start + 1, 1, "move og:meta / og:index / og:changelog above the first node")
            current = _Draft(ev.start, 0, None, None, [ev])
        else:
            current.blocks.append(ev)
            continue
        pending = None
        drafts.append(current)
        layout.append(("node", ev.start, current))
    if pending is not None:
        raise ctx.error("og:node marker is not followed by content", pending.block.start + 1, 1,
                        "put the heading or text of the node right after its marker")

    starts = sorted(s for _, s, _ in layout) + [len(lines)]
    next_start = {s: starts[i + 1] for i, s in enumerate(starts[:-1])}
    for draft in drafts:
        draft.end = next_start[draft.start]

    if max_node_tokens is not None:
        drafts, layout = _split_oversized(drafts, layout, lines, max_node_tokens)

    meta = _read_meta(ctx, manifest.get("meta"))
    doc_id = meta.get("id") or doc_id or (slugify(Path(path).stem) if path else "document")
    _check_id(ctx, doc_id, 1, 1, "document id")
    _assign_ids(ctx, drafts)
    _link_parents(drafts)

    first_h1 = next((d.heading.title for d in drafts if d.heading and d.heading.level == 1), None)
    title = meta.get("title") or first_h1 or _front_matter_name(lines) or (Path(path).stem if path else doc_id)
    version = meta.get("version", "1.0")
    scope = meta.get("scope", "public")
    nodes = [_build_node(ctx, d, drafts, lines, doc_id, title, version, scope) for d in drafts]
    doc = Document(id=doc_id, title=title, version=version, scope=scope, path=path, nodes=nodes,
                   changelog=_read_changelog(ctx, manifest.get("changelog")))
    if "index" in manifest:
        doc = _apply_index(ctx, doc, manifest["index"])
    if metadata:
        from tools.objectgraph.metadata import fill_metadata

        doc = fill_metadata(doc)
    return doc.model_copy(update={"layout": _layout(doc, layout, lines)})


def load_path(
    path: str | Path,
    *,
    doc_id: str | None = None,
    max_node_tokens: int | None = DEFAULT_MAX_NODE_TOKENS,
    metadata: bool = True,
) -> Document:
    """Read a `.og`/`.md` file as UTF-8 (newlines kept as written) and parse it."""
    p = Path(path)
    with p.open(encoding="utf-8", newline="") as fh:
        text = fh.read()
    return parse_document(text, path=str(p), doc_id=doc_id, max_node_tokens=max_node_tokens, metadata=metadata)


def _front_matter_name(lines: list[str]) -> str | None:
    front = _front_matter(lines)
    if not front:
        return None
    for line in lines[front[0] + 1 : front[1] - 1]:
        key, _, value = line.partition(":")
        if key.strip() in ("title", "name") and value.strip():
            return value.strip().strip("\"'")
    return None


def _split_oversized(
    drafts: list[_Draft], layout: list[tuple[str, int, object]], lines: list[str], limit: int
) -> tuple[list[_Draft], list[tuple[str, int, object]]]:
    """Split unmarked sections above `limit` tokens at block (and list item) boundaries."""
    extra: dict[int, list[_Draft]] = {}
    for draft in drafts:
        if draft.marker is not None:
            continue
        text = "".join(lines[draft.start : draft.end])
        if count_tokens(text) <= limit:
            continue
        cuts = sorted({b.start for b in draft.blocks} | {s for b in draft.blocks for s in b.splits})
        cuts = [c for c in cuts if draft.start < c < draft.end]
        bounds = [draft.start, *cuts, draft.end]
        pieces: list[tuple[int, int]] = []
        chunk_start, chunk_tokens = bounds[0], 0
        for a, b in zip(bounds, bounds[1:]):
            size = count_tokens("".join(lines[a:b]))
            if chunk_tokens and chunk_tokens + size > limit:
                pieces.append((chunk_start, a))
                chunk_start, chunk_tokens = a, 0
            chunk_tokens += size
        pieces.append((chunk_start, draft.end))
        if len(pieces) == 1:
            continue
        draft.end = pieces[0][1]
        parts = []
        for k, (a, b) in enumerate(pieces[1:], start=2):
            blocks = [e for e in draft.blocks if a <= e.start < b]
            parts.append(_Draft(a, 7, None, None, blocks, end=b, part=k))
        draft.blocks = [e for e in draft.blocks if e.start < draft.end]
        extra[id(draft)] = parts
    if not extra:
        return drafts, layout
    new_drafts: list[_Draft] = []
    new_layout: list[tuple[str, int, object]] = []
    for kind, start, payload in layout:
        new_layout.append((kind, start, payload))
        if kind == "node":
            new_drafts.append(payload)  # type: ignore[arg-type]
            for part in extra.get(id(payload), []):
                new_drafts.append(part)
                new_layout.append(("node", part.start, part))
    return new_drafts, new_layout


def _assign_ids(ctx: _Ctx, drafts: list[_Draft]) -> None:
    used: set[str] = set()
    for d in drafts:
        if d.marker is not None:
            if d.marker.id in used:
                raise ctx.error(f"duplicate node id {d.marker.id!r}", d.marker.block.start + 1, 1,
                                "node ids must be unique within a document")
            used.add(d.marker.id)
            d.id = d.marker.id

    def claim(candidate: str) -> str:
        base, n = candidate, 2
        while candidate in used:
            candidate = f"{base}-{n}"
            n += 1
        used.add(candidate)
        return candidate

    stack: list[_Draft] = []
    last_section: _Draft | None = None
    for d in drafts:
        if d.heading is not None:
            while stack and stack[-1].level >= d.level:
                stack.pop()
        if d.marker is None:
            if d.part:
                d.id = claim(f"{last_section.id if last_section else 'section'}-part-{d.part}")
            elif d.heading is None:
                d.id = claim("preamble")
            else:
                slug = slugify(d.heading.title)
                if slug in used and stack:
                    slug = f"{stack[-1].id}-{slug}"
                d.id = claim(slug)
        if d.heading is not None:
            stack.append(d)
        if not d.part:
            last_section = d


def _link_parents(drafts: list[_Draft]) -> None:
    stack: list[tuple[int, _Draft]] = []
    section: int | None = None
    for idx, d in enumerate(drafts):
        if d.part:
            d.parent = section
            continue
        section = idx
        if d.heading is not None:
            while stack and stack[-1][1].level >= d.level:
                stack.pop()
            d.parent = stack[-1][0] if stack else None
            stack.append((idx, d))
        elif d.level == 7:
            d.parent = stack[-1][0] if stack else (0 if idx and drafts[0].level == 0 else None)


def _infer(draft: _Draft, heading_title: str) -> tuple[str, list[str]]:
    tags: list[str] = []
    tag_of = {"fence": "code", "code_block": "code", "ordered_list": "steps", "bullet_list": "list",
              "table": "table", "blockquote": "quote", "front_matter": "front-matter"}
    for b in draft.blocks:
        tag = tag_of.get(b.tag)
        if tag and tag not in tags:
            tags.append(tag)
    if _WARNING_RE.search(heading_title):
        tags.append("warning")
    body = [b for b in draft.blocks if b.tag not in ("hr", "reference")]
    if draft.level == 0 and draft.heading is None:
        typ = "overview"
    elif "warning" in tags:
        typ = "warning"
    elif body and all(b.tag in ("fence", "code_block") for b in body):
        typ = "code"
    elif _EXAMPLE_RE.search(heading_title):
        typ = "example"
    elif "steps" in tags and (_STEPS_RE.search(heading_title) or len(body) <= 3):
        typ = "steps"
    elif body and all(b.tag == "table" for b in body):
        typ = "reference"
    else:
        typ = "concept"
    return typ, tags


def _first_words(text: str, limit: int = 80) -> str:
    for line in text.splitlines():
        plain = re.sub(r"[`*_>#\[\]()|]+", " ", line)
        plain = re.sub(r"^\s*(?:[-+]|\d+[.)])\s+", "", plain)
        plain = re.sub(r"\s+", " ", plain).strip(" -:")
        if len(plain) >= 3 and not set(plain) <= set("-=~"):
            return plain if len(plain) <= limit else plain[:limit].rsplit(" ", 1)[0] + "…"
    return "(untitled)"


def _build_node(
    ctx: _Ctx, d: _Draft, drafts: list[_Draft], lines: list[str], doc_id: str, doc_title: str,
    version: str, scope: str,
) -> Node:
    full = "".join(lines[d.start : d.end])
    parent = drafts[d.parent] if d.parent is not None else None
    if d.heading is not None:
        title = d.heading.title or "(untitled)"
    elif d.part:
        title = f"{parent.heading.title if parent and parent.heading else doc_title} (part {d.part})"
    elif d.level == 0:
        title = doc_title
    else:
        title = _first_words(full)
    typ, tags = _infer(d, d.heading.title if d.heading else "")
    confidence = 1.0
    scopes = [scope]
    node_version = version
    assertion = None
    edges: list[Edge] = []
    m = d.marker
    if m is not None:
        attrs, cols, line = m.attrs, m.block.head.columns, m.block.head.line
        title = attrs.get("title", title)
        typ = attrs.get("type", typ)
        node_version = attrs.get("version", version)
        if "scopes" in attrs:
            scopes = _split_list(attrs["scopes"])
            for s in scopes:
                _check_id(ctx, s, line, cols["scopes"], "scope")
            if not scopes:
                raise ctx.error("empty scopes", line, cols["scopes"], "name at least one scope")
        if "tags" in attrs:
            tags = _split_list(attrs["tags"])
        if "confidence" in attrs:
            try:
                confidence = float(attrs["confidence"])
            except ValueError:
                confidence = -1.0
            if not 0.0 <= confidence <= 1.0:
                raise ctx.error("confidence must be a number in [0, 1]", line, cols["confidence"], "e.g. 0.8")
        edges = m.edges
        if typ == "assertion":
            retries = attrs.get("retries", "0")
            if not retries.isdigit():
                raise ctx.error("retries must be a whole number", line, cols.get("retries", 1), "e.g. retries=2")
            escalate = attrs.get("escalate")
            if escalate is not None and not escalate.startswith("role:"):
                try:
                    parse_ref(escalate, doc_id)
                except ValueError:
                    raise ctx.error(f"invalid escalation target {escalate!r}", line, cols["escalate"],
                                    "use a node id, doc-id#node-id or role:<name>")
            assertion = Assertion(checks=m.checks, retries=int(retries), escalate_to=escalate)
    last = d.end
    while last > d.start + 1 and not lines[last - 1].strip():
        last -= 1
    return Node(
        id=d.id, doc=doc_id, type=typ, title=title, heading=d.heading.inline if d.heading else None,
        level=d.level, scopes=scopes, confidence=confidence, version=node_version, tags=tags, edges=edges,
        parent=drafts[d.parent].id if d.parent is not None else None,
        children=[c.id for c in drafts if c.parent is not None and drafts[c.parent] is d],
        assertion=assertion, declared=m is not None, full=full, line_start=d.start + 1, line_end=max(last, d.start + 1),
    )


def _read_meta(ctx: _Ctx, block: _Block | None) -> dict[str, str]:
    if block is None:
        return {}
    attrs = block.head
    for line_no, text in block.body:
        more = _parse_attrs(ctx, text, line_no, 1)
        for key, value in more.values.items():
            if key in attrs.values:
                raise ctx.error(f"attribute {key!r} given twice", line_no, more.columns[key], "keep one of them")
            attrs.values[key] = value
            attrs.columns[key] = more.columns[key]
    _check_keys(ctx, attrs, ("id", "title", "version", "scope"), "og:meta")
    if "id" in attrs.values:
        _check_id(ctx, attrs.values["id"], attrs.line, attrs.columns["id"], "document id")
    if "scope" in attrs.values:
        _check_id(ctx, attrs.values["scope"], attrs.line, attrs.columns["scope"], "scope")
    return attrs.values


def _read_changelog(ctx: _Ctx, block: _Block | None) -> list[ChangelogEntry]:
    if block is None:
        return []
    if block.head.values:
        raise ctx.error("og:changelog takes no attributes on its first line", block.start + 1, 1,
                        "write one release per line below it")
    entries = []
    for line_no, text in block.body:
        if not text.strip():
            continue
        attrs = _parse_attrs(ctx, text, line_no, 1)
        _check_keys(ctx, attrs, ("version", "date", "changed", "summary"), "og:changelog")
        for key in ("version", "date"):
            if key not in attrs.values:
                raise ctx.error(f"changelog entry needs {key}=", line_no, 1,
                                "write version=1.1 date=2026-01-31 changed=a,b summary=\"...\"")
        try:
            date = dt.date.fromisoformat(attrs.values["date"])
        except ValueError:
            raise ctx.error("date must be YYYY-MM-DD", line_no, attrs.columns["date"], "e.g. date=2026-11-01")
        changed = _split_list(attrs.values.get("changed", ""))
        for node_id in changed:
            _check_id(ctx, node_id, line_no, attrs.columns["changed"], "node id")
        entries.append(ChangelogEntry(version=attrs.values["version"], date=date, changed=changed,
                                      summary=attrs.values.get("summary", "")))
    return entries


def _apply_index(ctx: _Ctx, doc: Document, block: _Block) -> Document:
    if block.head.values:
        raise ctx.error("og:index takes no attributes on its first line", block.start + 1, 1,
                        "write one node per line below it")
    nodes = doc.node_map()
    updates: dict[str, dict[str, object]] = {}
    for line_no, text in block.body:
        if not text.strip():
            continue
        node_id, _, rest = text.strip().partition(" ")
        col = len(text) - len(text.lstrip()) + 1
        node = nodes.get(node_id)
        if node is None:
            raise ctx.error(f"og:index names unknown node {node_id!r}", line_no, col,
                            "every index line starts with the id of a node in this document")
        if node_id in updates:
            raise ctx.error(f"node {node_id!r} is indexed twice", line_no, col, "keep one line per node")
        attrs = _parse_attrs(ctx, rest, line_no, col + len(node_id) + 1)
        _check_keys(ctx, attrs, ("title", "scopes", "keywords", "dense"), "og:index")
        if "title" in attrs.values and attrs.values["title"] != node.title:
            raise ctx.error(f"index title differs from node title {node.title!r}", line_no,
                            attrs.columns["title"], "fix or drop title= in the index line")
        if "scopes" in attrs.values and _split_list(attrs.values["scopes"]) != node.scopes:
            raise ctx.error(f"index scopes differ from the node's scopes {','.join(node.scopes)}", line_no,
                            attrs.columns["scopes"], "scopes are set on the og:node marker; fix or drop them here")
        updates[node_id] = {"keywords": _split_list(attrs.values.get("keywords", "")),
                            "dense": attrs.values.get("dense", ""), "derived_metadata": False}
    new_nodes = [n.model_copy(update=updates[n.id]) if n.id in updates else n for n in doc.nodes]
    return doc.model_copy(update={"nodes": new_nodes})


def _layout(doc: Document, layout: list[tuple[str, int, object]], lines: list[str]) -> list[Segment]:
    segments: list[Segment] = []
    first = min((s for _, s, _ in layout), default=len(lines))
    if first > 0:
        segments.append(Segment(kind="space", raw="".join(lines[:first])))
    nodes = doc.node_map()
    starts = sorted(s for _, s, _ in layout) + [len(lines)]
    next_start = {s: starts[i + 1] for i, s in enumerate(starts[:-1])}
    for kind, start, payload in layout:
        if kind == "node":
            segments.append(Segment(kind="node", node_id=payload.id))  # type: ignore[attr-defined]
            continue
        block: _Block = payload.block if kind == "marker" else payload  # type: ignore[attr-defined,assignment]
        raw = "".join(lines[block.start : block.end])
        trailing = "".join(lines[block.end : next_start[start]])
        if kind == "marker":
            node_id = payload.id  # type: ignore[attr-defined]
            fingerprint = render_marker(nodes[node_id], doc)
        else:
            node_id = None
            fingerprint = {"meta": render_meta, "index": render_index, "changelog": render_changelog}[kind](doc)
        segments.append(Segment(kind=kind, node_id=node_id, raw=raw, trailing=trailing,  # type: ignore[arg-type]
                                fingerprint=fingerprint))
    return segments
