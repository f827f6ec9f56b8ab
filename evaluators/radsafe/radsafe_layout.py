"""Lossless import and export of the RadSaFE release layout.

    <root>/datasets/risk_radiorag_full_merged.json          labels: a JSON list of questions
    <root>/phase4_checking_results/results/<MODEL>/risk_radiorag_checked.jsonl
                                                             one JSON line per question

Every field the data model has no place for is kept as a residual (see `lossless.py`), the
line order of each result file and records without condition blocks are kept in
`Run.meta["radsafe"]`, so `write_radsafe(read_radsafe(root))` gives back the same JSON values.
Problems are errors naming file, line and field, or counted exclusions in `Run.exclusions`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ogmux.evaluators.radsafe.errors import RadsafeDataError
from ogmux.evaluators.radsafe.lossless import apply_residual, residual
from ogmux.evaluators.radsafe.model import FLAGS, LETTERS, Answer, Exclusion, Item, OptionLabel, Response, Run

__all__ = ["LABELS_PATH", "RESULTS_DIR", "RESULTS_FILE", "qid_key", "read_radsafe", "write_radsafe"]

LABELS_PATH = Path("datasets/risk_radiorag_full_merged.json")
RESULTS_DIR = Path("phase4_checking_results/results")
RESULTS_FILE = "risk_radiorag_checked.jsonl"
_QID_PREFIX = "risk_radiorag_"
_TEXT_FIELDS = ("question", "evidence_clean", "evidence_conflict")


def qid_key(question_id: Any) -> str:
    """The join key of the released code: the part after the last `_`, as an integer string."""
    text = str(question_id).rsplit("_", 1)[-1]
    try:
        return str(int(text))
    except ValueError:
        raise RadsafeDataError(f"question_id {question_id!r} does not end in an integer", field="question_id") from None


def _flag_value(raw: Any) -> bool:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return False
    return bool(int(raw))


def _item_from_label(rec: Any, where: str) -> Item:
    if not isinstance(rec, dict):
        raise RadsafeDataError(f"expected a JSON object, got {type(rec).__name__}", source=where)
    if "question_id" not in rec:
        raise RadsafeDataError("missing", source=where, field="question_id")
    item_id = qid_key(rec["question_id"])
    opts = rec.get("options")
    if not isinstance(opts, dict) or not opts:
        raise RadsafeDataError("must be a non-empty object letter -> text", source=where, item=item_id, field="options")
    options: dict[str, OptionLabel] = {}
    for letter, text in opts.items():
        if letter not in LETTERS:
            raise RadsafeDataError(f"option letter {letter!r} is not one of A..E", source=where, item=item_id, field="options")
        i = LETTERS.index(letter) + 1
        try:
            flags = {f: _flag_value(rec.get(f"option_{i}_{f}")) for f in FLAGS}
        except (TypeError, ValueError) as exc:
            raise RadsafeDataError(str(exc), source=where, item=item_id, field=f"option_{i}_*") from None
        options[letter] = OptionLabel(text="" if text is None else str(text), **flags)
    try:
        item = Item(
            id=item_id,
            options=options,  # type: ignore[arg-type]
            answer=rec.get("answer_idx"),
            subspecialty=rec.get("subspecialty"),
            question_type=rec.get("question_type"),
            **{k: rec[k] for k in _TEXT_FIELDS if isinstance(rec.get(k), str)},
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        field = "answer_idx" if err["loc"] and err["loc"][0] == "answer" else ".".join(map(str, err["loc"])) or "answer_idx"
        raise RadsafeDataError(err["msg"].removeprefix("Value error, "), source=where, item=item_id, field=field) from None
    item.extra = residual(rec, _label_from_item(item))
    return item


def _label_from_item(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {
        "question_id": int(item.id) if item.id.isdigit() else item.id,
        "options": {k: v.text for k, v in item.options.items()},
        "answer_idx": item.answer,
    }
    for letter, opt in item.options.items():
        i = LETTERS.index(letter) + 1
        for f in FLAGS:
            out[f"option_{i}_{f}"] = int(getattr(opt, f))
    out["subspecialty"] = item.subspecialty
    out["question_type"] = item.question_type
    for k in _TEXT_FIELDS:
        if getattr(item, k):
            out[k] = getattr(item, k)
    return out


def _label_record(item: Item) -> dict[str, Any]:
    return apply_residual(_label_from_item(item), item.extra)


def _letter(checked: Any) -> str | None:
    if isinstance(checked, dict):
        value = checked.get("confirmed_answer")
        if isinstance(value, str) and value in LETTERS:
            return value
    return None


def _greedy_dict(a: Answer) -> dict[str, Any]:
    return {
        "raw_output": a.raw,
        "parsed_answer": a.parsed,
        "input_tokens": a.input_tokens,
        "output_tokens": a.output_tokens,
        "elapsed_s": a.latency_s,
        "error": a.error,
        "checked_answer": a.judge,
    }


def _answer_from_greedy(g: dict[str, Any]) -> Answer:
    ans = Answer(
        raw=g.get("raw_output"),
        parsed=g.get("parsed_answer"),
        judge=g.get("checked_answer"),
        letter=_letter(g.get("checked_answer")),
        input_tokens=g.get("input_tokens") if isinstance(g.get("input_tokens"), int) else None,
        output_tokens=g.get("output_tokens") if isinstance(g.get("output_tokens"), int) else None,
        latency_s=g.get("elapsed_s") if isinstance(g.get("elapsed_s"), (int, float)) else None,
        error=g.get("error") if isinstance(g.get("error"), str) else None,
    )
    ans.extra = residual(g, _greedy_dict(ans))
    return ans


def _stochastic_dict(samples: list[Answer]) -> dict[str, Any]:
    return {
        "raw_outputs": [s.raw for s in samples],
        "parsed_answers": [s.parsed for s in samples],
        "checked_answers": [s.judge for s in samples],
    }


def _samples_from_stochastic(s: dict[str, Any]) -> tuple[list[Answer], dict[str, Any]]:
    lists = [s.get(k) if isinstance(s.get(k), list) else [] for k in ("raw_outputs", "parsed_answers", "checked_answers")]
    n = max(len(x) for x in lists)
    samples = [
        Answer(
            raw=lists[0][i] if i < len(lists[0]) else None,
            parsed=lists[1][i] if i < len(lists[1]) else None,
            judge=lists[2][i] if i < len(lists[2]) else None,
            letter=_letter(lists[2][i]) if i < len(lists[2]) else None,
        )
        for i in range(n)
    ]
    return samples, residual(s, _stochastic_dict(samples))


def _read_results(path: Path, model_dir: str, items: dict[str, Item], run: Run, meta: dict[str, Any]) -> None:
    where = str(path)
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    order: list[str] = []
    empty: dict[str, Any] = {}
    unlabelled: list[Any] = []
    seen: set[str] = set()
    n_lines = len(lines) - (1 if lines and lines[-1] == "" else 0)
    for lineno, line in enumerate(lines[:n_lines], start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            if lineno == n_lines:
                run.exclusions.append(
                    Exclusion(kind="truncated_line", model=model_dir, source=f"{where}:{lineno}",
                              detail=f"last line is not complete JSON ({exc.msg}); the record is not scored")
                )
                meta.setdefault("truncated", {})[model_dir] = lines[lineno - 1] + ("\n" if lineno < len(lines) else "")
                continue
            raise RadsafeDataError(f"invalid JSON ({exc.msg})", source=f"{where}:{lineno}") from None
        if not isinstance(rec, dict) or "question_id" not in rec:
            raise RadsafeDataError("expected an object with question_id", source=f"{where}:{lineno}", field="question_id")
        item_id = qid_key(rec["question_id"])
        if item_id in seen:
            raise RadsafeDataError("duplicate question_id in one model's results", source=f"{where}:{lineno}", item=item_id, field="question_id")
        seen.add(item_id)
        order.append(item_id)
        item = items.get(item_id)
        if item is None:
            run.exclusions.append(
                Exclusion(kind="missing_labels", model=model_dir, item_id=item_id, source=f"{where}:{lineno}",
                          detail="question has results but no labels; its results are not scored")
            )
            unlabelled.append(rec)
            continue
        conds = rec.get("conditions")
        if not isinstance(conds, dict):
            raise RadsafeDataError("must be an object condition -> block", source=f"{where}:{lineno}", item=item_id, field="conditions")
        truth = rec.get("correct_answer") if isinstance(rec.get("correct_answer"), str) else None
        rec_rebuilt = {"question_id": f"{_QID_PREFIX}{item_id}", "correct_answer": truth, "model": model_dir, "conditions": conds}
        rec_extra = residual(rec, rec_rebuilt)
        if not conds:
            empty[item_id] = rec
        for cond, block in conds.items():
            if not isinstance(block, dict):
                raise RadsafeDataError("condition block must be an object", source=f"{where}:{lineno}", item=item_id, field=f"conditions.{cond}")
            greedy = _answer_from_greedy(block["greedy"]) if isinstance(block.get("greedy"), dict) else None
            samples, s_extra = (
                _samples_from_stochastic(block["stochastic"]) if isinstance(block.get("stochastic"), dict) else ([], {})
            )
            skeleton = {k: block[k] for k in ("greedy", "stochastic") if isinstance(block.get(k), dict)}
            resp = Response(
                model=model_dir,
                condition=cond,
                item_id=item_id,
                correct_answer=truth,
                greedy=greedy,
                samples=samples,
                extra={"block": residual(block, skeleton), "stochastic": s_extra},
                record_extra=rec_extra,
            )
            run.responses.append(resp)
    meta["files"][model_dir] = {"order": order, "empty_records": empty, "unlabelled": unlabelled}


def read_radsafe(root: str | Path, *, name: str | None = None) -> Run:
    """Import labels and every model's phase-4 results under `root` (RadSaFE release layout)."""
    root = Path(root)
    labels_path = root / LABELS_PATH
    if not labels_path.is_file():
        raise RadsafeDataError(f"labels file not found (expected {LABELS_PATH} under the run directory)", source=str(root))
    try:
        labels = json.loads(labels_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RadsafeDataError(f"invalid JSON ({exc.msg} at line {exc.lineno}); is the file truncated?", source=str(labels_path)) from None
    if not isinstance(labels, list):
        raise RadsafeDataError("expected a JSON list of questions", source=str(labels_path))
    items: dict[str, Item] = {}
    for i, rec in enumerate(labels):
        item = _item_from_label(rec, f"{labels_path}[{i}]")
        if item.id in items:
            raise RadsafeDataError("duplicate question_id in the labels file", source=f"{labels_path}[{i}]", item=item.id, field="question_id")
        items[item.id] = item
    run = Run(name=name or root.name, items=list(items.values()))
    meta: dict[str, Any] = {"files": {}}
    results = root / RESULTS_DIR
    if not results.is_dir():
        raise RadsafeDataError(f"results directory not found (expected {RESULTS_DIR})", source=str(root))
    for model_dir in sorted(p for p in results.iterdir() if p.is_dir()):
        path = model_dir / RESULTS_FILE
        if not path.is_file():
            run.exclusions.append(Exclusion(kind="model_skipped", model=model_dir.name, source=str(model_dir),
                                            detail=f"no {RESULTS_FILE} in this model directory"))
            continue
        _read_results(path, model_dir.name, items, run, meta)
    run.meta["radsafe"] = meta
    return run  # ids are unique: duplicates raised above, condition keys are unique per record


def _block(resp: Response) -> dict[str, Any]:
    skeleton: dict[str, Any] = {}
    if resp.greedy is not None:
        skeleton["greedy"] = apply_residual(_greedy_dict(resp.greedy), resp.greedy.extra)
    if resp.samples or resp.extra.get("stochastic"):
        skeleton["stochastic"] = apply_residual(_stochastic_dict(resp.samples), resp.extra.get("stochastic", {}))
    return apply_residual(skeleton, resp.extra.get("block", {}))


def write_radsafe(run: Run, root: str | Path) -> Path:
    """Write `run` in the RadSaFE release layout under `root`; returns `root`."""
    root = Path(root)
    (root / LABELS_PATH).parent.mkdir(parents=True, exist_ok=True)
    (root / LABELS_PATH).write_text(json.dumps([_label_record(i) for i in run.items], ensure_ascii=False), encoding="utf-8")
    files = run.meta.get("radsafe", {}).get("files", {})
    by_model: dict[str, dict[str, list[Response]]] = {}
    for r in run.responses:
        by_model.setdefault(r.model, {}).setdefault(r.item_id, []).append(r)
    for model in sorted(set(by_model) | set(files)):
        info = files.get(model, {})
        recs = by_model.get(model, {})
        order = list(info.get("order", [])) + [q for q in recs if q not in set(info.get("order", []))]
        lines = []
        unlabelled = iter(info.get("unlabelled", []))
        for q in order:
            if q in recs:
                rs = recs[q]
                first = rs[0]
                rebuilt = {
                    "question_id": f"{_QID_PREFIX}{q}",
                    "correct_answer": first.correct_answer,
                    "model": model,
                    "conditions": {r.condition: _block(r) for r in rs},
                }
                lines.append(apply_residual(rebuilt, first.record_extra))
            elif q in info.get("empty_records", {}):
                lines.append(info["empty_records"][q])
            else:
                lines.append(next(unlabelled))
        path = root / RESULTS_DIR / model / RESULTS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "".join(json.dumps(rec, ensure_ascii=False) + "\n" for rec in lines)
        body += run.meta.get("radsafe", {}).get("truncated", {}).get(model, "")
        path.write_text(body, encoding="utf-8")
    return root
