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

import re
import unicodedata
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from markdown_it import MarkdownIt

from ogmux.tools.objectgraph.access import covers, effective_scopes
from ogmux.tools.objectgraph.errors import ObjectGraphSyntaxError
from ogmux.tools.objectgraph.metadata import fill_metadata
from ogmux.tools.objectgraph.model import (
    FORMAT_VERSION,
    MAX_RETRIES,
    Assertion,
    Document,
    Edge,
    Node,
    Segment,
    parse_ref,
)
from ogmux.tools.objectgraph.syntax import (
    OG_BLOCK_START,
    Block,
    Marker,
    SourceContext,
    check_id,
    check_keys,
    check_version,
    parse_attrs,
    read_block,
    read_changelog,
    read_marker,
    read_meta,
    split_list,
)
from ogmux.tools.objectgraph.tokens import count_tokens
from ogmux.tools.objectgraph.writer import render_changelog, render_index, render_marker, render_meta

__all__ = [
    "DEFAULT_MAX_NODE_TOKENS",
    "MAX_NODES",
    "MAX_SCOPE_SETS",
    "MAX_TITLE",
    "decode_source",
    "load_path",
    "parse_document",
    "slugify",
    "split_lines",
]

DEFAULT_MAX_NODE_TOKENS = 400
MAX_SCOPE_SETS = 32
MAX_NODES = 5000
MAX_TITLE = 300  # characters: titles are shown with every search result and listing, outside token budgets
_MAX_INLINE = 500  # longer headings are read without inline parsing (its cost grows faster than their length)
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_BREAK_RE = re.compile(r"\r\n|\r|\n")
_WARNING_RE = re.compile(r"\b(warning|caution|danger|important|never|do not|don't|pitfall)", re.IGNORECASE)
_EXAMPLE_RE = re.compile(r"\bexamples?\b", re.IGNORECASE)
_STEPS_RE = re.compile(
    r"\b(steps?|how to|procedure|workflow|install|setup|set up|quick ?start)\b", re.IGNORECASE
)
_MD = MarkdownIt("commonmark").enable("table").disable("inline")  # block structure only
_INLINE = MarkdownIt("commonmark")
_INLINE_MARKUP = re.compile(r"[\\`*_\[\]<>&!~\r\n]")  # text without these characters parses as itself
_ANCHOR_RE = re.compile(r"\s*\{\s*#([A-Za-z0-9][\w.-]*)[^{}]*\}\s*$")  # Pandoc / MkDocs attribute list


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
    anchor: str = ""  # explicit heading id: `## Title {#anchor}`
    splits: list[int] = field(default_factory=list)  # extra split candidates inside (list items)


def _front_matter(lines: list[str]) -> tuple[int, int] | None:
    i = 0
    while i < len(lines):
        text = lines[i].strip()
        if not text:
            i += 1
        elif OG_BLOCK_START.match(lines[i]):
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


def _title(text: str) -> str:
    """`text` cut to MAX_TITLE characters, the last one an ellipsis."""
    return text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1] + "…"


def _plain(inline_source: str) -> str:
    """Heading text without inline markup (emphasis, code spans and links keep their text)."""
    if not _INLINE_MARKUP.search(inline_source) or len(inline_source) > _MAX_INLINE:
        return re.sub(r"\s+", " ", inline_source).strip()
    tokens = _INLINE.parseInline(inline_source)
    children = tokens[0].children if tokens and tokens[0].children else []
    parts = [c.content if c.content.strip() else " " for c in children if c.type in ("text", "code_inline")]
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
    open_list: _Event | None = None
    for i, tok in enumerate(tokens):
        if tok.type == "list_item_open" and tok.level == 1 and open_list is not None and tok.map:
            if tok.map[0] > open_list.start:
                open_list.splits.append(tok.map[0])
            continue
        if tok.level != 0 or tok.map is None or tok.nesting == -1:
            continue
        start, end = tok.map
        if tok.type == "html_block" and OG_BLOCK_START.match(tok.content):
            events.append(_Event("og", start, end))
        elif tok.type == "heading_open":
            source = tokens[i + 1].content if i + 1 < len(tokens) else ""
            anchor = _ANCHOR_RE.search(source)
            text = source[: anchor.start()] if anchor else source
            events.append(
                _Event(
                    "heading",
                    start,
                    end,
                    level=int(tok.tag[1]),
                    inline=source,
                    title=_plain(text),
                    anchor=anchor.group(1) if anchor else "",
                )
            )
        else:
            ev = _Event("block", start, end, tag=tok.type.removesuffix("_open"))
            open_list = ev if tok.type in ("bullet_list_open", "ordered_list_open") else None
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


_FENCE_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})")


def _fence_closed(lines: list[str], ev: _Event) -> bool:
    """True if the code fence `ev` ends with its closing line (else it runs to the end of the file)."""
    opener = _FENCE_OPEN.match(lines[ev.start])
    if opener is None or ev.end - ev.start < 2:
        return False
    mark = opener.group(1)
    return re.fullmatch(rf" {{0,3}}{mark[0]}{{{len(mark)},}}[ \t]*", lines[ev.end - 1].rstrip("\r\n")) is not None


def _check_swallowed_blocks(ctx: SourceContext, lines: list[str], events: list[_Event]) -> None:
    """Refuse an og: block that front matter, an HTML block, or a code fence when one is left open, turned
    into text.

    Its section would be served as part of the section above, to that section's readers: one
    unclosed ``` (or `<!--`, `<pre>`, or a `---` at the top closed by a thematic break further down)
    would publish the hidden section after it.
    An og: block shown inside a closed fence stays an example, unless some fence runs to the end of
    the file (a fence opened above can be closed by the next section's own fence).
    """
    swallowed = [
        (ev, k)
        for ev in events
        if ev.kind == "block" and ev.tag in ("fence", "html_block", "front_matter")
        for k in range(ev.start + 1, ev.end)
        if OG_BLOCK_START.match(lines[k])
    ]
    if not swallowed:
        return
    open_fence = next((ev for ev in events if ev.kind == "block" and ev.tag == "fence" and not _fence_closed(lines, ev)), None)
    for ev, k in swallowed:
        if ev.tag != "fence" or open_fence is not None:
            what = {"fence": "a code fence", "html_block": "an HTML block", "front_matter": "front matter"}[ev.tag]
            unclosed = f" (the fence on line {open_fence.start + 1} is never closed)" if ev.tag == "fence" and open_fence else ""
            raise ctx.error(
                f"og: block read as text: it is inside {what} that starts on line {ev.start + 1}{unclosed}",
                k + 1,
                1,
                "close that block before the og: block (a fence needs its closing ```, a comment its -->, "
                "front matter its --- before any og:node)",
            )


# ---------------------------------------------------------------- assembly


@dataclass
class _Draft:
    start: int
    level: int
    marker: Marker | None
    heading: _Event | None
    blocks: list[_Event] = field(default_factory=list)
    end: int = 0
    id: str = ""
    parent: int | None = None
    part: int = 0  # >0 for pieces split off an oversized section


_Layout = list[tuple[str, int, object]]  # (segment kind, first line, Block / Marker / _Draft)


def _dangling(ctx: SourceContext, marker: Marker) -> ObjectGraphSyntaxError:
    return ctx.error(
        "og:node marker is not followed by content",
        marker.block.start + 1,
        1,
        "put the heading or text of the node right after its marker",
    )


def _scan(ctx: SourceContext, events: list[_Event]) -> tuple[dict[str, Block], list[_Draft], _Layout]:
    """Group events into manifest blocks and node drafts, in source order."""
    manifest: dict[str, Block] = {}
    drafts: list[_Draft] = []
    layout: _Layout = []
    pending: Marker | None = None
    current: _Draft | None = None
    seen_heading = False
    for ev in events:
        if ev.kind == "og":
            block = read_block(ctx, ev.start, ev.end)
            if pending is not None:
                raise _dangling(ctx, pending)
            if block.kind == "node":
                pending = read_marker(ctx, block)
                layout.append(("marker", ev.start, pending))
            else:
                if drafts:
                    raise ctx.error(
                        f"og:{block.kind} after the first node",
                        ev.start + 1,
                        1,
                        "move og:meta / og:index / og:changelog above the first heading or node",
                    )
                if block.kind in manifest:
                    raise ctx.error(
                        f"second og:{block.kind} block",
                        ev.start + 1,
                        1,
                        f"a document has at most one og:{block.kind}; merge them",
                    )
                manifest[block.kind] = block
                layout.append((block.kind, ev.start, block))
            continue
        if ev.kind == "heading":
            seen_heading = True
            current = _Draft(ev.start, ev.level, pending, ev)
        elif pending is not None:
            level = 7 if seen_heading or drafts else 0
            current = _Draft(ev.start, level, pending, None, [ev])
        elif current is None:
            current = _Draft(ev.start, 0, None, None, [ev])
        else:
            current.blocks.append(ev)
            continue
        pending = None
        drafts.append(current)
        layout.append(("node", ev.start, current))
    if pending is not None:
        raise _dangling(ctx, pending)
    return manifest, drafts, layout


def parse_document(
    text: str,
    *,
    path: str | None = None,
    doc_id: str | None = None,
    max_node_tokens: int | None = DEFAULT_MAX_NODE_TOKENS,
    metadata: bool = True,
    max_attr_chars: int | None = None,
) -> Document:
    """Parse `.og` or plain `.md` text into a Document (see the module docstring)."""
    if max_node_tokens is not None and max_node_tokens < 16:
        raise ValueError("max_node_tokens must be at least 16 (or None to never split)")
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    lines = split_lines(text[len(bom) :])
    ctx = SourceContext(path, lines, max_attr_chars)
    events = _events(lines)
    _check_swallowed_blocks(ctx, lines, events)

    manifest, drafts, layout = _scan(ctx, events)
    if len(drafts) > MAX_NODES:
        raise ctx.error(
            f"more than {MAX_NODES} nodes in one document",
            drafts[MAX_NODES].start + 1,
            1,
            "split the document into several files",
        )
    starts = sorted(s for _, s, _ in layout) + [len(lines)]
    next_start = {s: starts[i + 1] for i, s in enumerate(starts[:-1])}
    for draft in drafts:
        draft.end = next_start[draft.start]

    if max_node_tokens is not None:
        drafts, layout = _split_oversized(drafts, layout, lines, max_node_tokens)

    meta = read_meta(ctx, manifest.get("meta"))
    doc_id = meta.get("id") or doc_id or (slugify(Path(path).stem) if path else "document")
    check_id(ctx, doc_id, 1, 1, "document id")
    version = meta.get("version", "1.0")
    scope = meta.get("scope", "public")
    scopes = [effective_scopes(_declared_scopes(d, scope)) for d in drafts]
    _check_scope_sets(ctx, drafts, scopes)
    _first_levels(drafts, scopes)
    _link_parents(drafts, scopes)
    _assign_ids(ctx, drafts, scopes)

    title = _title(meta.get("title") or _derived_title(drafts, lines, scopes) or (Path(path).stem if path else doc_id))
    children: dict[int, list[str]] = {}
    for d in drafts:
        if d.parent is not None:
            children.setdefault(d.parent, []).append(d.id)
    nodes = [
        _build_node(ctx, d, drafts, children.get(i, []), lines, doc_id, title, version, scope)
        for i, d in enumerate(drafts)
    ]
    doc = Document(
        id=doc_id,
        title=title,
        version=version,
        scope=scope,
        format=meta.get("format", FORMAT_VERSION),
        path=path,
        nodes=nodes,
        changelog=read_changelog(ctx, manifest.get("changelog")),
    )
    if "index" in manifest:
        doc = _apply_index(ctx, doc, manifest["index"])
    if metadata:
        doc = fill_metadata(doc)
    segments = _layout(doc, layout, lines)
    if bom:  # a byte-order mark is kept for the round trip but is not content
        segments.insert(0, Segment(kind="space", raw=bom))
    return doc.model_copy(update={"layout": segments})


def load_path(
    path: str | Path,
    *,
    doc_id: str | None = None,
    max_node_tokens: int | None = DEFAULT_MAX_NODE_TOKENS,
    metadata: bool = True,
    max_attr_chars: int | None = None,
) -> Document:
    """Read a `.og`/`.md` file as UTF-8 (newlines kept as written) and parse it."""
    p = Path(path)
    return parse_document(
        decode_source(p.read_bytes(), str(p)),
        path=str(p),
        doc_id=doc_id,
        max_node_tokens=max_node_tokens,
        metadata=metadata,
        max_attr_chars=max_attr_chars,
    )


def decode_source(data: bytes, path: str | None) -> str:
    """`data` as UTF-8 text; invalid bytes are a located error (line and column as the parser counts them)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8", "replace")
        breaks = list(_BREAK_RE.finditer(before))
        raise ObjectGraphSyntaxError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
            path=path,
            line=len(breaks) + 1,
            column=len(before) - (breaks[-1].end() if breaks else 0) + 1,
            hint="save the file as UTF-8",
        ) from None


def _declared_scopes(d: _Draft, default: str) -> list[str]:
    m = d.marker
    return split_list(m.attrs["scopes"]) if m is not None and "scopes" in m.attrs else [default]


def _derived_title(drafts: list[_Draft], lines: list[str], scopes: list[frozenset[str]]) -> str | None:
    """The first public H1, else the front matter's name when the first node is public.

    The document title is shown with every listing, so it only comes from a node every caller
    may see; taking the first public one keeps it the same whatever other nodes exist.
    """
    h1 = next((i for i, d in enumerate(drafts) if d.heading and d.heading.level == 1 and not scopes[i]), None)
    if h1 is not None:
        return drafts[h1].heading.title  # type: ignore[union-attr]
    if drafts and drafts[0].start == 0 and not scopes[0]:
        return _front_matter_name(lines)
    return None


def _front_matter_name(lines: list[str]) -> str | None:
    front = _front_matter(lines)
    if not front:
        return None
    for line in lines[front[0] + 1 : front[1] - 1]:
        key, _, value = line.partition(":")
        if key.strip() in ("title", "name") and value.strip():
            return value.strip().strip("\"'")
    return None


def _introduces(block: _Event, lines: list[str]) -> bool:
    """A paragraph ending in a colon introduces the block after it (`Run this:` + code), so no cut goes between."""
    return block.tag == "paragraph" and "".join(lines[block.start : block.end]).rstrip().endswith(":")


def _split_oversized(
    drafts: list[_Draft], layout: _Layout, lines: list[str], limit: int
) -> tuple[list[_Draft], _Layout]:
    """Split unmarked sections above `limit` tokens at block (and list item) boundaries."""
    extra: dict[int, list[_Draft]] = {}
    for draft in drafts:
        if draft.marker is not None:
            continue
        text = "".join(lines[draft.start : draft.end])
        if count_tokens(text) <= limit:
            continue
        lead_ins = {b.start for a, b in pairwise(draft.blocks) if _introduces(a, lines)}
        cuts = sorted(
            ({b.start for b in draft.blocks} - lead_ins) | {s for b in draft.blocks for s in b.splits}
        )
        cuts = [c for c in cuts if draft.start < c < draft.end]
        bounds = [draft.start, *cuts, draft.end]
        pieces: list[tuple[int, int]] = []
        chunk_start, chunk_tokens = bounds[0], 0
        for a, b in pairwise(bounds):
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
    new_layout: _Layout = []
    for kind, start, payload in layout:
        new_layout.append((kind, start, payload))
        if kind == "node":
            new_drafts.append(payload)  # type: ignore[arg-type]
            for part in extra.get(id(payload), []):
                new_drafts.append(part)
                new_layout.append(("node", part.start, part))
    return new_drafts, new_layout


# Everything derived from the document's structure (levels, parents, generated ids) is computed for
# a node from the nodes that cover it (that every caller seeing the node may see), in source order.
# Deleting from the file the nodes some caller may not see leaves those the same, so what a caller
# sees never depends on nodes hidden from it.


def _check_scope_sets(ctx: SourceContext, drafts: list[_Draft], scopes: list[frozenset[str]]) -> None:
    """At most MAX_SCOPE_SETS different scope lists per document: derivations cost nodes × scope lists."""
    seen: set[frozenset[str]] = set()
    for d, s in zip(drafts, scopes, strict=True):
        seen.add(s)
        if len(seen) > MAX_SCOPE_SETS:
            line = d.marker.block.start + 1 if d.marker is not None else d.start + 1
            raise ctx.error(
                f"more than {MAX_SCOPE_SETS} different scope lists in one document",
                line,
                1,
                "give nodes that share readers the same scopes, or split the document",
            )


def _first_levels(drafts: list[_Draft], scopes: list[frozenset[str]]) -> None:
    """A headless marked node is the document's opening node (level 0) when no covering node precedes it."""
    seen: set[frozenset[str]] = set()
    for i, d in enumerate(drafts):
        if d.marker is not None and d.heading is None and not d.part:
            d.level = 7 if any(covers(k, scopes[i]) for k in seen) else 0
        seen.add(scopes[i])


def _link_parents(drafts: list[_Draft], scopes: list[frozenset[str]]) -> None:
    """Each node's parent: the nearest earlier covering heading of a lower level (a part's: its section)."""
    kinds = set(scopes)
    stacks: dict[frozenset[str], list[int]] = {k: [] for k in kinds}
    openers: list[int] = []  # level-0 nodes so far (one per scope list at most)
    section: int | None = None
    for i, d in enumerate(drafts):
        if d.part:
            d.parent = section
            continue
        section = i
        if d.heading is not None or d.level == 7:
            stack = stacks[scopes[i]]
            d.parent = next((j for j in reversed(stack) if drafts[j].level < d.level), None)
            if d.parent is None and d.level == 7:  # under the opening node, if its readers see that
                d.parent = next((j for j in openers if covers(scopes[j], scopes[i])), None)
        elif d.level == 0:
            openers.append(i)
        if d.heading is not None:
            for k in kinds:
                if covers(scopes[i], k):
                    stack = stacks[k]
                    while stack and drafts[stack[-1]].level >= d.level:
                        stack.pop()
                    stack.append(i)


def _assign_ids(ctx: SourceContext, drafts: list[_Draft], scopes: list[frozenset[str]]) -> None:
    """Marker ids as written; other ids from headings, made unique among the ids of covering nodes."""
    owner: dict[str, int] = {}
    for i, d in enumerate(drafts):
        if d.marker is not None:
            if d.marker.id in owner:
                raise ctx.error(
                    f"duplicate node id {d.marker.id!r}",
                    d.marker.block.start + 1,
                    1,
                    "node ids must be unique within a document",
                )
            owner[d.marker.id] = i
            d.id = d.marker.id

    def taken(name: str, i: int) -> bool:
        j = owner.get(name)
        return j is not None and (drafts[j].marker is not None or j < i) and covers(scopes[j], scopes[i])

    next_suffix: dict[tuple[str, frozenset[str]], int] = {}  # every lower suffix is taken for these scopes

    def claim(candidate: str, i: int) -> str:
        # Room for a "-N" suffix within the 128-character id limit, whatever the prefix.
        base = candidate[:120].rstrip("-._")
        name, n = base, next_suffix.get((base, scopes[i]), 1)
        if n > 1:
            name = f"{base}-{n}"
        while taken(name, i):
            n += 1
            name = f"{base}-{n}"
        next_suffix[(base, scopes[i])] = n
        j = owner.get(name)
        if j is not None and j != i:
            d, other = drafts[i], drafts[j]
            where = other.marker.block.start + 1 if other.marker is not None else other.start + 1
            raise ctx.error(
                f"the id {name!r} generated for this section is also the id of the node on line {where}, "
                "which other roles see",
                d.start + 1,
                1,
                "give one of them an explicit id: og:node id=... or a heading anchor {#...}",
            )
        owner[name] = i
        return name

    last_section: int | None = None
    for i, d in enumerate(drafts):
        if d.marker is None:
            if d.part:
                prefix = drafts[last_section].id if last_section is not None else "section"
                d.id = claim(f"{prefix}-part-{d.part}", i)
            elif d.heading is None:
                d.id = claim("preamble", i)
            else:
                slug = slugify(d.heading.anchor or d.heading.title)
                if taken(slug, i) and d.parent is not None:
                    slug = f"{drafts[d.parent].id}-{slug}"
                d.id = claim(slug, i)
        if not d.part:
            last_section = i


def _infer(draft: _Draft, heading_title: str) -> tuple[str, list[str]]:
    tags: list[str] = []
    tag_of = {
        "fence": "code",
        "code_block": "code",
        "ordered_list": "steps",
        "bullet_list": "list",
        "table": "table",
        "blockquote": "quote",
        "front_matter": "front-matter",
    }
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
    ctx: SourceContext,
    d: _Draft,
    drafts: list[_Draft],
    children: list[str],
    lines: list[str],
    doc_id: str,
    doc_title: str,
    version: str,
    scope: str,
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
    scopes = _declared_scopes(d, scope)
    node_version = version
    assertion = None
    edges: list[Edge] = []
    m = d.marker
    if m is not None:
        attrs, cols, line = m.attrs, m.block.head.columns, m.block.head.line
        title = attrs.get("title", title)
        typ = attrs.get("type", typ)
        if "version" in attrs:
            node_version = check_version(ctx, attrs["version"], line, cols["version"])
        if "scopes" in attrs:
            for s in scopes:
                check_id(ctx, s, line, cols["scopes"], "scope")
            if not scopes:
                raise ctx.error("empty scopes", line, cols["scopes"], "name at least one scope")
        if "tags" in attrs:
            tags = split_list(attrs["tags"])
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
            if not (retries.isdigit() and int(retries) <= MAX_RETRIES):
                raise ctx.error(
                    f"retries must be a whole number from 0 to {MAX_RETRIES}",
                    line,
                    cols.get("retries", 1),
                    "e.g. retries=2",
                )
            escalate = attrs.get("escalate")
            if escalate is not None:
                try:
                    if escalate.startswith("role:"):
                        check_id(ctx, escalate[5:], line, cols["escalate"], "role")
                    else:
                        parse_ref(escalate, doc_id)
                except ValueError:
                    raise ctx.error(
                        f"invalid escalation target {escalate!r}",
                        line,
                        cols["escalate"],
                        "use a node id, doc-id#node-id or role:<name>",
                    )
            assertion = Assertion(checks=m.checks, retries=int(retries), escalate_to=escalate)
    last = d.end
    while last > d.start + 1 and not lines[last - 1].strip():
        last -= 1
    return Node(
        id=d.id,
        doc=doc_id,
        type=typ,
        title=_title(title),
        heading=d.heading.inline if d.heading else None,
        level=d.level,
        scopes=scopes,
        confidence=confidence,
        version=node_version,
        tags=tags,
        edges=edges,
        parent=drafts[d.parent].id if d.parent is not None else None,
        children=children,
        assertion=assertion,
        declared=m is not None,
        full=full,
        line_start=d.start + 1,
        line_end=max(last, d.start + 1),
    )


def _apply_index(ctx: SourceContext, doc: Document, block: Block) -> Document:
    if block.head.values:
        raise ctx.error(
            "og:index takes no attributes on its first line",
            block.start + 1,
            1,
            "write one node per line below it",
        )
    nodes = doc.node_map()
    updates: dict[str, dict[str, object]] = {}
    for line_no, text in block.body:
        if not text.strip():
            continue
        node_id, _, rest = text.strip().partition(" ")
        col = len(text) - len(text.lstrip()) + 1
        node = nodes.get(node_id)
        if node is None:
            raise ctx.error(
                f"og:index names unknown node {node_id!r}",
                line_no,
                col,
                "every index line starts with the id of a node in this document",
            )
        if node_id in updates:
            raise ctx.error(f"node {node_id!r} is indexed twice", line_no, col, "keep one line per node")
        attrs = parse_attrs(ctx, rest, line_no, col + len(node_id) + 1)
        check_keys(ctx, attrs, ("title", "scopes", "keywords", "dense"), "og:index")
        if "title" in attrs.values and _title(attrs.values["title"]) != node.title:
            raise ctx.error(
                f"index title differs from node title {node.title!r}",
                line_no,
                attrs.columns["title"],
                "fix or drop title= in the index line",
            )
        if "scopes" in attrs.values and split_list(attrs.values["scopes"]) != node.scopes:
            raise ctx.error(
                f"index scopes differ from the node's scopes {','.join(node.scopes)}",
                line_no,
                attrs.columns["scopes"],
                "scopes are set on the og:node marker; fix or drop them here",
            )
        updates[node_id] = {
            "keywords": split_list(attrs.values.get("keywords", "")),
            "dense": attrs.values.get("dense", ""),
            "derived_metadata": False,
        }
    new_nodes = [n.model_copy(update=updates[n.id]) if n.id in updates else n for n in doc.nodes]
    return doc.model_copy(update={"nodes": new_nodes})


def _layout(doc: Document, layout: _Layout, lines: list[str]) -> list[Segment]:
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
        block: Block = payload.block if kind == "marker" else payload  # type: ignore[attr-defined,assignment]
        raw = "".join(lines[block.start : block.end])
        trailing = "".join(lines[block.end : next_start[start]])
        if kind == "marker":
            node_id = payload.id  # type: ignore[attr-defined]
            fingerprint = render_marker(nodes[node_id], doc)
        else:
            node_id = None
            fingerprint = {"meta": render_meta, "index": render_index, "changelog": render_changelog}[kind](
                doc
            )
        segments.append(
            Segment(
                kind=kind,
                node_id=node_id,
                raw=raw,
                trailing=trailing,  # type: ignore[arg-type]
                fingerprint=fingerprint,
            )
        )
    return segments
