"""The model under evaluation in `ogmux eval`'s agentic_rag condition reads document text, so a section can
steer what it replies; its reply is searched for a `SEARCH:` or `READ:` line on the event loop that runs every
other request of the run. The pattern backtracked: 20,000 line breaks took 9.5 s and `SEARCH: a`, 20,000
spaces and a word 2 s (quadratic). The run goes in a child process so the probe itself cannot hang the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys

RUN = """
import asyncio, json, sys, tempfile
from pathlib import Path
from ogmux.evaluators.radsafe.runner import Generation, RunSpec, run_models
from tests.evaluators.radsafe.helpers import item

class Retriever:
    def search(self, query, k):
        return [("d#n", "query " + str(len(query)))]
    def read(self, ids, token_budget):
        return "read " + ",".join(ids)
    def everything(self, token_budget):
        return ""

replies = json.loads(sys.stdin.read())
seen = []

async def model(name, messages, *, temperature, max_tokens):
    seen.append(messages[-1]["content"])
    return Generation(text=replies[len(seen) - 1], input_tokens=1, output_tokens=1)

spec = RunSpec(models=["m"], conditions=["agentic_rag"], samples=0, agent_steps=len(replies))
with tempfile.TemporaryDirectory() as out:
    asyncio.run(run_models([item("1", "B", n_opt=4)], spec, model, Path(out) / "r", retriever=Retriever()))
print(json.dumps(seen[1:]))
"""


def test_replies_that_make_the_action_pattern_backtrack_are_read_in_linear_time() -> None:
    replies = [
        "\n" * 400_000 + "SEARCH: lamps",
        "SEARCH: a" + " " * 400_000 + "b\n",
        "read: d#n  \n",
        "Answer: B",
    ]
    proc = subprocess.run(
        [sys.executable, "-c", RUN],
        input=json.dumps(replies),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)
    assert results[0] == "SEARCH result:\nd#n: query 5"
    assert results[1] == f"SEARCH result:\nd#n: query {400_002}"
    assert results[2].startswith("READ result:\nread d#n")


METADATA = """
import sys
from ogmux.tools.objectgraph.metadata import llm_metadata
from ogmux.tools.objectgraph.model import Node

node = Node(id="oil", doc="lamps", title="Lantern oil", full="Lanterns burn whale oil in winter.")
reply = sys.stdin.read()
print(llm_metadata(node, lambda messages: reply))
"""


def test_a_metadata_reply_of_unclosed_braces_is_read_in_linear_time() -> None:
    """`ogmux transpile --llm` cut the JSON object out of the model's reply with `\\\\{.*\\\\}`: quadratic in a
    reply of unclosed braces (20,000: 0.16 s; 400,000: over a minute)."""
    reply = "{" * 400_000
    proc = subprocess.run(
        [sys.executable, "-c", METADATA], input=reply, capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "None"  # no JSON object: extractive metadata is used instead


def test_a_metadata_reply_nested_past_the_parser_depth_is_no_object() -> None:
    """JSON nested 100,000 deep raised RecursionError out of the metadata step, stopping the transpile."""
    from ogmux.tools.objectgraph.metadata import llm_metadata
    from ogmux.tools.objectgraph.model import Node

    node = Node(id="oil", doc="lamps", title="Lantern oil", full="Lanterns burn whale oil in winter.")
    assert llm_metadata(node, lambda messages: '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}") is None
    reply = 'Sure: {"keywords": ["oil"], "dense": "Lanterns burn whale oil."} done'
    assert llm_metadata(node, lambda messages: reply) == (["oil"], "Lanterns burn whale oil.")
