"""Running a whole .dop program: declarations, simulation blocks, the objective.

``check`` runs the program once with parameters as shapes and returns a
``Problem`` (parameter layout, bounds, start point, options, loaded data): the
"checked program" every command works from. ``run_traced`` runs it again
with parameters as tape Vars at a given point. Statements execute from an
explicit frame stack (loops, if/else, break), never by recursion.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from diffopt.errors import DopNameError, DopTypeError, OptionError, ShapeError, did_you_mean
from diffopt.interp import ConstraintValue, Machine, RunResult, Scope, Table, _Def, is_constant
from diffopt.ops.registry import Abstract, Var, broadcast_shapes, format_shape, shape_of
from diffopt.source import Source, Span
from diffopt.syntax import ast

RANDOM_START_STREAM = 0x5EED  # key of the random-start streams (see _random_start)
RANDOM_POINT_STREAM = 0xA7  # key of `--at random` / check's random points

METHODS = ("auto", "gd", "momentum", "adam", "bfgs", "lbfgs", "newton", "lm", "nelder-mead")
MODES = ("auto", "forward", "reverse")

# Options a .dop file may set (command-line flags override them).
OPTIONS = {
    "method": ("string", METHODS),
    "mode": ("string", MODES),
    "max_iter": ("integer", None),
    "tol": ("positive", None),
    "lr": ("positive", None),
}


@dataclass(frozen=True)
class ParamSpec:
    name: str
    shape: tuple
    start: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    offset: int  # position of its first entry in the flat parameter vector
    span: Span

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass
class Problem:
    """A checked program, ready to evaluate, differentiate and solve."""

    source: Source
    program: ast.Program
    params: list = field(default_factory=list)
    objective_name: str | None = None
    sense: str = "minimize"
    objective_span: Span | None = None
    options: dict = field(default_factory=dict)
    option_spans: dict = field(default_factory=dict)
    seed: int = 0
    sets: dict = field(default_factory=dict)
    data_paths: dict = field(default_factory=dict)
    stdin_text: str | None = None
    tables: dict = field(default_factory=dict)
    let_names: list = field(default_factory=list)
    constraint_names: list = field(default_factory=list)

    @property
    def n(self) -> int:
        return sum(p.size for p in self.params)

    @property
    def name(self) -> str:
        return self.source.name

    def flatten(self, values: dict) -> np.ndarray:
        flat = np.empty(self.n)
        for p in self.params:
            flat[p.offset: p.offset + p.size] = np.broadcast_to(values[p.name], p.shape).ravel()
        return flat

    def unflatten(self, x: np.ndarray) -> dict:
        return {
            p.name: np.array(x[p.offset: p.offset + p.size]).reshape(p.shape) for p in self.params
        }

    def start_point(self) -> np.ndarray:
        return self.flatten({p.name: p.start for p in self.params})

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            self.flatten({p.name: p.lower for p in self.params}),
            self.flatten({p.name: p.upper for p in self.params}),
        )


# ------------------------------------------------------------------- running


@dataclass
class _Frame:
    statements: tuple
    scope: Scope
    index: int = 0
    loop_var: str | None = None
    loop_next: int = 0
    loop_stop: int = 0
    speculative: bool = False  # inside a branch explored only for checking
    outer: Scope | None = None  # a loop's enclosing scope (each iteration gets a child)


class _Runner:
    def __init__(self, problem: Problem, machine: Machine, param_values: dict | None):
        self.problem = problem
        self.machine = machine
        self.param_values = param_values
        self.globals = Scope({})
        machine.globals = self.globals
        machine.loader = None  # csv(...) is read only as a data declaration's value
        self.result = RunResult()
        self.var_shapes: dict[str, tuple] = {}
        self.checking = machine.mode == "check"
        self.n_constraints = 0

    def run(self) -> RunResult:
        frames = [_Frame(self.problem.program.statements, self.globals)]
        while frames:
            frame = frames[-1]
            if frame.index >= len(frame.statements):
                if frame.loop_var is not None and frame.loop_next < frame.loop_stop:
                    self._next_iteration(frame)
                    continue
                frames.pop()
                continue
            stmt = frame.statements[frame.index]
            frame.index += 1
            kind = type(stmt)
            if kind is ast.For:
                lo, hi = self.machine.range_bounds(stmt.range, frame.scope)
                if lo < hi:
                    loop = _Frame(stmt.body, frame.scope, loop_var=stmt.var, loop_next=lo,
                                  loop_stop=hi, speculative=frame.speculative, outer=frame.scope)
                    self._next_iteration(loop)
                    frames.append(loop)
            elif kind is ast.If:
                self._if(stmt, frame, frames)
            elif kind is ast.Break:
                if frame.speculative:
                    continue
                while frames and frames[-1].loop_var is None:
                    frames.pop()
                frames.pop()
            else:
                self._simple(stmt, frame)
        return self.result

    def _next_iteration(self, frame: _Frame):
        frame.index = 0
        frame.scope = frame.outer.child({frame.loop_var: np.array(float(frame.loop_next))})
        frame.loop_next += 1

    def _if(self, stmt: ast.If, frame: _Frame, frames: list):
        test = self.machine.eval(stmt.test, frame.scope)
        decided = self.machine.truth(test, stmt.test.span)
        if decided is None:  # checking a parameter-dependent branch: explore both
            for body in (stmt.orelse, stmt.body):
                if body:
                    frames.append(_Frame(body, frame.scope.child(), speculative=True))
            return
        body = stmt.body if decided else stmt.orelse
        if body:
            frames.append(_Frame(body, frame.scope.child(), speculative=frame.speculative))

    # -- simple statements

    def _simple(self, stmt, frame: _Frame):
        kind = type(stmt)
        if kind is ast.Decl:
            for binding in stmt.bindings:
                self._binding(stmt.kind, binding, frame)
        elif kind is ast.ParamDecl:
            for item in stmt.items:
                self._param(item)
        elif kind is ast.Def:
            self.globals.names[stmt.name] = _Def(stmt)
        elif kind is ast.Objective:
            self._objective(stmt)
        elif kind is ast.Constraint:
            self._constraint(stmt)
        elif kind is ast.Assign:
            self._assign(stmt, frame)
        else:  # pragma: no cover
            raise AssertionError(kind)

    def _binding(self, kind: str, binding: ast.Binding, frame: _Frame):
        machine = self.machine
        name = binding.name
        if kind == "option":
            if self.checking:
                self._option(binding)
            return
        if kind == "const" and name in self.problem.sets:
            value = self.problem.sets[name]
        elif kind == "data" and self.problem.tables.get(name) is not None:
            value = self.problem.tables[name]
        elif kind == "data" and name in self.problem.data_paths and not _is_csv(binding.value):
            value = self._inline_override(name, binding)
        elif kind == "data" and _is_csv(binding.value):
            machine.loader = functools.partial(self._load_table, name=name)
            try:
                value = machine.eval(binding.value, frame.scope)
            finally:
                machine.loader = None
        else:
            value = machine.eval(binding.value, frame.scope)
        if kind in ("const", "data") and not (is_constant(value) or isinstance(value, Table)):
            raise DopTypeError(
                f"{kind} '{name}' depends on a parameter; use 'let' for derived values",
                binding.value.span,
            )
        if isinstance(value, str):
            raise DopTypeError("a string is only allowed as a file name or an option",
                               binding.value.span)
        if kind == "data":
            self.problem.tables[name] = value
        if kind == "var":
            self.var_shapes[name] = shape_of(value)
            self.result.vars[name] = value
        frame.scope.names[name] = value
        if kind == "let" and frame.scope is self.globals:
            self.result.lets[name] = value

    def _inline_override(self, name: str, binding: ast.Binding) -> np.ndarray:
        """--data for inline data: the CSV's columns side by side (one column: a vector)."""
        table = self._load_table(binding.value, name)
        columns = list(table.columns.values())
        value = columns[0] if len(columns) == 1 else np.column_stack(columns)
        return np.asarray(value, dtype=np.float64)

    def _param(self, item: ast.ParamItem):
        if self.checking:
            spec = self._param_spec(item)
            self.problem.params.append(spec)
            value = Abstract(spec.shape)
        else:
            value = self.param_values[item.name]
        self.globals.names[item.name] = value

    def _param_spec(self, item: ast.ParamItem) -> ParamSpec:
        machine, scope = self.machine, self.globals
        shape = ()
        if item.dims is not None:
            shape = tuple(
                self._dimension(machine.eval(d, scope), d.span) for d in item.dims
            )
        lower = self._bound(item.lower, shape, -np.inf)
        upper = self._bound(item.upper, shape, np.inf)
        if np.any(lower > upper) or np.any((lower == upper) & np.isinf(lower)):
            raise ShapeError(f"the bounds of '{item.name}' are empty or inverted",
                             item.lower.span.to(item.upper.span))
        if item.name in self.problem.sets:
            start = self.problem.sets[item.name]
            start_span = item.name_span
        elif item.start is None:
            mid = np.where(np.isfinite(lower) & np.isfinite(upper), (lower + upper) / 2, 0.0)
            start = np.clip(mid, lower, upper)
            start_span = item.span
        elif item.random_start:
            start = self._random_start(item, shape)
            start_span = item.start.span
        else:
            start = machine.eval(item.start, scope)
            start_span = item.start.span
            if not is_constant(start):
                raise DopTypeError("a start value must be a constant", start_span)
        try:
            start = np.array(np.broadcast_to(start, shape), dtype=np.float64)
        except ValueError:
            raise ShapeError(
                f"the start value of '{item.name}' has shape {format_shape(np.shape(start))}, "
                f"which does not fit the parameter's shape {format_shape(shape)}",
                start_span,
            ) from None
        if np.any(start < lower) or np.any(start > upper):
            raise ShapeError(f"the start value of '{item.name}' lies outside its bounds",
                             start_span)
        offset = sum(p.size for p in self.problem.params)
        return ParamSpec(item.name, shape, start, lower, upper, offset, item.span)

    def _dimension(self, value, span) -> int:
        n = self.machine.integer(value, span, "a parameter size")
        if n < 0:
            raise ShapeError(f"a parameter size must not be negative, not {n}", span)
        return n

    def _bound(self, node, shape, default) -> np.ndarray:
        if node is None:
            return np.full(shape, default)
        value = self.machine.eval(node, self.globals)
        value = self.machine.constant(value, node.span, "a bound")
        try:
            return np.array(np.broadcast_to(value, shape), dtype=np.float64)
        except ValueError:
            raise ShapeError(
                f"a bound of shape {format_shape(value.shape)} does not fit shape "
                f"{format_shape(shape)}",
                node.span,
            ) from None

    def _random_start(self, item: ast.ParamItem, shape) -> np.ndarray:
        call = item.start
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id in ("normal", "uniform")):
            raise DopTypeError("'~' takes normal(mean, std) or uniform(lo, hi)", call.span)
        if len(call.args) != 2 or call.keywords:
            raise DopTypeError(
                f"'~ {call.func.id}' takes two arguments; the shape comes from the parameter",
                call.span,
            )
        a, b = (self.machine.constant(self.machine.eval(arg, self.globals), arg.span,
                                      "a random start's argument") for arg in call.args)
        # Its own stream (keyed apart from random functions' draws, which use
        # [seed, draw]), so `~ normal` and `normal(...)` never repeat each other.
        index = len(self.problem.params)
        rng = np.random.default_rng([self.problem.seed, RANDOM_START_STREAM, index])
        if call.func.id == "normal":
            return rng.normal(a, b, size=shape)
        return rng.uniform(a, b, size=shape)

    def _option(self, binding: ast.Binding):
        name = binding.name
        if name not in OPTIONS:
            raise OptionError(f"unknown option '{name}'", binding.name_span,
                              notes=[f"options: {', '.join(OPTIONS)}"],
                              hint=did_you_mean(name, OPTIONS))
        node = binding.value
        kind, choices = OPTIONS[name]
        if kind == "string":
            if not isinstance(node, ast.String):
                raise OptionError(f"option '{name}' takes a string", node.span)
            value = node.value
            if value not in choices:
                raise OptionError(f"option '{name}' must be one of {', '.join(choices)}",
                                  node.span, hint=did_you_mean(value, choices))
        elif isinstance(node, ast.Name) and node.id in ("true", "false"):
            raise OptionError(f"option '{name}' takes a number, not {node.id}", node.span)
        else:
            raw = self.machine.eval(node, self.globals) if not isinstance(node, ast.String) \
                else None
            if raw is None or not is_constant(raw) or raw.shape != ():
                raise OptionError(f"option '{name}' takes a number", node.span)
            value = float(raw)
            if kind == "integer":
                if value != int(value) or value < 0:
                    raise OptionError(f"option '{name}' takes a whole number", node.span)
                value = int(value)
            elif value <= 0:
                raise OptionError(f"option '{name}' must be positive", node.span)
        self.problem.options[name] = value
        self.problem.option_spans[name] = node.span

    def _objective(self, stmt: ast.Objective):
        value = self.machine.eval(stmt.expr, self.globals)
        if isinstance(value, (Table, str)) or shape_of(value) != ():
            shape = shape_of(value) if not isinstance(value, (Table, str)) else "table"
            raise ShapeError(
                f"the objective must be a scalar, not shape {format_shape(shape)}"
                if shape != "table" else "the objective must be a scalar, not a data table",
                stmt.expr.span,
                hint="reduce it, e.g. with sum(...) or mean(...)",
            )
        self.result.objective = value
        self.result.objective_span = stmt.expr.span
        if self.checking:
            self.problem.objective_name = stmt.label
            self.problem.sense = stmt.sense
            self.problem.objective_span = stmt.expr.span

    def _constraint(self, stmt: ast.Constraint):
        node = stmt.expr
        if not isinstance(node, ast.Compare):
            raise DopTypeError("'subject to' needs a comparison (<=, >= or ==)", node.span)
        values = [self.machine.eval(op, self.globals) for op in node.operands]
        pairs = list(zip(node.ops, values, values[1:]))
        self.n_constraints += 1  # unlabelled ones are numbered by statement
        base = stmt.label or f"constraint {self.n_constraints}"
        for j, (op, a, b) in enumerate(pairs):
            if op == "!=":
                raise DopTypeError("'!=' cannot be a constraint", node.span)
            name = base if len(pairs) == 1 else f"{base} ({j + 1})"
            self.machine.span = node.span
            if op in ("<=", "<"):
                value, kind = self.machine._apply("sub", a, b), "le"
            elif op in (">=", ">"):
                value, kind = self.machine._apply("sub", b, a), "le"
            else:
                value, kind = self.machine._apply("sub", a, b), "eq"
            self.result.constraints.append(ConstraintValue(name, kind, value, node.span))

    def _assign(self, stmt: ast.Assign, frame: _Frame):
        name = stmt.name
        if name not in self.var_shapes:
            raise DopTypeError(f"cannot assign to '{name}': it is not a var", stmt.name_span,
                               hint=f"declare it with 'var {name} = ...'")
        machine = self.machine
        value = machine.eval(stmt.value, frame.scope)
        if isinstance(value, (Table, str)):
            raise DopTypeError("only numbers and arrays can be assigned", stmt.value.span)
        current = self.globals.names[name]
        machine.span = stmt.span
        if stmt.index is not None:
            spec = machine.index_spec(stmt.index, frame.scope)
            if stmt.op != "=":
                old = machine._apply("index", current, spec=spec)
                value = machine._apply(_AUGMENTED[stmt.op], old, value)
            value = machine._apply("set_index", current, value, spec=spec)
        elif stmt.op != "=":
            value = machine._apply(_AUGMENTED[stmt.op], current, value)
        shape = self.var_shapes[name]
        try:
            if broadcast_shapes(shape_of(value), shape) != shape:
                raise ShapeError("")
        except ShapeError:
            raise ShapeError(
                f"var '{name}' has shape {format_shape(shape)}; cannot assign shape "
                f"{format_shape(shape_of(value))}",
                stmt.value.span,
            ) from None
        if shape_of(value) != shape:
            value = machine._apply("broadcast_to", value, shape=shape)
        if frame.speculative:
            value = Abstract(shape)
        self.globals.names[name] = value
        self.result.vars[name] = value

    # -- data

    def _load_table(self, node, name: str | None = None):
        from diffopt import data

        name = name or "data"
        override = self.problem.data_paths.get(name)
        span = node.span
        if override == "-":
            columns = data.load_csv("<stdin>", name=name, span=span,
                                    from_stdin_text=self.problem.stdin_text or "")
        elif override is not None:
            columns = data.load_csv(override, name=name, span=span)
        else:
            relative = node.args[0].value
            base = Path(self.problem.source.name).parent
            path = relative if Path(relative).is_absolute() else str(base / relative)
            columns = data.load_csv(path, name=name, span=span)
        return Table(name, columns)


_AUGMENTED = {"+=": "add", "-=": "sub", "*=": "mul", "/=": "div"}


def _is_csv(node) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "csv")


def check(problem: Problem) -> RunResult:
    """Run ``problem.program`` abstractly, filling in the problem's layout."""
    problem.params.clear()
    machine = Machine("check")
    result = _Runner(problem, machine, None).run()
    if result.objective is None:
        raise DopNameError("the problem has no objective",
                           problem.source.span(len(problem.source.text)),
                           hint="add 'minimize <expression>' or 'maximize <expression>'")
    problem.let_names = list(result.lets)
    problem.constraint_names = [c.name for c in result.constraints]
    return result


def run_traced(problem: Problem, tape, values: dict) -> RunResult:
    """Run the program with parameters bound to ``values`` (Vars on ``tape``)."""
    machine = Machine("trace", tape=tape)
    return _Runner(problem, machine, values).run()


__all__ = ["Problem", "ParamSpec", "check", "run_traced", "Var"]
