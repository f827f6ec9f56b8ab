"""A self-contained HTML report of a SafetyReport: tables with intervals and embedded PNG plots."""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ogmux.evaluators.radsafe.aggregate import CellMetrics, Comparison
from ogmux.evaluators.radsafe.evaluate import SafetyReport
from ogmux.evaluators.radsafe.item_scores import score_items
from ogmux.evaluators.radsafe.presets import get_preset
from ogmux.evaluators.radsafe.stats import risk_coverage
from ogmux.evaluators.radsafe.table import ScoreTable
from ogmux.text import plural

__all__ = ["TOP_COMPARISONS", "render_html"]

ALPHA = 0.05  # significance level of the Holm-adjusted comparisons
TOP_COMPARISONS = 10  # significant comparisons listed by default
WORST_SHOWN = 5  # worst questions in the summary
# (key, label, whether a high value is the bad end): the summary's headline metrics
HEADLINE = (
    ("accuracy_greedy", "Accuracy (greedy)", False),
    ("high_risk_rate", "High-risk error", True),
    ("unsafe_rate", "Unsafe answer", True),
    ("dangerous_overconfidence_rate", "Dangerous overconfidence", True),
)

TABLE_METRICS = (
    ("accuracy_greedy", "Accuracy (greedy)"),
    ("accuracy_majority", "Accuracy (majority)"),
    ("high_risk_rate", "High-risk error"),
    ("unsafe_rate", "Unsafe answer"),
    ("contradiction_rate", "Contradiction"),
    ("dangerous_overconfidence_rate", "Dangerous overconfidence"),
    ("null_rate_greedy", "Null (greedy)"),
    ("mean_confidence", "Mean confidence"),
    ("ece", "ECE"),
    ("brier", "Brier"),
)


def _png(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _metric_table(report: SafetyReport) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in TABLE_METRICS)
    rows = []
    for model, conds in report.models.items():
        for cond, cell in conds.items():
            tds = []
            for key, _ in TABLE_METRICS:
                ci = cell.ci.get(key)
                interval = f"<br><small>[{_fmt(ci.lo)}, {_fmt(ci.hi)}]</small>" if ci and ci.lo is not None else ""
                tds.append(f"<td>{_fmt(getattr(cell, key))}{interval}</td>")
            rows.append(f"<tr><td>{html.escape(model)}</td><td>{html.escape(cond)}</td><td>{cell.n}</td>{''.join(tds)}</tr>")
    return f'<table class="metrics"><tr><th>Model</th><th>Condition</th><th>n</th>{head}</tr>{"".join(rows)}</table>'


def _bars(report: SafetyReport) -> str:
    keys = [("accuracy_greedy", "Accuracy"), ("high_risk_rate", "High-risk error"), ("dangerous_overconfidence_rate", "Dangerous overconfidence")]
    models = list(report.models)
    conds = report.conditions
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    width = 0.8 / max(1, len(models))
    for ax, (key, label) in zip(axes, keys, strict=True):
        for i, m in enumerate(models):
            vals, lo, hi = [], [], []
            for c in conds:
                cell = report.models[m].get(c)
                v = getattr(cell, key) if cell else None
                ci = cell.ci.get(key) if cell else None
                vals.append(np.nan if v is None else v)
                lo.append(0 if v is None or ci is None or ci.lo is None else max(0, v - ci.lo))
                hi.append(0 if v is None or ci is None or ci.hi is None else max(0, ci.hi - v))
            ax.bar(np.arange(len(conds)) + i * width, vals, width, yerr=[lo, hi], capsize=2, label=m)
        ax.set_xticks(np.arange(len(conds)) + 0.4 - width / 2, conds, rotation=30, ha="right")
        ax.set_title(label)
        ax.set_ylim(0, 1)
    if len(models) <= 12:
        axes[0].legend(fontsize=7)
    return _png(fig)


def _curves(table: ScoreTable, report: SafetyReport) -> tuple[str, str]:
    s = score_items(table, get_preset(report.preset))
    y = s.correct_confident
    cov, risk, _ = risk_coverage(s.confidence, ~y, s.mask_confidence)
    M, C = len(table.models), len(table.conditions)
    cov, risk = cov.reshape(M, C, -1), risk.reshape(M, C, -1)
    cols = min(4, max(1, C))
    rows = -(-C // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for c, cond in enumerate(table.conditions):
        ax = axes[c // cols][c % cols]
        for m, model in enumerate(table.models):
            ok = ~np.isnan(risk[m, c])
            if ok.any():
                ax.plot(cov[m, c][ok], risk[m, c][ok], label=model, lw=1)
        ax.set_title(cond)
        ax.set_xlabel("coverage")
        ax.set_ylabel("risk (error rate)")
        ax.set_xlim(0, 1)
    for k in range(C, rows * cols):
        axes[k // cols][k % cols].axis("off")
    if M <= 12 and axes[0][0].get_lines():
        axes[0][0].legend(fontsize=7)
    rc = _png(fig)
    fig, ax = plt.subplots(figsize=(5, 5))
    edges = np.linspace(0, 1, 11)
    for c, cond in enumerate(table.conditions):
        conf = s.confidence[:, c][s.mask_confidence[:, c]]
        corr = y[:, c][s.mask_confidence[:, c]]
        idx = np.clip(np.floor(conf * 10), 0, 9)
        xs = [conf[idx == b].mean() for b in range(10) if (idx == b).any()]
        ys = [corr[idx == b].mean() for b in range(10) if (idx == b).any()]
        ax.plot(xs, ys, marker="o", label=cond)
    ax.plot(edges, edges, "k--", lw=0.8)
    ax.set_xlabel("confidence (1 - normalised entropy)")
    ax.set_ylabel("accuracy of the majority answer")
    ax.set_title("Reliability")
    if len(ax.get_lines()) > 1:
        ax.legend(fontsize=7)
    return rc, _png(fig)


def _heatmap(report: SafetyReport, top: int = 30) -> str:
    if report.worst_case is None:
        return ""
    by = {(r.item_id, r.condition): r for r in report.per_question}
    totals: dict[str, int] = {}
    for r in report.per_question:
        totals[r.item_id] = totals.get(r.item_id, 0) + r.n_high_risk * 1000 + r.n_wrong
    ids = sorted(totals, key=lambda q: -totals[q])[:top]
    data = np.array([[by[(q, c)].wrong_rate if by[(q, c)].wrong_rate is not None else np.nan for c in report.conditions] for q in ids])
    fig, ax = plt.subplots(figsize=(1.2 * len(report.conditions) + 2, 0.25 * len(ids) + 1.5))
    im = ax.imshow(data, aspect="auto", cmap="Reds", vmin=0, vmax=1)
    ax.set_xticks(range(len(report.conditions)), report.conditions, rotation=30, ha="right")
    ax.set_yticks(range(len(ids)), ids, fontsize=7)
    ax.set_title("Worst questions: share of models wrong")
    fig.colorbar(im, ax=ax)
    return _png(fig)


def _cofailure(report: SafetyReport) -> str:
    if not report.ensembles:
        return "<p>No ensemble (fewer than two models).</p>"
    e = report.ensembles[0]
    mats = [np.array(x.co_failure, float) for x in report.ensembles if x.members == e.members]
    mat = np.nanmean(mats, 0)
    fig, ax = plt.subplots(figsize=(0.5 * len(e.members) + 3, 0.5 * len(e.members) + 2.5))
    im = ax.imshow(mat, cmap="Purples", vmin=0)
    ax.set_xticks(range(len(e.members)), e.members, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(e.members)), e.members, fontsize=7)
    ax.set_title("Co-failure: both wrong (mean over conditions)")
    fig.colorbar(im, ax=ax)
    return _png(fig)


def _ensemble_table(report: SafetyReport) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(e.name)}</td><td>{html.escape(e.condition)}</td><td>{e.n}</td><td>{_fmt(e.accuracy)} "
        f"<small>[{_fmt(e.accuracy_wilson[0])}, {_fmt(e.accuracy_wilson[1])}]</small></td><td>{_fmt(e.high_risk_rate)}</td>"
        f"<td>{_fmt(e.dangerous_overconfidence_rate)}</td><td>{_fmt(e.synchronized_failure_rate)}</td>"
        f"<td>{_fmt(e.synchronized_high_risk_rate)}</td><td>{_fmt(e.self_consistency_accuracy)}</td></tr>"
        for e in report.ensembles
    )
    return ("<table><tr><th>Ensemble</th><th>Condition</th><th>n</th><th>Accuracy [Wilson]</th><th>High-risk</th>"
            "<th>Dangerous overconf.</th><th>Synchronized failure</th><th>Synchronized high-risk</th>"
            f"<th>Self-consistency acc.</th></tr>{rows}</table>")


def _exclusions(report: SafetyReport, limit: int = 500) -> str:
    if not report.exclusions.counts:
        return "<p>No exclusions: every response was scored.</p>"
    counts = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in sorted(report.exclusions.counts.items()))
    ex = "".join(
        f"<tr><td>{html.escape(e.kind)}</td><td>{html.escape(e.model or '')}</td><td>{html.escape(e.condition or '')}</td>"
        f"<td>{html.escape(e.item_id or '')}</td><td>{html.escape(e.detail)}</td></tr>"
        for e in report.exclusions.items[:limit]
    )
    more = len(report.exclusions.items) - limit
    if more > 0:
        ex += f'<tr><td colspan="5">… and {more} more (all listed in the JSON summary)</td></tr>'

    return (f"<table><tr><th>Kind</th><th>Count</th></tr>{counts}</table>"
            f"<table><tr><th>Kind</th><th>Model</th><th>Condition</th><th>Item</th><th>Detail</th></tr>{ex}</table>")


def _variance(report: SafetyReport) -> str:
    rows = "".join(
        f"<tr><td>{v.metric}</td><td>{v.factor}</td><td>{v.n_cells}</td><td>{_fmt(v.factor_share)}</td>"
        f"<td>{_fmt(v.condition_share)}</td><td>{_fmt(v.interaction_share)}</td><td>{_fmt(v.residual_share)}</td></tr>"
        for v in report.variance
    )
    return ("<p>Share of each metric's variation across cells explained by the grouping (model or model family), "
            "by the condition, by their interaction, and left over.</p>"
            "<table><tr><th>Metric</th><th>Grouping</th><th>Cells</th><th>Grouping share</th><th>Condition share</th>"
            f"<th>Interaction share</th><th>Residual share</th></tr>{rows}</table>")


def _significant(report: SafetyReport) -> list[Comparison]:
    return sorted((c for c in report.comparisons if c.p_mcnemar_holm < ALPHA), key=lambda c: c.p_mcnemar_holm)


def _comparison_rows(comps: list[Comparison]) -> str:
    return "".join(
        f"<tr><td>{c.metric}</td><td>{html.escape(c.model_a)} / {html.escape(c.condition_a)}</td>"
        f"<td>{html.escape(c.model_b)} / {html.escape(c.condition_b)}</td><td>{c.n}</td><td>{_fmt(c.difference)} "
        f"<small>[{_fmt(c.diff_lo)}, {_fmt(c.diff_hi)}]</small></td><td>{c.p_mcnemar:.4g}</td><td>{c.p_mcnemar_holm:.4g}</td>"
        f"<td>{_fmt(c.p_bootstrap_holm)}</td><td>{_fmt(c.mdd)}</td></tr>"
        for c in comps
    )


def _comparisons(report: SafetyReport, show: Literal["significant", "all"]) -> str:
    total = len(report.comparisons)
    if not total:
        return "<p>No paired comparisons (one model and one condition, or comparisons not computed).</p>"
    sig = _significant(report)
    if show == "all":
        shown = sorted(report.comparisons, key=lambda c: c.p_mcnemar_holm)
        note = f"<p>All {total} comparisons, smallest Holm-adjusted McNemar p first; {len(sig)} below {ALPHA}.</p>"
    else:
        shown = sig[:TOP_COMPARISONS]
        more = f" (the {len(shown)} smallest p shown)" if len(sig) > len(shown) else ""
        note = (f"<p>{len(sig)} of {total} comparisons differ at Holm-adjusted McNemar p &lt; {ALPHA}{more}. "
                "Every comparison is in the JSON file written next to this page (<code>comparisons</code>); "
                "<code>ogmux eval report … --comparisons all</code> lists them here.</p>")
        if not shown:
            best = min(report.comparisons, key=lambda c: c.p_mcnemar_holm)
            return note + (f"<p>Smallest adjusted p: {best.p_mcnemar_holm:.3g} ({best.metric}, "
                           f"{html.escape(best.model_a)} / {html.escape(best.condition_a)} vs "
                           f"{html.escape(best.model_b)} / {html.escape(best.condition_b)}).</p>")
    return note + ("<table><tr><th>Metric</th><th>A</th><th>B</th><th>n</th><th>A − B [bootstrap 95%]</th>"
                   "<th>McNemar p</th><th>McNemar p (Holm)</th><th>Bootstrap p (Holm)</th><th>MDD</th></tr>"
                   f"{_comparison_rows(shown)}</table>")


def _interval_text(report: SafetyReport) -> str:
    if not report.bootstrap_replicates:
        return "no intervals (replicates=0)"
    return (f"95% intervals: percentile bootstrap clustered by question, {report.bootstrap_replicates} replicates, "
            f"seed {report.seed}")


def _cells(report: SafetyReport) -> list[tuple[str, str, CellMetrics]]:
    return [(m, c, cell) for m, conds in report.models.items() for c, cell in conds.items()]


def _with_ci(cell: CellMetrics, key: str) -> str:
    ci = cell.ci.get(key)
    interval = f" <small>[{_fmt(ci.lo)}, {_fmt(ci.hi)}]</small>" if ci and ci.lo is not None else ""
    return f"{_fmt(getattr(cell, key))}{interval}"


def _worst(cells: list[tuple[str, str, CellMetrics]], key: str, high_is_bad: bool) -> list[tuple[str, str, CellMetrics]]:
    """The cells at the bad end of `key` (all of them when tied); none when no cell has the outcome at all."""
    values = [getattr(x[2], key) for x in cells if getattr(x[2], key) is not None]
    if not values or (high_is_bad and max(values) == 0):
        return []
    bad = max(values) if high_is_bad else min(values)
    return [x for x in cells if getattr(x[2], key) == bad]


def _pivot(report: SafetyReport, cells: list[tuple[str, str, CellMetrics]], key: str, label: str, high: bool) -> str:
    """One headline metric: a row per model, a column per condition, value and interval; the worst cells shaded."""
    worst = {id(x[2]) for x in _worst(cells, key, high)}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in report.conditions)
    rows = []
    for model, conds in report.models.items():
        tds = "".join(
            "<td>–</td>" if c not in conds
            else f"<td{' class=worst' if id(conds[c]) in worst else ''}>{_with_ci(conds[c], key)}</td>"
            for c in report.conditions
        )
        rows.append(f"<tr><td>{html.escape(model)}</td>{tds}</tr>")
    return (f"<h4>{label}</h4>"
            f'<table class="headline" id="headline-{key}"><tr><th>Model</th>{head}</tr>{"".join(rows)}</table>')


def _headline(report: SafetyReport, cells: list[tuple[str, str, CellMetrics]]) -> str:
    """A pivot per headline metric; a rate that is zero everywhere is only named in the key findings."""
    return "".join(
        _pivot(report, cells, key, label, high)
        for key, label, high in HEADLINE
        if not high or any(getattr(x[2], key) for x in cells)
    )


def _findings(report: SafetyReport, cells: list[tuple[str, str, CellMetrics]]) -> str:
    items = []
    for key, label, high in HEADLINE:
        worst = _worst(cells, key, high)
        if not worst:
            if high and any(getattr(x[2], key) is not None for x in cells):
                items.append(f"{label}: none in any model or condition")
            continue
        m, c, cell = worst[0]
        ties = f" (and {len(worst) - 1} more at this value)" if len(worst) > 1 else ""
        which = "highest" if high else "lowest"
        items.append(f"{label}, {which}: {html.escape(m)} / {html.escape(c)} {_with_ci(cell, key)}{ties}")
    if report.comparisons:
        items.append(f"Paired comparisons: {len(_significant(report))} of {len(report.comparisons)} differ at "
                     f'Holm-adjusted p &lt; {ALPHA} (<a href="#comparisons">details</a>)')
    return "<ul>" + "".join(f"<li>{x}</li>" for x in items) + "</ul>"


def _worst_questions(report: SafetyReport) -> str:
    wc = report.worst_case
    if wc is None or not wc.worst_items:
        return "<p>No questions.</p>"
    totals: dict[str, list[int]] = {}
    subspecialty: dict[str, str] = {}
    for r in report.per_question:
        t = totals.setdefault(r.item_id, [0, 0, 0])
        t[0] += r.n_high_risk
        t[1] += r.n_wrong
        t[2] += r.n_models
        subspecialty[r.item_id] = r.subspecialty or ""
    rows = "".join(
        f"<tr><td>{html.escape(q)}</td><td>{html.escape(subspecialty.get(q, ''))}</td><td>{totals[q][0]}</td>"
        f"<td>{totals[q][1]} of {totals[q][2]}</td></tr>"
        for q in wc.worst_items[:WORST_SHOWN] if q in totals
    )
    return (f"<p>The worst questions ({wc.n_worst} of {wc.n_questions}) hold {_fmt(wc.high_risk_share_in_worst)} of all "
            f"high-risk errors and {_fmt(wc.wrong_share_in_worst)} of all errors "
            '(<a href="#worst">details</a>).</p>'
            "<table><tr><th>Question</th><th>Subspecialty</th><th>High-risk errors</th>"
            f"<th>Wrong answers (of responses)</th></tr>{rows}</table>")


def _exclusion_line(report: SafetyReport) -> str:
    counts = report.exclusions.counts
    if not counts:
        return "<p>None: every response was scored.</p>"
    kinds = ", ".join(f"{html.escape(k)} {v}" for k, v in sorted(counts.items()))
    return f'<p>{plural(sum(counts.values()), "response")} left out or repaired: {kinds} (<a href="#exclusions">list</a>).</p>'


def _summary(report: SafetyReport) -> str:
    cells = _cells(report)
    return (f"<h3>Key findings</h3>{_findings(report, cells)}"
            f"<h3>Headline metrics by model and condition (worst shaded)</h3>{_headline(report, cells)}"
            f"<h3>Worst questions</h3>{_worst_questions(report)}"
            f"<h3>Exclusions</h3>{_exclusion_line(report)}")


_CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fff}
table{border-collapse:collapse;margin:8px 0 20px;font-size:12px}td,th{border:1px solid #bbb;padding:3px 6px;text-align:right}
th{background:#eef}td:first-child,td:nth-child(2){text-align:left}img{max-width:100%}h2{margin-top:32px}
#summary{background:#f7f7fb;border:1px solid #dde;padding:4px 16px 8px;border-radius:6px}
td.worst{background:#fdd}table.headline td:nth-child(2){text-align:right}h4{margin:12px 0 0}nav{font-size:13px;margin:8px 0}nav a{margin-right:10px}small{color:#555}"""

_SECTIONS = (
    ("summary", "Summary"), ("metrics", "All metrics"), ("by-condition", "By condition"),
    ("risk-coverage", "Risk–coverage"), ("reliability", "Reliability"), ("worst", "Worst-case questions"),
    ("ensembles", "Ensembles"), ("variance", "Variance"), ("comparisons", "Paired comparisons"),
    ("exclusions", "Exclusions"),
)


def render_html(report: SafetyReport, table: ScoreTable, comparisons: Literal["significant", "all"] = "significant") -> str:
    """The report page: a summary first, then every table and plot; `table` is the scored run (for curves).

    `comparisons`: list only the paired comparisons significant after Holm (at most TOP_COMPARISONS), or all.
    A JSON summary is embedded.
    """
    rc, rel = _curves(table, report)
    summary = report.model_dump(mode="json", exclude={"per_question", "comparisons", "pairwise"})
    summary_json = json.dumps(summary).replace("</", "<\\/")
    wc = report.worst_case
    worst = (f"<p>The worst questions ({wc.n_worst} of {wc.n_questions}) hold {_fmt(wc.high_risk_share_in_worst)} of all "
             f"high-risk errors; Gini of high-risk errors per question {_fmt(wc.gini_high_risk)}, of errors "
             f"{_fmt(wc.gini_wrong)}.</p>") if wc else ""
    nav = " ".join(f'<a href="#{key}">{label}</a>' for key, label in _SECTIONS)
    shape = f"{plural(len(report.models), 'model')} × {plural(len(report.conditions), 'condition')}"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Safety report: {html.escape(report.run)}</title>
<style>{_CSS}</style></head><body>
<h1>Safety report: {html.escape(report.run)}</h1>
<p>Preset <b>{html.escape(report.preset)}</b>; {shape}; {_interval_text(report)}. Rates are fractions.</p>
<nav>{nav}</nav>
<section id="summary"><h2>Summary</h2>{_summary(report)}</section>
<h2 id="metrics">All metrics per model and condition</h2>{_metric_table(report)}
<h2 id="by-condition">By condition</h2>{_bars(report)}
<h2 id="risk-coverage">Risk–coverage</h2>{rc}
<h2 id="reliability">Reliability diagram</h2>{rel}
<h2 id="worst">Worst-case questions</h2>{worst}{_heatmap(report)}
<h2 id="ensembles">Ensembles</h2>{_ensemble_table(report)}{_cofailure(report)}
<h2 id="variance">Variance decomposition</h2>{_variance(report)}
<h2 id="comparisons">Paired comparisons</h2>{_comparisons(report, comparisons)}
<h2 id="exclusions">Exclusions</h2>{_exclusions(report)}
<script type="application/json" id="summary-data">{summary_json}</script>
</body></html>"""
