"""og:// resources: the documents, a document's index, one node's source, a changelog — scoped to the caller."""

from __future__ import annotations

from urllib.parse import unquote

from ogmux.server.audit import printable
from ogmux.server.context import ToolContext
from ogmux.server.documents import caller_scopes, view_for
from ogmux.server.registry import ResourceSpec
from ogmux.text import plural
from ogmux.tools.objectgraph.access import Scopes
from ogmux.tools.objectgraph.listing import index_row
from ogmux.tools.objectgraph.store import CorpusView
from ogmux.tools.objectgraph.untrusted import fence, flag_lines


def docs(ctx: ToolContext) -> str:
    entries = view_for(ctx).documents(caller_scopes(ctx))
    if not entries:
        return "no documents"
    rows = [f"- {d.id} v{d.version}: {d.title} ({plural(d.nodes, 'node')})" for d in entries]
    warnings = flag_lines([(d.id, "title", d.title) for d in entries])
    return "\n".join([fence("\n".join(rows), "documents"), *warnings])


# A page of a document's index holds index lines up to this many tokens (at least one line), like the
# bounded pages of search_index and the budget of resolve_context: a 4,900-node index was one
# 194,000-token answer.
INDEX_PAGE_TOKENS = 2000
MAX_START = 1_000_000


def _start(start: str) -> int:
    if not start:
        return 0
    if not (start.isascii() and start.isdigit()) or len(start) > 7 or int(start) > MAX_START:
        raise ValueError(
            f"start={printable(start, 40)!r} is not a whole number from 0 to {MAX_START}; use the start= "
            "that a page's last line names"
        )
    return int(start)


def doc(ctx: ToolContext, doc: str, start: str = "") -> str:
    """One page of a document's index: the visible nodes from `start`, up to INDEX_PAGE_TOKENS; the last
    line says how many visible nodes are left out and where the next page starts."""
    first = _start(start)
    listed = view_for(ctx).document_listing(unquote(doc), caller_scopes(ctx))
    entry, total = listed.entry, len(listed)
    if first >= total:
        raise ValueError(f"start={first} is past the end: {entry.id} has {plural(total, 'node')} you can read")
    end = listed.page_end(first, INDEX_PAGE_TOKENS)
    shown = listed.lines(first, end)
    rows = [f"# {entry.title} ({entry.id} v{entry.version}, {plural(entry.nodes, 'node')})", *map(index_row, shown)]
    warnings = flag_lines([(entry.id, "title", entry.title)]) + [w for i in range(first, end) if (w := listed.row_warning(i))]
    parts = [fence("\n".join(rows), f"index {entry.id}@{entry.version}"), *warnings]
    if first or end < total:
        page = f"nodes {first + 1}-{end} of {total} ({INDEX_PAGE_TOKENS}-token pages)"
        rest = total - end
        nxt = f"next page og://doc/{entry.id}?start={end}, or search_index to find sections by topic"
        parts.append(f"{page}; {plural(rest, 'node')} left out: {nxt}" if rest else f"{page}; last page")
    return "\n".join(parts)


def node(ctx: ToolContext, id: str) -> str:
    ref = unquote(id)
    if "#" not in ref and ":" in ref:  # the older 'doc:node' spelling is still read
        ref = ref.replace(":", "#", 1)
    return view_for(ctx).node_source(ref, caller_scopes(ctx))


def node_fragment(ctx: ToolContext, doc: str, node: str) -> str:
    """`og://node/doc#node` as written: the '#' arrives as a URI fragment."""
    return view_for(ctx).node_source(f"{unquote(doc)}#{unquote(node)}", caller_scopes(ctx))


# A completion shows at most 100 values; work stops one value past that (more exist), so a
# completion costs about its answer: a bisection of each document's cached listing.
COMPLETION_WORK = 101


def doc_ids(view: CorpusView, scopes: Scopes, prefix: str) -> list[str]:
    """Ids of the documents `scopes` may read that start with `prefix`."""
    return [d.id for d in view.documents(scopes) if d.id.startswith(prefix)]


def node_ids(view: CorpusView, scopes: Scopes, prefix: str) -> list[str]:
    """Ids ('doc#node') of the nodes `scopes` may read that start with `prefix` ('#' or '%23'), in corpus
    order, at most COMPLETION_WORK."""
    prefix = unquote(prefix)
    doc_part = prefix.split("#", 1)[0]
    docs = [doc_part] if "#" in prefix else doc_ids(view, scopes, doc_part)
    out: list[str] = []
    for doc_id in docs:
        try:
            listed = view.document_listing(doc_id, scopes)
        except LookupError:  # unknown or hidden: nothing to offer
            continue
        out += listed.ids_starting(prefix, COMPLETION_WORK - len(out))
        if len(out) >= COMPLETION_WORK:
            break
    return out


def complete_doc(ctx: ToolContext, param: str, prefix: str) -> list[str]:
    return doc_ids(view_for(ctx), caller_scopes(ctx), prefix)


def complete_node(ctx: ToolContext, param: str, prefix: str) -> list[str]:
    return node_ids(view_for(ctx), caller_scopes(ctx), prefix)


def changelog(ctx: ToolContext, doc: str) -> str:
    name = unquote(doc)
    entries = view_for(ctx).changelog(name, caller_scopes(ctx))
    if not entries:
        return f"no changelog entries for {name}"
    rows = [
        f"- {e['version']} {e['date']}: {', '.join(e['changed']) or '-'}" + (f" — {e['summary']}" if e.get("summary") else "")  # type: ignore[arg-type]
        for e in entries
    ]
    warnings = flag_lines([(f"{name} {e['version']}", "changelog", str(e.get("summary") or "")) for e in entries])
    return "\n".join([fence("\n".join(rows), f"changelog {name}"), *warnings])


RESOURCES = [
    ResourceSpec("og://docs", "og_docs", "The ObjectGraph documents you can read: id, version, title, node count.", docs, "objectgraph"),
    ResourceSpec("og://doc/{doc}{?start}", "og_doc", f"A document's index, {INDEX_PAGE_TOKENS:,} tokens a page: node ids, types, titles, "
                 "dense summaries, edges; the last line names the next page.", doc, "objectgraph", complete=complete_doc),
    ResourceSpec("og://node/{id}", "og_node", "One node's exact Markdown source; id is 'doc#node' ('doc%23node' in a URI).",
                 node, "objectgraph", complete=complete_node),
    ResourceSpec("og://node/{doc}{#node}", "og_node_fragment", "og://node/{id} with the '#' of 'doc#node' unescaped.",
                 node_fragment, "objectgraph", complete=complete_doc),
    ResourceSpec("og://doc/{doc}/changelog", "og_changelog", "A document's changelog entries.", changelog, "objectgraph",
                 complete=complete_doc),
]  # fmt: skip
