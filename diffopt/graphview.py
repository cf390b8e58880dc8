"""``diffopt graph``: the expression graph of the objective, as text, Graphviz dot or JSON.

The graph shown is the recorded program at the start point: primitives with
their shapes and source locations, common subexpressions merged (a node used
twice is printed once and then referred to as ``(see %N)``), constants folded,
loops as the iterations that ran. Only the value part is shown, not the
staged gradient. Walks are iterative.
"""

from __future__ import annotations

import json

import numpy as np

from diffopt.ir.tape import live_equations
from diffopt.ops.registry import format_shape


def _constant_text(c) -> str:
    a = np.asarray(c)
    if a.ndim == 0:
        return f"{float(a):g}"
    return f"const{format_shape(a.shape)}"


def _label(tape, slot) -> str:
    index = tape.producer[slot]
    shape = tape.values[slot].shape
    shape_text = "" if shape == () else f" {format_shape(shape)}"
    if index < 0:
        return f"%{slot} = param {_param_name(tape, slot)}{shape_text}"
    eqn = tape.eqns[index]
    where = f"  @ {eqn.span.line}:{eqn.span.col}" if eqn.span is not None else ""
    params = ""
    if eqn.params:
        shown = {k: v for k, v in eqn.params.items() if k != "sub"}  # a sub-program
        params = "".join(f" {k}={v}" for k, v in shown.items())
    return f"%{slot} = {eqn.prim.name}{params}{shape_text}{where}"


def _param_name(tape, slot) -> str:
    names = getattr(tape, "input_names", None)
    if names:
        return names.get(slot, "")
    return ""


def render_graph(problem, recording, fmt: str = "text") -> str:
    tape = recording.tape
    tape.input_names = {s: p.name for s, p in zip(tape.inputs, problem.params)}
    root = recording.reported
    if fmt == "dot":
        return _dot(problem, tape, root)
    if fmt == "json":
        return json.dumps(graph_data(problem, tape, root)) + "\n"
    title = f"{problem.sense} {problem.objective_name or 'objective'}"
    if not isinstance(root, int):
        return f"{title} = {_constant_text(root)} (does not depend on the parameters)\n"
    lines = [title]
    printed = set()
    stack = [(root, "", True)]
    while stack:
        slot, prefix, last = stack.pop()
        connector = "└── " if last else "├── "
        if isinstance(slot, str):
            lines.append(prefix + connector + slot)
            continue
        if slot in printed:
            lines.append(prefix + connector + f"(see %{slot})")
            continue
        printed.add(slot)
        lines.append(prefix + connector + _label(tape, slot))
        index = tape.producer[slot]
        if index < 0:
            continue
        args = tape.eqns[index].args
        child_prefix = prefix + ("    " if last else "│   ")
        items = [a if isinstance(a, int) else _constant_text(a) for a in args]
        for i in range(len(items) - 1, -1, -1):
            stack.append((items[i], child_prefix, i == len(items) - 1))
    return "\n".join(lines) + "\n"


def _dot(problem, tape, root) -> str:
    out = ["digraph diffopt {", "  rankdir=BT;", '  node [shape=box, fontname="monospace"];']
    if not isinstance(root, int):
        out.append(f'  c [label="{_constant_text(root)}"];')
        out.append("}")
        return "\n".join(out) + "\n"
    for slot in tape.inputs:
        out.append(f'  n{slot} [label="{_escape(_label(tape, slot))}", shape=ellipse];')
    constant_count = 0
    for index in live_equations(tape, [root]):
        eqn = tape.eqns[index]
        out.append(f'  n{eqn.out} [label="{_escape(_label(tape, eqn.out))}"];')
        for a in eqn.args:
            if isinstance(a, int):
                out.append(f"  n{a} -> n{eqn.out};")
            else:
                constant_count += 1
                name = f"c{constant_count}"
                out.append(f'  {name} [label="{_escape(_constant_text(a))}", shape=plaintext];')
                out.append(f"  {name} -> n{eqn.out};")
    out.append("}")
    return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def graph_data(problem, tape, root) -> dict:
    """The graph as plain data: nodes (id, op, shape, span) and edges (from, to).

    Parameters are nodes with op "param" (their span is the declaration's);
    constants are nodes "c1", "c2", ... with op "const" and their value (a
    number) or shape; ``objective`` names the root node. Only the value part
    of the recording is included, as in the text tree.
    """
    def span_of(span):
        return None if span is None else {"line": span.line, "col": span.col,
                                          "end_line": span.end_line, "end_col": span.end_col}

    nodes, edges = [], []
    declared = {s: p for s, p in zip(tape.inputs, problem.params)}
    if not isinstance(root, int):
        nodes.append({"id": "c1", "op": "const", "value": float(np.asarray(root).ravel()[0])
                      if np.size(root) == 1 else None, "shape": list(np.shape(root))})
        return {"objective": "c1", "nodes": nodes, "edges": edges}
    order = live_equations(tape, [root])
    used = {a for index in order for a in tape.eqns[index].args if isinstance(a, int)}
    for slot in tape.inputs:
        if slot in used or slot == root:
            spec = declared[slot]
            nodes.append({"id": slot, "op": "param", "name": spec.name,
                          "shape": list(spec.shape), "span": span_of(spec.span)})
    constants = 0
    for index in order:
        eqn = tape.eqns[index]
        params = {k: repr(v) for k, v in eqn.params.items() if k != "sub"}
        nodes.append({"id": eqn.out, "op": eqn.prim.name, "shape": list(tape.values[eqn.out].shape),
                      "span": span_of(eqn.span), **({"params": params} if params else {})})
        for position, a in enumerate(eqn.args):
            if isinstance(a, int):
                edges.append({"from": a, "to": eqn.out, "position": position})
                continue
            constants += 1
            value = np.asarray(a)
            nodes.append({"id": f"c{constants}", "op": "const", "shape": list(value.shape),
                          "value": float(value) if value.ndim == 0 else None})
            edges.append({"from": f"c{constants}", "to": eqn.out, "position": position})
    return {"objective": root, "nodes": nodes, "edges": edges}
