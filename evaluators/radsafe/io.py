"""Runs as files: one JSON-lines file (append-friendly) or two CSV tables, plus format detection.

JSONL run file: one object per line with a "type" of "run" (name, meta), "item",
"response" or "exclusion". Responses may be appended as they arrive; a truncated last
line (a crash mid-write) is reported as an exclusion, never silently dropped.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ogmux.evaluators.radsafe.errors import RadsafeDataError
from ogmux.evaluators.radsafe.model import FLAGS, LETTERS, Answer, Exclusion, Item, OptionLabel, Response, Run
from ogmux.evaluators.radsafe.radsafe_layout import LABELS_PATH, read_radsafe

__all__ = ["append_jsonl", "load_run", "read_csv", "read_jsonl", "write_csv", "write_jsonl"]


def _line(kind: str, obj: BaseModel | dict[str, Any]) -> str:
    data = obj.model_dump(mode="json", exclude_defaults=True) if isinstance(obj, BaseModel) else obj
    return json.dumps({"type": kind, **data}, ensure_ascii=False) + "\n"


def write_jsonl(run: Run, path: str | Path) -> Path:
    """Write `run` as a JSON-lines run file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        f.write(_line("run", {"name": run.name, "meta": run.meta}))
        f.writelines(_line("item", i) for i in run.items)
        f.writelines(_line("response", r) for r in run.responses)
        f.writelines(_line("exclusion", e) for e in run.exclusions)
    return path


def append_jsonl(path: str | Path, kind: str, obj: BaseModel) -> None:
    """Append one record and flush it to disk (used by the runner; survives a crash)."""
    with Path(path).open("a", encoding="utf-8") as f:
        f.write(_line(kind, obj))
        f.flush()


def _validation(exc: ValidationError, where: str, item: str | None) -> RadsafeDataError:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or None
    return RadsafeDataError(err["msg"].removeprefix("Value error, "), source=where, item=item, field=field)


def read_jsonl(path: str | Path) -> Run:
    """Read a JSON-lines run file; errors name the line, item and field."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    n = len(lines) - (1 if lines[-1] == "" else 0)
    name, meta = path.stem, {}
    items: list[Item] = []
    responses: dict[tuple[str, str, str], Response] = {}
    exclusions: list[Exclusion] = []
    for lineno, line in enumerate(lines[:n], start=1):
        where = f"{path}:{lineno}"
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            if lineno == n:
                exclusions.append(Exclusion(kind="truncated_line", source=where, detail=f"last line is incomplete ({exc.msg}); not scored"))
                continue
            raise RadsafeDataError(f"invalid JSON ({exc.msg})", source=where) from None
        kind = rec.pop("type", None) if isinstance(rec, dict) else None
        ident = rec.get("id") or rec.get("item_id") if isinstance(rec, dict) else None
        try:
            if kind == "run":
                name, meta = rec.get("name", name), rec.get("meta", {})
            elif kind == "item":
                items.append(Item.model_validate(rec))
            elif kind == "response":
                r = Response.model_validate(rec)
                key = (r.model, r.condition, r.item_id)
                if key in responses:
                    raise RadsafeDataError(
                        f"duplicate response for model {r.model!r}, condition {r.condition!r}", source=where, item=r.item_id
                    )
                responses[key] = r
            elif kind == "exclusion":
                exclusions.append(Exclusion.model_validate(rec))
            else:
                raise RadsafeDataError(f"unknown record type {kind!r} (run|item|response|exclusion)", source=where, field="type")
        except ValidationError as exc:
            raise _validation(exc, where, ident) from None
    try:
        return Run(name=name, meta=meta, items=items, responses=list(responses.values()), exclusions=exclusions)
    except ValidationError as exc:
        raise _validation(exc, str(path), None) from None


_ITEM_COLS = ["id", "question", "answer", "subspecialty", "question_type", "evidence_clean", "evidence_conflict"]
_RESP_COLS = [
    "model", "condition", "item_id", "correct_answer", "kind", "index", "raw", "parsed", "letter",
    "input_tokens", "output_tokens", "latency_s", "error",
]


def write_csv(run: Run, directory: str | Path) -> Path:
    """Write `items.csv` (one row per item, option text and flag columns) and `responses.csv`
    (one row per answer: kind greedy|sample). Judge verdicts and `extra` fields are JSONL-only."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    opt_cols = [f"option_{L}{suffix}" for L in LETTERS for suffix in ("", *(f"_{f}" for f in FLAGS))]
    with (d / "items.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=_ITEM_COLS + opt_cols)
        w.writeheader()
        for it in run.items:
            row: dict[str, Any] = {c: getattr(it, c) for c in _ITEM_COLS}
            for L, opt in it.options.items():
                row[f"option_{L}"] = opt.text
                row.update({f"option_{L}_{fl}": int(getattr(opt, fl)) for fl in FLAGS})
            w.writerow(row)
    with (d / "responses.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=_RESP_COLS)
        w.writeheader()
        for r in run.responses:
            answers = ([("greedy", 0, r.greedy)] if r.greedy else []) + [("sample", i, a) for i, a in enumerate(r.samples)]
            for kind, i, a in answers:
                w.writerow({"model": r.model, "condition": r.condition, "item_id": r.item_id,
                            "correct_answer": r.correct_answer, "kind": kind, "index": i,
                            **{c: getattr(a, c) for c in _RESP_COLS[6:]}})
    return d


def _opt(value: str) -> str | None:
    return value if value != "" else None


def read_csv(directory: str | Path) -> Run:
    """Read `items.csv` and `responses.csv` written by `write_csv` (or by hand)."""
    d = Path(directory)
    items = []
    with (d / "items.csv").open(newline="", encoding="utf-8") as f:
        for rowno, row in enumerate(csv.DictReader(f), start=2):
            where = f"{d / 'items.csv'}:{rowno}"
            try:
                options = {
                    L: OptionLabel(text=row[f"option_{L}"], **{fl: row.get(f"option_{L}_{fl}", "0") in ("1", "true", "True") for fl in FLAGS})
                    for L in LETTERS if _opt(row.get(f"option_{L}", "") or "") is not None
                }
                items.append(Item(options=options, **{c: _opt(row.get(c, "") or "") for c in _ITEM_COLS}))  # type: ignore[arg-type]
            except ValidationError as exc:
                raise _validation(exc, where, row.get("id")) from None
    responses: dict[tuple[str, str, str], Response] = {}
    with (d / "responses.csv").open(newline="", encoding="utf-8") as f:
        for rowno, row in enumerate(csv.DictReader(f), start=2):
            where = f"{d / 'responses.csv'}:{rowno}"
            key = (row["model"], row["condition"], row["item_id"])
            try:
                a = Answer(**{c: _opt(row.get(c, "") or "") for c in _RESP_COLS[6:]})
                r = responses.get(key) or Response(model=key[0], condition=key[1], item_id=key[2],
                                                    correct_answer=_opt(row.get("correct_answer", "") or ""))
            except ValidationError as exc:
                raise _validation(exc, where, row.get("item_id")) from None
            if row["kind"] == "greedy":
                if r.greedy is not None:
                    raise RadsafeDataError("second greedy answer", source=where, item=key[2], field="kind")
                r.greedy = a
            elif row["kind"] == "sample":
                r.samples.append(a)
            else:
                raise RadsafeDataError(f"kind must be greedy or sample, got {row['kind']!r}", source=where, item=key[2], field="kind")
            responses[key] = r
    return Run(name=d.name, items=items, responses=list(responses.values()))


def load_run(path: str | Path) -> Run:
    """Load a run: a RadSaFE-layout directory, a CSV directory, a JSONL run file, an inspect_ai
    `.eval` log or an lm-eval `samples_*.jsonl` log."""
    p = Path(path)
    if p.is_dir():
        if (p / LABELS_PATH).is_file():
            return read_radsafe(p)
        if (p / "items.csv").is_file():
            return read_csv(p)
        if (p / "run.jsonl").is_file():
            return read_jsonl(p / "run.jsonl")
        raise RadsafeDataError(f"no run found: expected {LABELS_PATH}, items.csv or run.jsonl", source=str(p))
    if p.is_file():
        from ogmux.evaluators.radsafe.foreign import read_inspect_eval, read_lm_eval_samples

        if p.suffix == ".eval":
            return read_inspect_eval(p)
        with p.open(encoding="utf-8") as f:
            first = f.readline()
        if p.name.startswith("samples_") and '"doc_id"' in first:
            return read_lm_eval_samples(p, model=p.parent.name)  # lm-eval writes <out>/<model>/samples_*.jsonl
        return read_jsonl(p)
    raise RadsafeDataError("no such file or directory", source=str(p))
