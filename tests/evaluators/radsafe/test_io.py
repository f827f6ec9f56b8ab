"""Import/export: lossless RadSaFE layout, JSONL and CSV round trips, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ogmux.evaluators.radsafe.errors import RadsafeDataError
from ogmux.evaluators.radsafe.evaluate import evaluate
from ogmux.evaluators.radsafe.io import load_run, read_csv, read_jsonl, write_csv, write_jsonl
from ogmux.evaluators.radsafe.radsafe_layout import (
    LABELS_PATH,
    RESULTS_DIR,
    RESULTS_FILE,
    read_radsafe,
    write_radsafe,
)


def _values(root: Path) -> dict[str, object]:
    out: dict[str, object] = {"labels": json.loads((root / LABELS_PATH).read_text())}
    for f in sorted((root / RESULTS_DIR).glob(f"*/{RESULTS_FILE}")):
        out[f.parent.name] = f.read_text()
    return out


def _results(root: Path, model: str) -> Path:
    return root / RESULTS_DIR / model / RESULTS_FILE


def test_radsafe_round_trip_is_lossless(radsafe_dir: Path, tmp_path: Path) -> None:
    # add fields the data model has no place for, a null flag, an int-typed flag and a record without blocks
    labels = json.loads((radsafe_dir / LABELS_PATH).read_text())
    labels[0]["option_1_high_risk"] = None
    labels[0]["reviewer_note"] = {"by": "x", "n": 1.5}
    labels[1]["question_id"] = "2"
    (radsafe_dir / LABELS_PATH).write_text(json.dumps(labels))
    path = _results(radsafe_dir, "toy-large")
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    lines[0]["conditions"]["zero_shot"]["greedy"]["checked_answer"]["guard_override"] = "letter_not_in_raw"
    lines[0]["conditions"]["zero_shot"]["stochastic"]["vote_counts"] = {"A": 3}
    lines[0]["conditions"]["zero_shot"]["stochastic"]["parsed_answers"].pop()  # ragged lists
    lines[1]["conditions"] = {}
    lines[2]["extra_top"] = [1, True]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    run = read_radsafe(radsafe_dir)
    out = write_radsafe(run, tmp_path / "out")
    before, after = _values(radsafe_dir), _values(out)
    assert before["labels"] == after["labels"]
    for model in ("toy-large", "toy-medium", "toy-small"):
        assert [json.loads(x) for x in before[model].splitlines()] == [json.loads(x) for x in after[model].splitlines()]
    # the null flag reads as 0 (as `int(x or 0)` does), the record without blocks still counts as a record
    assert not run.item_map()["1"].options["A"].high_risk


def test_jsonl_and_csv_round_trip_keep_scores(radsafe_dir: Path, tmp_path: Path) -> None:
    run = read_radsafe(radsafe_dir)
    j = read_jsonl(write_jsonl(run, tmp_path / "run.jsonl"))
    assert j == run
    c = read_csv(write_csv(run, tmp_path / "csv"))
    a, b = evaluate(run, replicates=0), evaluate(c, replicates=0)
    assert a.models == b.models
    assert load_run(tmp_path / "csv").name == "csv"


def test_labels_errors_name_item_and_field(radsafe_dir: Path) -> None:
    labels = json.loads((radsafe_dir / LABELS_PATH).read_text())
    labels[3]["answer_idx"] = "E" if "E" not in labels[3]["options"] else "Z"
    (radsafe_dir / LABELS_PATH).write_text(json.dumps(labels))
    with pytest.raises(RadsafeDataError) as e:
        read_radsafe(radsafe_dir)
    assert e.value.item == "4" and e.value.field == "answer_idx"
    assert "item '4'" in str(e.value) and "answer_idx" in str(e.value)


def test_duplicate_ids_are_errors(radsafe_dir: Path) -> None:
    labels = json.loads((radsafe_dir / LABELS_PATH).read_text())
    (radsafe_dir / LABELS_PATH).write_text(json.dumps(labels + [labels[0]]))
    with pytest.raises(RadsafeDataError, match="duplicate question_id in the labels"):
        read_radsafe(radsafe_dir)
    (radsafe_dir / LABELS_PATH).write_text(json.dumps(labels))
    path = _results(radsafe_dir, "toy-small")
    first = path.read_text().splitlines()[0]
    path.write_text(path.read_text() + first + "\n")
    with pytest.raises(RadsafeDataError, match=r"toy-small.*jsonl:25.*duplicate question_id") as e:
        read_radsafe(radsafe_dir)
    assert e.value.field == "question_id"


def test_truncated_file_is_a_reported_exclusion_and_round_trips(radsafe_dir: Path, tmp_path: Path) -> None:
    path = _results(radsafe_dir, "toy-medium")
    text = path.read_text()
    path.write_text(text[: len(text) - 500])  # cut inside the last record
    run = read_radsafe(radsafe_dir)
    kinds = [e.kind for e in run.exclusions]
    assert kinds.count("truncated_line") == 1
    report = evaluate(run, replicates=0)
    assert report.exclusions.counts["truncated_line"] == 1
    assert report.exclusions.counts["missing_condition"] >= 4  # that question is now missing for toy-medium
    out = write_radsafe(run, tmp_path / "out")
    assert _results(out, "toy-medium").read_text() == path.read_text()


def test_bad_line_in_the_middle_is_an_error_with_line_number(radsafe_dir: Path) -> None:
    path = _results(radsafe_dir, "toy-large")
    lines = path.read_text().splitlines()
    lines[4] = lines[4][:50]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RadsafeDataError, match=rf"{RESULTS_FILE}:5: invalid JSON"):
        read_radsafe(radsafe_dir)


def test_missing_labels_and_outside_letters_are_counted(radsafe_dir: Path) -> None:
    labels = json.loads((radsafe_dir / LABELS_PATH).read_text())
    four = next(x for x in labels if "E" not in x["options"])
    (radsafe_dir / LABELS_PATH).write_text(json.dumps([x for x in labels if x["question_id"] != 1]))
    path = _results(radsafe_dir, "toy-large")
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    rec = next(x for x in lines if x["question_id"] == f"risk_radiorag_{four['question_id']}")
    rec["conditions"]["zero_shot"]["greedy"]["checked_answer"]["confirmed_answer"] = "E"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    run = read_radsafe(radsafe_dir)
    assert sum(e.kind == "missing_labels" for e in run.exclusions) == 3  # question 1, once per model
    report = evaluate(run, replicates=0)
    assert report.exclusions.counts["letter_outside_options"] == 1
    assert all(r.item_id != "1" for r in report.per_question)


def test_mismatched_question_sets_are_reported(radsafe_dir: Path) -> None:
    path = _results(radsafe_dir, "toy-medium")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-3]) + "\n")  # toy-medium lost three questions
    report = evaluate(read_radsafe(radsafe_dir), replicates=0)
    missing = [e for e in report.exclusions.items if e.kind == "missing_condition" and e.model == "toy-medium"]
    assert len(missing) == 4 and all("3 item(s)" in e.detail for e in missing)
    assert report.models["toy-medium"]["zero_shot"].n == 21


def test_missing_labels_file_and_unknown_paths() -> None:
    with pytest.raises(RadsafeDataError, match="no such file"):
        load_run("/nonexistent/run")
    with pytest.raises(RadsafeDataError, match="labels file not found"):
        read_radsafe(Path(__file__).parent)


def test_jsonl_errors_and_truncation(tmp_path: Path, radsafe_dir: Path) -> None:
    run = read_radsafe(radsafe_dir)
    p = write_jsonl(run, tmp_path / "run.jsonl")
    lines = p.read_text().splitlines()
    bad = json.loads(lines[1])
    bad["answer"] = "Q"
    p.write_text("\n".join([lines[0], json.dumps(bad)] + lines[2:]) + "\n")
    with pytest.raises(RadsafeDataError, match=r"run.jsonl:2.*item '1'.*field 'answer'"):
        read_jsonl(p)
    p.write_text("\n".join(lines) + "\n" + lines[-1][:30])
    assert [e.kind for e in read_jsonl(p).exclusions].count("truncated_line") == 1
