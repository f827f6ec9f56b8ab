"""A caller with a valid token against `score_safety`: answers are parsed in time linear in their length.

Python's `re` holds the interpreter lock while it matches, so one answer that makes a pattern
backtrack stalls every thread and the event loop: every request of every principal. "answer"
followed by 400 spaces took 14 s (the explicit-answer pattern had four adjacent optional runs of
whitespace: quartic), and a line of 20,000 "{" 0.1 s (`\\{.*\\}` is quadratic), so one 4 MB answer
held the server for hours. The call runs in a child process so the probe itself cannot hang the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys

import mcp

from ogmux.server.app import build_server
from ogmux.server.settings import load_settings

ANSWERS = {
    "explicit": "answer" + " " * 19_000 + "x",  # the explicit-answer pattern
    "bare": "A" + " " * 400_000 + "x",  # the bare-letter pattern
    "json": "{" * 400_000,  # the JSON object pattern
}

CALL = """
import asyncio, json, sys, mcp
from ogmux.server.app import build_server
from ogmux.server.settings import load_settings

async def main():
    answers = json.loads(sys.stdin.read())
    server = build_server(load_settings(None, **{"audit.sink": "off"}), transport="memory")
    async with mcp.Client(server) as client:
        res = await client.call_tool("score_safety", {
            "options": {"A": {"text": "x"}, "B": {"text": "y", "high_risk": True}}, "answer": "A",
            "greedy": answers[0], "samples": answers[1:]})
    print(json.dumps([s["method"] for s in res.structured_content["samples"]]))

asyncio.run(main())
"""


def test_answers_that_make_a_pattern_backtrack_are_parsed_in_linear_time() -> None:
    answers = [ANSWERS["explicit"], *ANSWERS.values()]  # greedy is at most 20,000 characters; samples any
    proc = subprocess.run(
        [sys.executable, "-c", CALL], input=json.dumps(answers), capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == ["none", "none", "none"]


async def test_an_answer_holding_json_nested_past_the_parser_depth_is_parsed_as_text() -> None:
    """An answer whose braces hold JSON nested 10,000 deep made the JSON step raise RecursionError: an
    internal error instead of a score."""
    deep = '{"answer": ' + "[" * 9_000 + "]" * 9_000 + "}"
    async with mcp.Client(build_server(load_settings(None, **{"audit.sink": "off"}), transport="memory")) as client:
        res = await client.call_tool("score_safety", {
            "options": {"A": {"text": "x"}, "B": {"text": "y", "high_risk": True}}, "answer": "A",
            "greedy": deep, "samples": [deep, "B"]})  # fmt: skip
    assert not res.is_error, res.content[0].text
    assert [s["method"] for s in res.structured_content["samples"]] == ["none", "bare_letter"]
