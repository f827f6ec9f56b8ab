"""Reading an MPS or LP file with HiGHS in a child process.

HiGHS's readers can loop forever on malformed text (a ROWS section repeated inside COLUMNS, found by
fuzzing) while holding the interpreter lock, which would freeze every thread of the server; a child
process can be stopped. Run as a script, this file is the child: it imports only the standard
library and highspy, and writes what HiGHS read as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["read_in_child"]


def read_in_child(path: Path, timeout_s: float) -> dict[str, Any]:
    """What HiGHS reads from `path`: `ok`, its log `messages` and, when ok, the `model` as arrays.
    Raises TimeoutError when the reader does not finish within `timeout_s` (the child is killed)."""
    with tempfile.TemporaryDirectory(prefix="ogmux-read-") as tmp:
        out = Path(tmp) / "model.json"
        try:
            subprocess.run(
                # -I: isolated, so the modules next to this file cannot shadow what highspy imports
                [sys.executable, "-I", __file__, str(path), str(out)], timeout=timeout_s, capture_output=True, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"the reader did not finish in {timeout_s:g} s") from exc
        # No file: the child died (HiGHS logged bytes that are not UTF-8, or worse): unreadable text.
        return json.loads(out.read_text()) if out.exists() else {"ok": False, "messages": []}


def _read(path: str, out: str) -> None:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # HiGHS prints its banner on fd 1
    import highspy

    h = highspy.Highs()
    messages: list[str] = []
    # The reader says what is wrong only through the log.
    h.setOptionValue("log_to_console", False)
    h.setOptionValue("output_flag", True)
    h.cbLogging.subscribe(lambda e: messages.append(e.message))
    try:
        ok = h.readModel(path) != highspy.HighsStatus.kError
    except UnicodeDecodeError:  # HiGHS logged bytes that are not UTF-8 (malformed input confuses it)
        ok = False
    result: dict[str, Any] = {"ok": ok, "messages": messages}
    if ok:
        model = h.getModel()
        lp, a, q = model.lp_, model.lp_.a_matrix_, model.hessian_
        result["model"] = {
            "num_col": lp.num_col_, "num_row": lp.num_row_, "sense": int(lp.sense_), "offset": lp.offset_,
            **{k: list(map(float, getattr(lp, f"{k}_"))) for k in
               ("col_cost", "col_lower", "col_upper", "row_lower", "row_upper")},
            "col_names": list(lp.col_names_), "row_names": list(lp.row_names_),
            "integrality": [int(t) for t in lp.integrality_],
            "a": {"format": int(a.format_), "start": list(a.start_), "index": list(a.index_), "value": list(a.value_)},
            "q": {"dim": q.dim_, "format": int(q.format_), "start": list(q.start_), "index": list(q.index_),
                  "value": list(q.value_)},
        }  # fmt: skip
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    _read(sys.argv[1], sys.argv[2])
