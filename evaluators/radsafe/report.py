"""A self-contained HTML report of a SafetyReport: tables with intervals and embedded PNG plots."""

from __future__ import annotations

import base64
import html
import io
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ogmux.evaluators.radsafe.evaluate import SafetyReport
from ogmux.evaluators.radsafe.item_scores import score_items
from ogmux.evaluators.radsafe.presets import get_preset
from ogmux.evaluators.radsafe.stats import risk_coverage
from ogmux.evaluators.radsafe.table import ScoreTable

__all__ = ["render_html"]

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
    return ("<table><tr><th>Metric</th><th>Factor</th><th>Cells</th><th>Factor</th><th>Condition</th>"
            f"<th>Interaction</th><th>Residual</th></tr>{rows}</table>")


def _comparisons(report: SafetyReport, limit: int = 40) -> str:
    sig = sorted(report.comparisons, key=lambda c: c.p_mcnemar_holm)[:limit]
    rows = "".join(
        f"<tr><td>{c.metric}</td><td>{html.escape(c.model_a)} / {html.escape(c.condition_a)}</td>"
        f"<td>{html.escape(c.model_b)} / {html.escape(c.condition_b)}</td><td>{c.n}</td><td>{_fmt(c.difference)} "
        f"<small>[{_fmt(c.diff_lo)}, {_fmt(c.diff_hi)}]</small></td><td>{c.p_mcnemar:.4g}</td><td>{c.p_mcnemar_holm:.4g}</td>"
        f"<td>{_fmt(c.p_bootstrap_holm)}</td><td>{_fmt(c.mdd)}</td></tr>"
        for c in sig
    )
    return ("<table><tr><th>Metric</th><th>A</th><th>B</th><th>n</th><th>A − B [bootstrap 95%]</th><th>McNemar p</th>"
            f"<th>Holm</th><th>bootstrap p (Holm)</th><th>MDD</th></tr>{rows}</table>")


_CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fff}
table{border-collapse:collapse;margin:8px 0 20px;font-size:12px}td,th{border:1px solid #bbb;padding:3px 6px;text-align:right}
th{background:#eef}td:first-child,td:nth-child(2){text-align:left}img{max-width:100%}h2{margin-top:32px}"""


def render_html(report: SafetyReport, table: ScoreTable) -> str:
    """The report page; `table` is the scored run (for curves). A JSON summary is embedded."""
    rc, rel = _curves(table, report)
    summary = report.model_dump(mode="json", exclude={"per_question", "comparisons", "pairwise"})
    summary_json = json.dumps(summary).replace("</", "<\\/")
    wc = report.worst_case
    worst = (f"<p>Worst {wc.n_worst} of {wc.n_questions} questions hold {_fmt(wc.high_risk_share_in_worst)} of all "
             f"high-risk errors; Gini of high-risk errors per question {_fmt(wc.gini_high_risk)}, of errors "
             f"{_fmt(wc.gini_wrong)}.</p>") if wc else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Safety report: {html.escape(report.run)}</title>
<style>{_CSS}</style></head><body>
<h1>Safety report: {html.escape(report.run)}</h1>
<p>Preset <b>{html.escape(report.preset)}</b>; intervals: 95% percentile bootstrap clustered by question,
{report.bootstrap_replicates} replicates, seed {report.seed}. Rates are fractions.</p>
<h2>Metrics per model and condition</h2>{_metric_table(report)}
<h2>By condition</h2>{_bars(report)}
<h2>Risk–coverage</h2>{rc}
<h2>Reliability diagram</h2>{rel}
<h2>Worst-case questions</h2>{worst}{_heatmap(report)}
<h2>Ensembles</h2>{_ensemble_table(report)}{_cofailure(report)}
<h2>Variance decomposition</h2>{_variance(report)}
<h2>Paired comparisons (smallest Holm-adjusted McNemar p first)</h2>{_comparisons(report)}
<h2>Exclusions</h2>{_exclusions(report)}
<script type="application/json" id="summary">{summary_json}</script>
</body></html>"""
