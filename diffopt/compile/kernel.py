"""The kernel of a fused region: generated Python source over blocks of rows.

``build_region`` turns a Region (compile.regions) into one with its kernel:
``kernel(*args) -> tuple of outs``. The generated source has a prelude of
scalar factors (computed once per call, as Python floats), a ``block(lo,
hi, T)`` function that evaluates rows ``lo:hi`` of every elementwise
operation into scratch arrays ``T`` and returns the block's partial sums,
and an epilogue that scales the summed partials. For example
``mean((d / s * 60 - m)^2)`` with its gradient becomes::

    def kernel(x0, x1):
        c0 = _float(x0)
        c1 = (1.0 / c0)
        c2 = (c1 * 60.0)
        ...
        def block(lo, hi, T):
            n = hi - lo
            a0 = _A0[lo:hi]
            a1 = _A1[lo:hi]
            t0 = _mul(a0, c2, out=T[0][:n])
            t1 = _F1(t0, a1, out=T[1][:n])
            return (_dot(t1, t1), _dot(t1, a0))
        ...

Elementwise operations run through their primitives' own implementations
(on blocks, with ``out=`` when they write into one), so the values are the
unfused program's, up to the reassociation of scalar factors.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from diffopt.compile.blocks import Scratch, run_blocks
from diffopt.compile.regions import Region, sink_kind
from diffopt.ops.registry import Prim

__all__ = ["build_region"]


class _Writer:
    """Accumulates the prelude, block body and namespace of one kernel."""

    def __init__(self, region: Region, values):
        self.values = values
        self.prelude: list = []
        self.body: list = []
        self.namespace: dict = {"_float": float, "_dot": np.dot, "_sum": np.add.reduce,
                                "_mul": np.multiply, "_div": np.divide, "_empty": np.empty,
                                "_isfinite": math.isfinite}
        self.scalars: list = []  # prelude names that must be finite and nonzero
        self.temps = 0
        self.count = 0
        self.arrays: dict = {}  # external array key -> block-local name
        self.rep: dict = {}  # slot -> ("array", name, scale) or ("scalar", name)
        for position, slot in enumerate(region.args):
            if values[slot].shape == ():
                name = self.fresh("c")
                self.prelude.append(f"{name} = _float(x{position})")
                self.rep[slot] = ("scalar", name)
            else:
                self.rep[slot] = ("array", self.external(f"x{position}", None), None)

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def external(self, source: str, constant) -> str:
        """A block-local slice name for an array from outside the region."""
        key = source if constant is None else id(constant)
        name = self.arrays.get(key)
        if name is None:
            name = f"a{len(self.arrays)}"
            self.arrays[key] = name
            if constant is not None:
                self.namespace[f"_K{name}"] = np.asarray(constant).reshape(-1)
                self.prelude.append(f"_X{name} = _K{name}")
            else:
                self.prelude.append(f"_X{name} = {source}.reshape(-1)")
            self.body.append(f"{name} = _X{name}[lo:hi]")
        return name

    def operand(self, a):
        if isinstance(a, int):
            return self.rep[a]
        if np.ndim(a) == 0:
            return ("scalar", repr(float(a)))
        return ("array", self.external("", a), None)

    def scalar(self, expression: str) -> str:
        name = self.fresh("c")
        self.prelude.append(f"{name} = {expression}")
        self.scalars.append(name)
        return name

    def temp(self, expression: str, fn: Prim | None = None) -> str:
        """A block array computed by ``expression`` (a call missing its out=)."""
        name = self.fresh("t")
        writes = fn is None or fn.writes_out
        out = f", out=T[{self.temps}][:n])" if writes else ")"
        if writes:
            self.temps += 1
        self.body.append(f"{name} = {expression}{out}")
        return name

    def plain(self, rep) -> str:
        """A block array of ``rep`` with its scale applied."""
        if rep[0] == "scalar":
            return rep[1]
        _, name, scale = rep
        return name if scale is None else self.temp(f"_mul({name}, {scale}")

    def function(self, prim: Prim) -> str:
        name = f"_F{len(self.namespace)}"
        self.namespace[name] = prim.impl
        return name


def _times(w: _Writer, a: str | None, b: str | None, op: str = "*") -> str | None:
    """The product (or quotient) of two scale factors; None stands for 1."""
    if b is None:
        return a
    if a is None:
        return b if op == "*" else w.scalar(f"(1.0 / {b})")
    return w.scalar(f"({a} {op} {b})")


def _member(w: _Writer, eqn) -> tuple:
    """The representation of an elementwise member's result, emitting its work."""
    ops = [w.operand(a) for a in eqn.args]
    name = eqn.prim.name
    kinds = [o[0] for o in ops]
    if name == "neg":
        return ("array", ops[0][1], _times(w, ops[0][2], "-1.0"))
    if name == "mul" and "scalar" in kinds:
        array, scalar = (ops[0], ops[1]) if kinds[0] == "array" else (ops[1], ops[0])
        return ("array", array[1], _times(w, array[2], scalar[1]))
    if name == "div" and kinds == ["array", "scalar"]:
        return ("array", ops[0][1], _times(w, ops[0][2], ops[1][1], "/"))
    if name == "mul" and kinds == ["array", "array"]:
        product = w.temp(f"_mul({ops[0][1]}, {ops[1][1]}")
        return ("array", product, _times(w, ops[0][2], ops[1][2]))
    if name == "div" and kinds == ["array", "array"]:
        quotient = w.temp(f"_div({ops[0][1]}, {ops[1][1]}")
        return ("array", quotient, _times(w, ops[0][2], ops[1][2], "/"))
    if name == "div" and kinds == ["scalar", "array"]:
        numerator = _times(w, ops[0][1], ops[1][2], "/")
        return ("array", w.temp(f"_div({numerator}, {ops[1][1]}"), None)
    args = ", ".join(w.plain(o) for o in ops)
    return ("array", w.temp(f"{w.function(eqn.prim)}({args}", eqn.prim), None)


def _sink(w: _Writer, eqn, partial: int) -> str:
    """Emit a reduction's block partial; return the epilogue expression of its total."""
    kind = sink_kind(eqn)
    ops = [w.operand(a) for a in eqn.args]
    if kind == "sum_of_squares":
        (_, name, scale), = ops
        w.body.append(f"p{partial} = _dot({name}, {name})")
        factor = None if scale is None else w.scalar(f"({scale} * {scale})")
    elif kind == "sum":
        (_, name, scale), = ops
        w.body.append(f"p{partial} = _sum({name}, axis=None)")
        factor = scale
    else:  # sum_of_products / sum_of_safe_products: (a, b, scale_a, scale_b)
        a, b, ka, kb = ops
        w.body.append(f"p{partial} = _dot({a[1]}, {b[1]})")
        factor = _times(w, _times(w, ka[1], kb[1]), _times(w, a[2], b[2]))
    return f"P[{partial}]" if factor is None else f"(P[{partial}] * {factor})"


def build_region(region: Region, values) -> Region:
    """``region`` with its compiled kernel as ``prim.impl``."""
    w = _Writer(region, values)
    totals: list = []
    escapes: dict = {}
    outs = set(region.outs)
    for eqn in region.members:
        if sink_kind(eqn) is not None:
            totals.append(_sink(w, eqn, len(totals)))
            continue
        w.rep[eqn.out] = rep = _member(w, eqn)
        if eqn.out in outs:
            escapes[eqn.out] = rep
    rows = math.prod(region.shape)
    names = ", ".join(f"x{i}" for i in range(len(region.args)))
    lines = [f"def kernel({names}):"]
    lines += [f"    {line}" for line in w.prelude]
    if w.scalars:
        checks = " and ".join(f"_isfinite({c}) and {c} != 0.0" for c in w.scalars)
        lines.append(f"    if not ({checks}):")
        lines.append(f"        return _unfused({names})")
    for k in range(len(escapes)):
        lines.append(f"    E{k} = _empty({rows})")
    lines.append("    def block(lo, hi, T):")
    lines.append("        n = hi - lo")
    lines += [f"        {line}" for line in w.body]
    for k, (_, name, scale) in enumerate(escapes.values()):
        if scale is None:
            lines.append(f"        E{k}[lo:hi] = {name}")
        else:
            lines.append(f"        _mul({name}, {scale}, out=E{k}[lo:hi])")
    returned = "".join(f"p{i}, " for i in range(len(totals)))
    lines.append(f"        return ({returned})")
    lines.append(f"    parts = _run(block, {rows}, _scratch)")
    lines.append("    P = [sum(column) for column in zip(*parts)]")
    results = totals + [f"E{k}.reshape({region.shape!r})" for k in range(len(escapes))]
    if totals:
        lines.append(f"    R = ({''.join(f'{t}, ' for t in totals)})")
        lines.append("    if not all(_isfinite(r) for r in R):")
        lines.append(f"        return _unfused({names})")
        results = [f"R[{i}]" for i in range(len(totals))] + results[len(totals):]
    lines.append(f"    return ({''.join(f'{r}, ' for r in results)})")
    source = "\n".join(lines) + "\n"
    namespace = w.namespace
    namespace.update(_run=run_blocks, _scratch=Scratch(w.temps),
                     _unfused=_unfused_program(region))
    exec(compile(source, "<diffopt fused region>", "exec"), namespace)
    kernel = namespace["kernel"]
    kernel.source = source
    prim = Prim("fused_region", kernel, shape=lambda *shapes: (), nargs=-1, fresh=True)
    return replace(region, prim=prim)


def _unfused_program(region: Region):
    """The region's equations one at a time on whole arrays: NumPy's exact results."""
    members = region.members
    arg_slots = region.args
    outs = region.outs

    def unfused(*inputs):
        env = dict(zip(arg_slots, inputs))
        with np.errstate(all="ignore"):
            for eqn in members:
                args = [env[a] if isinstance(a, int) else a for a in eqn.args]
                env[eqn.out] = eqn.prim.impl(*args, **eqn.params)
        return tuple(env[o] for o in outs)

    return unfused
