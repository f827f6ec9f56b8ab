"""The audit log: bounded lines, a keyed argument hash, and rotation that never silently drops recent records."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from pathlib import Path

import pytest

from ogmux.server.audit import MAX_LINE_BYTES, AuditLog, bounded
from ogmux.server.settings import AuditSettings

ARGS = {"query": "merger with acme"}


def _record(log: AuditLog, tool: str = "search_index", arguments: dict | None = None) -> None:
    log.record(principal="p", role="reader", tool=tool, arguments=arguments or ARGS, outcome="ok",
               result_bytes=10, latency_ms=1.0)  # fmt: skip


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_bounded_keeps_short_text_and_cuts_long_text_by_its_escaped_size() -> None:
    assert bounded("search_index") == "search_index"
    cut = bounded("\u0001" * 10_000, 200)
    kept = cut.index("...[+")
    assert len(json.dumps(cut)) - 2 <= 200 and cut.endswith(f"...[+{10_000 - kept} chars]")


def test_every_line_stays_under_the_cap_whatever_the_names(tmp_path: Path) -> None:
    """Finding 1: 3.5 MB tool names were written verbatim, one audit line each."""
    log = AuditLog(AuditSettings(sink="file", path=tmp_path / "a.jsonl", key_file=tmp_path / "k"))
    for name in ("A" * 3_500_000, "\U0001f600" * 100_000, "\n\r\u2028\x1b[2J" * 50_000):
        log.record(principal=name, role=name, tool=name, arguments={"x": name}, outcome="invalid",
                   result_bytes=0, latency_ms=0.0)  # fmt: skip
    log.record(principal="p", role="r", resource="og://" + "z" * 1_000_000, arguments={}, outcome="invalid",
               result_bytes=0, latency_ms=0.0)  # fmt: skip
    log.close()
    raw = (tmp_path / "a.jsonl").read_bytes()
    assert raw.isascii() and len(raw.splitlines()) == 4
    assert max(len(line) for line in raw.splitlines()) <= MAX_LINE_BYTES


def test_argument_hash_is_keyed_and_the_key_file_is_private(tmp_path: Path) -> None:
    """Finding 13: an unsalted SHA-256 let anyone confirm a guessed query."""
    key_file = tmp_path / "state" / "audit.key"
    settings = AuditSettings(sink="file", path=tmp_path / "a.jsonl", key_file=key_file)
    first = AuditLog(settings)
    _record(first)
    first.close()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = AuditLog(settings)  # a restart reads the same key: hashes stay comparable
    _record(again)
    again.close()
    other = AuditLog(AuditSettings(sink="file", path=tmp_path / "b.jsonl", key_file=tmp_path / "other.key"))
    _record(other)
    other.close()
    h1, h2 = (r["args_hmac"] for r in _lines(tmp_path / "a.jsonl"))
    (h3,) = (r["args_hmac"] for r in _lines(tmp_path / "b.jsonl"))
    plain = hashlib.sha256(json.dumps(ARGS, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert h1 == h2 != h3 and plain not in {h1, h3}


def test_default_key_file_sits_next_to_the_audit_file(tmp_path: Path) -> None:
    AuditLog(AuditSettings(sink="file", path=tmp_path / "logs" / "audit.jsonl")).close()
    assert stat.S_IMODE((tmp_path / "logs" / "ogmux-audit.key").stat().st_mode) == 0o600


def test_key_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = AuditSettings(sink="file", path=tmp_path / "a.jsonl", key_env="OGMUX_TEST_AUDIT_KEY")
    monkeypatch.setenv("OGMUX_TEST_AUDIT_KEY", "short")
    with pytest.raises(ValueError, match="at least 16 characters"):
        AuditLog(settings)
    monkeypatch.setenv("OGMUX_TEST_AUDIT_KEY", "s" * 32)
    log = AuditLog(settings)
    _record(log)
    log.close()
    assert not (tmp_path / "ogmux-audit.key").exists()


def test_rotation_keeps_recent_records_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Finding 1: a flood rotated every earlier record away (10 MB x 5) without a word."""
    path = tmp_path / "a.jsonl"
    log = AuditLog(AuditSettings(sink="file", path=path, max_bytes=2048, backups=1, key_file=tmp_path / "k",
                                 retain_minutes=60))  # fmt: skip
    for i in range(200):
        _record(log, tool=f"t{i}")
    log.close()
    files = sorted(tmp_path.glob("a.jsonl*"))
    kept = [p for p in files if ".kept-" in p.name]
    tools = {r["tool"] for p in files for r in _lines(p)}
    assert tools == {f"t{i}" for i in range(200)}  # nothing written in the last hour was deleted
    assert kept and "kept them in" in capsys.readouterr().err


def test_rotation_deletes_only_old_records_silently(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(AuditSettings(sink="file", path=path, max_bytes=1_000_000, backups=1, key_file=tmp_path / "k",
                                 retain_minutes=1))  # fmt: skip
    for i in range(10):
        _record(log, tool=f"old{i}")
    log._handler.doRollover()  # type: ignore[attr-defined]
    old = Path(f"{path}.1")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    log._handler.doRollover()  # type: ignore[attr-defined]  # deletes the hour-old backup
    log.close()
    assert not list(tmp_path.glob("*.kept-*")) and capsys.readouterr().err == ""
    assert not any(r["tool"].startswith("old") for p in tmp_path.glob("a.jsonl*") for r in _lines(p))
