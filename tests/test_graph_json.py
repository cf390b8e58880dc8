"""``diffopt graph --json``: the expression graph as data, for other tools."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from diffopt.cli import app

TERRAIN = Path(__file__).resolve().parent.parent / "problems" / "terrain.dop"
runner = CliRunner()


def test_graph_json_is_the_text_trees_graph_with_spans_into_the_source():
    result = runner.invoke(app, ["graph", str(TERRAIN), "--json"])
    assert result.exit_code == 0, result.stderr
    graph = json.loads(result.stdout)
    nodes = {node["id"]: node for node in graph["nodes"]}
    assert graph["objective"] in nodes and nodes[graph["objective"]]["op"] == "add"
    # the same nodes as the text tree, which prints every slot once as "%N = ..."
    text = runner.invoke(app, ["graph", str(TERRAIN)]).stdout
    assert {int(n) for n in re.findall(r"%(\d+) = ", text)} == \
        {i for i in nodes if isinstance(i, int)}
    for edge in graph["edges"]:
        assert edge["from"] in nodes and edge["to"] in nodes
    lines = TERRAIN.read_text(encoding="utf-8").splitlines()
    params = {n["name"] for n in graph["nodes"] if n["op"] == "param"}
    assert params == {"x1", "x2"}
    for node in graph["nodes"]:
        span = node.get("span")
        if span is None:
            continue
        source = lines[span["line"] - 1][span["col"] - 1:]
        if node["op"] == "param":
            assert source.startswith(node["name"])
        elif node["op"] == "sqrt":
            assert source.startswith("sqrt(")
    assert any(n["op"] == "const" and n["value"] == 20.0 for n in graph["nodes"])  # h


def test_graph_quiet_still_prints_the_graph():
    path = str(Path(__file__).resolve().parents[1] / "problems" / "terrain.dop")
    loud = CliRunner().invoke(app, ["graph", path])
    quiet = CliRunner().invoke(app, ["graph", "-q", path])
    assert loud.exit_code == quiet.exit_code == 0
    assert quiet.stdout == loud.stdout and quiet.stdout.startswith("minimize time\n")
