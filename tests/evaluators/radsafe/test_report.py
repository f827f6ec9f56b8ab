"""The HTML report renders in headless Chromium; the metrics command writes the documented JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from ogmux.evaluators.radsafe.evaluate import evaluate_table
from ogmux.evaluators.radsafe.radsafe_layout import read_radsafe
from ogmux.evaluators.radsafe.report import TOP_COMPARISONS, render_html
from ogmux.evaluators.radsafe.table import build_table
from ogmux.server.cli import main

from .helpers import item, resp, run_of

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_metrics_json_shape(radsafe_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    assert main(["eval", "metrics", str(radsafe_dir), "--preset", "radsafe-original", "--replicates", "100",
                 "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert {"models", "ensembles", "per_question"} <= set(d)
    cell = d["models"]["toy-large"]["zero_shot"]
    for key in ("n", "accuracy_greedy", "accuracy_majority", "high_risk_rate", "unsafe_rate", "contradiction_rate",
                "high_risk_rate_majority", "unsafe_rate_majority", "contradiction_rate_majority", "mean_confidence",
                "dangerous_overconfidence_rate", "ece"):
        assert key in cell
    rates = [v for k, v in cell.items() if k.endswith("_rate") or k.startswith("accuracy")]
    assert all(0 <= v <= 1 for v in rates)
    assert d["preset"] == "radsafe-original" and d["ensembles"][0]["members"] == ["toy-large", "toy-medium", "toy-small"]


def test_metrics_reports_bad_input_as_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "metrics", str(tmp_path)]) == 1
    assert "no run found" in capsys.readouterr().err


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(radsafe_dir: Path, tmp_path: Path) -> None:
    html_path = tmp_path / "report.html"
    assert main(["eval", "report", str(radsafe_dir), "-o", str(html_path), "--replicates", "100"]) == 0
    page = html_path.read_text()
    assert page.count("<table") >= 4 and page.count("data:image/png;base64,") >= 5
    assert "http://" not in page and "https://" not in page  # self-contained
    summary = json.loads(html_path.with_suffix(".json").read_text())
    assert "toy-small" in summary["models"]
    shot = tmp_path / "shot.png"
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", html_path.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert 'class="metrics"' in dom and "toy-medium" in dom and "Risk–coverage" in dom
    assert dom.index('id="summary"') < dom.index('class="headline"') < dom.index('class="metrics"')
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={shot}",
         "--window-size=1280,2000", html_path.as_uri()],
        capture_output=True, timeout=120, check=True,
    )
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)[..., :3]
    assert img.shape[0] >= 1000
    non_white = (img < 0.95).any(-1).mean()
    assert non_white > 0.05  # text, tables and plots, not a blank page
    assert np.unique((img * 255).astype(int).reshape(-1, 3), axis=0).shape[0] > 50  # colour plots present


def test_metrics_by_run_name_uses_eval_settings(radsafe_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    radsafe_dir.rename(runs / "lanterns")
    cfg = tmp_path / "ogmux.toml"
    cfg.write_text(f'[eval]\nruns_dir = "{runs}"\npreset = "radsafe-original"\nbootstrap_replicates = 100\n')
    out = tmp_path / "m.json"
    assert main(["eval", "metrics", "lanterns", "--config", str(cfg), "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert (d["preset"], d["bootstrap_replicates"], d["run"]) == ("radsafe-original", 100, "lanterns")
    assert main(["eval", "metrics", "ghost", "--config", str(cfg)]) == 1
    assert "no run named 'ghost'" in capsys.readouterr().err


class _Tables(HTMLParser):
    """Every <table> of a page as (class, rows), each row its cells' text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append((dict(attrs).get("class") or "", []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][1][-1].append("".join(self._cell).strip())
            self._cell = None


def _page(run, **kw) -> tuple[str, object]:
    table = build_table(run)
    report = evaluate_table(table, "default", run_name=run.name, **kw)
    return report, table


def test_the_report_opens_with_a_summary_and_every_table_has_distinct_headings(radsafe_dir: Path) -> None:
    report, table = _page(read_radsafe(radsafe_dir), replicates=100)
    page = render_html(report, table)
    summary = page[page.index('<section id="summary">'):page.index("</section>")]
    assert page.index('<section id="summary">') < page.index('id="metrics"')
    parsed = _Tables()
    parsed.feed(summary)
    pivots = [rows for cls, rows in parsed.tables if cls == "headline"]
    assert len(pivots) == 4  # accuracy, high-risk, unsafe and dangerous overconfidence: each happens in this run
    accuracy = pivots[0]
    assert accuracy[0] == ["Model", *report.conditions] and [r[0] for r in accuracy[1:]] == list(report.models)
    for row in accuracy[1:]:
        for cond, text in zip(report.conditions, row[1:], strict=True):
            cell = report.models[row[0]].get(cond)
            if cell is None:
                assert text == "–"
                continue
            ci = cell.ci["accuracy_greedy"]
            assert text == f"{cell.accuracy_greedy:.3f} [{ci.lo:.3f}, {ci.hi:.3f}]"
    worst = next(rows for cls, rows in parsed.tables if rows[0][0] == "Question")
    assert [r[0] for r in worst[1:]] == report.worst_case.worst_items[:5]
    assert "Key findings" in summary and "missing_condition 1" in summary
    everything = _Tables()
    everything.feed(page)
    for _, rows in everything.tables:
        assert len(rows[0]) == len(set(rows[0])), rows[0]


def test_paired_comparisons_are_condensed_to_the_significant_ones(tmp_path: Path) -> None:
    items = [item(str(i), "A", high_risk="B") for i in range(1, 41)]
    responses = [
        resp(m, cond, str(i), "B" if cond == "bad" and i <= 20 else "A", "AAA", truth="A")
        for m in ("m1", "m2", "m3", "m4") for cond in ("good", "bad", "mid") for i in range(1, 41)
    ]
    report, table = _page(run_of(items, responses), replicates=0)
    significant = [c for c in report.comparisons if c.p_mcnemar_holm < 0.05]
    assert len(report.comparisons) == 90 and len(significant) > TOP_COMPARISONS
    page = render_html(report, table)
    section = page[page.index('id="comparisons"'):page.index('id="exclusions"')]
    parsed = _Tables()
    parsed.feed(section)
    [(_, rows)] = parsed.tables
    assert len(rows) - 1 == TOP_COMPARISONS and all("bad" in r[1] + r[2] for r in rows[1:])
    assert f"{len(significant)} of 90 comparisons differ" in section and "--comparisons all" in section
    assert "no intervals (replicates=0)" in page
    full = render_html(report, table, "all")
    parsed = _Tables()
    parsed.feed(full[full.index('id="comparisons"'):full.index('id="exclusions"')])
    assert len(parsed.tables[0][1]) - 1 == 90
