"""Import per-sample answers from other harnesses: inspect_ai `.eval` logs and lm-eval sample logs.

These formats carry no option-level risk labels: items get the flags found in the sample's
metadata / doc under the RadSaFE names (`option_{i}_high_risk|_unsafe|_contradicts`, i = 1..5),
otherwise none, so safety rates are only meaningful with labelled data.

* inspect_ai `.eval` (a zip of `header.json` and `samples/<id>_epoch_<n>.json`): the item is the
  sample's input, `choices` and `target`; the answer is the scorer's `answer` when it is a letter,
  else the letter parsed from the output text. Epoch 1 is taken as the greedy answer and later
  epochs as samples (inspect does not record which decoding an epoch used).
* lm-eval `samples_<task>_*.jsonl` (`--log_samples`): multiple-choice log-likelihood rows give the
  arg-max choice; generation rows are parsed from the text; several responses become samples.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

from ogmux.evaluators.radsafe.errors import RadsafeDataError
from ogmux.evaluators.radsafe.model import FLAGS, LETTERS, Answer, Exclusion, Item, OptionLabel, Response, Run
from ogmux.evaluators.radsafe.parsing import parse_answer

__all__ = ["read_inspect_eval", "read_lm_eval_samples"]

_SAMPLE = re.compile(r"^samples/(.+)_epoch_(\d+)\.json$")


def _flags(meta: dict[str, Any], letter: str) -> dict[str, bool]:
    i = LETTERS.index(letter) + 1
    return {f: bool(meta.get(f"option_{i}_{f}") or 0) for f in FLAGS}


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") in ("text", None))
    return None


def _target_letter(target: Any, n: int) -> str | None:
    if isinstance(target, list):
        target = target[0] if target else None
    if isinstance(target, int) and 0 <= target < n:
        return LETTERS[target]
    if isinstance(target, str) and target.strip().upper() in LETTERS[:n]:
        return target.strip().upper()
    if isinstance(target, str) and target.strip().isdigit() and int(target) < n:
        return LETTERS[int(target)]
    return None


def _question(inp: Any) -> str:
    if isinstance(inp, list):
        users = [_text(m.get("content")) for m in inp if isinstance(m, dict) and m.get("role") == "user"]
        return users[-1] or "" if users else ""
    return str(inp or "")


def read_inspect_eval(path: str | Path, *, condition: str | None = None) -> Run:
    """A run from one inspect_ai `.eval` log (model from the header, condition = task name)."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, FileNotFoundError) as exc:
        raise RadsafeDataError(f"not a readable .eval log ({exc})", source=str(path)) from None
    with zf:
        names = zf.namelist()
        header = json.loads(zf.read("header.json")) if "header.json" in names else {}
        if not header and "_journal/start.json" in names:
            header = json.loads(zf.read("_journal/start.json"))
        ev = header.get("eval", {})
        model = str(ev.get("model") or "model")
        cond = condition or str(ev.get("task") or "default")
        by_id: dict[str, dict[int, dict[str, Any]]] = {}
        for name in names:
            m = _SAMPLE.match(name)
            if m:
                by_id.setdefault(m.group(1), {})[int(m.group(2))] = json.loads(zf.read(name))
    if not by_id:
        raise RadsafeDataError("the log holds no samples (samples/<id>_epoch_<n>.json)", source=str(path))
    items, responses, exclusions = [], [], []
    for sid, epochs in sorted(by_id.items()):
        first = epochs[min(epochs)]
        choices = first.get("choices") or []
        if not 2 <= len(choices) <= 5:
            exclusions.append(Exclusion(kind="missing_labels", item_id=sid, source=str(path),
                                        detail=f"sample has {len(choices)} choices; only 2-5 option items are scored"))
            continue
        letters = LETTERS[: len(choices)]
        truth = _target_letter(first.get("target"), len(choices))
        if truth is None:
            exclusions.append(Exclusion(kind="missing_labels", item_id=sid, source=str(path),
                                        detail=f"target {first.get('target')!r} is not an option letter"))
            continue
        meta = first.get("metadata") or {}
        options = {L: OptionLabel(text=str(c), **_flags(meta, L)) for L, c in zip(letters, choices, strict=True)}
        items.append(Item(id=sid, question=_question(first.get("input")), options=options, answer=truth))  # type: ignore[arg-type]
        texts = {L: str(c) for L, c in zip(letters, choices, strict=True)}
        answers = []
        for ep in sorted(epochs):
            s = epochs[ep]
            out = (s.get("output") or {}).get("choices") or [{}]
            raw = _text((out[0].get("message") or {}).get("content"))
            scored = [v.get("answer") for v in (s.get("scores") or {}).values() if isinstance(v, dict)]
            letter = next((a.strip().upper() for a in scored if isinstance(a, str) and a.strip().upper() in LETTERS), None)
            if letter is None:
                letter = parse_answer(raw, texts).letter
            usage = (s.get("output") or {}).get("usage") or {}
            answers.append(Answer(raw=raw, parsed=letter, letter=letter, input_tokens=usage.get("input_tokens"),
                                  output_tokens=usage.get("output_tokens"), latency_s=s.get("total_time"),
                                  error=str(s["error"]) if s.get("error") else None))
        responses.append(Response(model=model, condition=cond, item_id=sid, correct_answer=truth,
                                  greedy=answers[0], samples=answers[1:]))
    return Run(name=path.stem, items=items, responses=responses, exclusions=exclusions)


def _ll(value: Any) -> float | None:
    v = value[0] if isinstance(value, list) and value else value
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def read_lm_eval_samples(path: str | Path, *, model: str, condition: str | None = None) -> Run:
    """A run from one lm-eval `samples_<task>_*.jsonl` log."""
    path = Path(path)
    cond = condition or re.sub(r"^samples_|_\d{4}-\d\d-\d\dT.*$", "", path.stem)
    items, responses, exclusions = [], [], []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RadsafeDataError(f"invalid JSON ({exc.msg})", source=f"{path}:{lineno}") from None
        sid = str(row.get("doc_id", lineno))
        doc = row.get("doc") or {}
        filtered = row.get("filtered_resps") or []
        choices = doc.get("choices") or doc.get("options")
        if isinstance(choices, dict):
            choices = choices.get("text")
        is_ll = bool(filtered) and all(_ll(x) is not None for x in filtered) and len(filtered) >= 2
        n = len(choices) if isinstance(choices, list) else (len(filtered) if is_ll else 0)
        if not 2 <= n <= 5:
            exclusions.append(Exclusion(kind="missing_labels", item_id=sid, source=f"{path}:{lineno}",
                                        detail="cannot tell the item's 2-5 options from doc.choices or the responses"))
            continue
        letters = LETTERS[:n]
        truth = _target_letter(row.get("target"), n)
        if truth is None:
            exclusions.append(Exclusion(kind="missing_labels", item_id=sid, source=f"{path}:{lineno}",
                                        detail=f"target {row.get('target')!r} is not an option"))
            continue
        texts = {L: str(choices[i]) if isinstance(choices, list) else L for i, L in enumerate(letters)}
        items.append(Item(id=sid, question=str(doc.get("question") or doc.get("query") or ""), answer=truth,  # type: ignore[arg-type]
                          options={L: OptionLabel(text=texts[L], **_flags(doc, L)) for L in letters}))
        if is_ll:
            lls = [_ll(x) for x in filtered]
            pick = letters[max(range(n), key=lambda i: lls[i])]  # type: ignore[arg-type, return-value]
            answers = [Answer(raw=json.dumps(filtered), parsed=pick, letter=pick)]
        else:
            raws = [_text(x[0] if isinstance(x, list) and x else x) for x in (row.get("resps") or [])]
            if filtered and isinstance(filtered[0], str):
                raws = [filtered[0]] + raws[1:]
            answers = [Answer(raw=r, parsed=(lt := parse_answer(r, texts).letter), letter=lt) for r in raws] or [Answer()]
        responses.append(Response(model=model, condition=cond, item_id=sid, correct_answer=truth,
                                  greedy=answers[0], samples=answers[1:]))
    return Run(name=path.stem, items=items, responses=responses, exclusions=exclusions)
