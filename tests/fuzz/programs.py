"""Grammar-aware generation of .dop programs from a chooser.

A chooser answers ``choice(seq)``, ``integer(lo, hi)`` and ``boolean()``.
Two are provided: ``RandomChooser`` (a seeded ``random.Random``, for the long
run: case ``n`` of seed ``s`` is always the same program) and
``HypothesisChooser`` (hypothesis's ``data.draw``, so the bounded test gets
hypothesis's search and shrinking). The programs follow dop(5): parameters
(scalars and vectors, with bounds and random starts), constants and data,
lets built from the operators and built-in functions, options, simulation
blocks with loops, branches and breaks, constraints and an objective --
mostly valid, with the edge values (0, -0, huge, tiny, inf, nan) that make
numerics hard.
"""

from __future__ import annotations

import random

NUMBERS = ("0", "1", "2", "0.5", "-1", "3", "1e-300", "1e308", "1e-8", "100", "-0.0", "7",
           "inf", "2.5e3", "1e16", "0.1", "1.5", "4", "0.25", "10")
UNARY = ("exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "softplus",
         "log1p", "expm1", "atan", "erf", "cbrt", "floor", "round", "sign", "stop_grad",
         "ste_round", "ste_step", "asin", "acos", "cosh", "sinh", "tan")
REDUCE = ("sum", "mean", "max", "min", "prod", "norm", "logsumexp", "sumsq", "soft_max",
          "softmax", "cumsum", "soft_sort", "soft_rank", "soft_argmax", "len")
BINARY_FN = ("atan2", "hypot", "maximum", "minimum", "dot", "straight_through")
OPERATORS = ("+", "-", "*", "/", "^", "+", "-", "*", "/", "@")
OPTIONS = ('method = "lbfgs"', 'method = "lm"', 'method = "gd"', 'method = "newton"',
           'method = "nelder-mead"', 'method = "adam"', "max_iter = 50", "tol = 1e-6",
           "lr = 0.01", 'mode = "forward"', "max_iter = 0", 'method = "bfgs"', "max_iter = 5")


class RandomChooser:
    def __init__(self, seed: int):
        self.random = random.Random(seed)

    def choice(self, seq):
        return seq[self.random.randrange(len(seq))]

    def integer(self, lo: int, hi: int) -> int:
        return self.random.randint(lo, hi)

    def boolean(self, p: float = 0.5) -> bool:
        return self.random.random() < p


class HypothesisChooser:
    def __init__(self, data):
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def choice(self, seq):
        return self.data.draw(self.st.sampled_from(seq))

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw(self.st.integers(lo, hi))

    def boolean(self, p: float = 0.5) -> bool:
        return self.data.draw(self.st.booleans())


vectors: list[str] = []  # names known to be vectors, for indexing (reset per program)


def expression(c, names: list[str], depth: int = 0) -> str:
    """An expression over ``names``, built without recursion past a small depth."""
    if depth >= 3 or c.integer(0, 3) == 0:
        return c.choice(names) if names and c.boolean(0.7) else c.choice(NUMBERS)
    kind = c.integer(0, 6)
    a = expression(c, names, depth + 1)
    if kind == 0:
        return f"{c.choice(UNARY)}({a})"
    if kind == 1:
        return f"{c.choice(REDUCE)}({a})"
    if kind == 2:
        return f"{c.choice(BINARY_FN)}({a}, {expression(c, names, depth + 1)})"
    if kind == 3:
        return f"-{a}" if c.boolean() else f"({a})"
    if kind == 4:
        b, d = expression(c, names, depth + 1), expression(c, names, depth + 1)
        return f"where({a} > 0, {b}, {d})" if c.boolean() else f"clip({a}, {b}, {d})"
    if kind == 5 and vectors:
        return f"{c.choice(vectors)}[{c.integer(-1, 2)}]"
    return f"{a} {c.choice(OPERATORS)} {expression(c, names, depth + 1)}"


def program(c) -> str:
    """A whole program: declarations, maybe a simulation block, an objective."""
    lines: list[str] = []
    names: list[str] = []
    vectors.clear()
    for i in range(c.integer(1, 3)):
        name = f"p{i}"
        size = c.choice(("", "", "[2]", "[3]", "[1]"))
        start = c.choice(("= " + c.choice(NUMBERS), "~ normal(0, 1)", "~ uniform(-1, 1)",
                          "= 0.5", "= 0", "= 1") + (("= [1, 2]",) if size == "[2]" else ()))
        bounds = c.choice(("", "", "", "", " in [0, 10]", " in [-1, 1]", " in [-inf, inf]",
                           " in [-2, 2]", " in [1, 0]"))
        if size:
            vectors.append(name)
        lines.append(f"param {name}{size}{bounds} {start}")
        names.append(name)
    for i in range(c.integer(0, 2)):
        lines.append(f"const k{i} = {c.choice(NUMBERS + ('[1, 2, 3]', '[[1, 2], [3, 4]]'))}")
        names.append(f"k{i}")
    if c.boolean(0.3):
        lines.append("data d = [1, 2, 3, 4]")
        names.append("d")
        vectors.append("d")
    for _ in range(c.integer(0, 2)):
        lines.append(f"option {c.choice(OPTIONS)}")
    for i in range(c.integer(0, 3)):
        lines.append(f"let l{i} = {expression(c, names)}")
        names.append(f"l{i}")
    if c.boolean(0.35):
        lines.append(f"var s = {expression(c, names)}")
        lines.append(f"for i in 0..{c.choice(('3', '10', '0', '100', '-2'))} {{")
        lines.append(f"    s = s + {expression(c, names + ['i', 's'])}")
        if c.boolean():
            lines.append(f"    if s > {c.choice(NUMBERS)} {{")
            lines.append("        break")
            lines.append("    }")
        elif c.boolean():  # an interpolated exit (break when)
            lines.append(f"    break when s {c.choice(('<', '>', '<=', '>='))} "
                         f"{c.choice(NUMBERS)}")
        lines.append("}")
        names.append("s")
    if c.boolean(0.25):
        lines.append(f"subject to {expression(c, names)} <= {c.choice(NUMBERS)}")
    sense = c.choice(("minimize", "minimize", "maximize"))
    lines.append(f"{sense} {expression(c, names)}")
    return "\n".join(lines) + "\n"
