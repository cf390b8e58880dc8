"""Running a whole .dop program: declarations, simulation blocks, the objective.

A ``Runner`` runs the program once, with parameters as Vars on a fresh tape:
at the start point that run both checks (shapes, bounds, options, data;
branches not taken are explored speculatively, see ``machine``) and
records the program, guards included; at another point it re-records.
diffopt.check.passes holds the two entry points (``check``, ``trace``).
Statements execute from an explicit frame stack (loops, if/else, break),
never by recursion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffopt import budget
from diffopt.check import declarations, loops
from diffopt.check.machine import Machine
from diffopt.check.problem import RunSettings
from diffopt.check.values import ConstraintValue, Definition, RunResult, Scope, Table, is_constant
from diffopt.errors import DopError, DopTypeError, ShapeError
from diffopt.ir.tape import Tape
from diffopt.notices import unique
from diffopt.ops import random as dop_random
from diffopt.ops.registry import Abstract, broadcast_shapes, format_shape, shape_of
from diffopt.source import Source
from diffopt.syntax import ast

_AUGMENTED = {"+=": "add", "-=": "sub", "*=": "mul", "/=": "div"}


@dataclass
class Trace:
    """One recording of the program: its tape and what the program produced."""

    tape: Tape
    result: RunResult


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
    shadow: Scope | None = None  # speculative: where var assignments go instead of globals
    owner: bool = False  # the outermost speculative frame: leaves speculation when done
    loop: ast.For | None = None  # the loop statement (warnings, budget refusals name it)
    loop_bytes: int = -1  # the tape's bytes when the loop's first step began (-1: judged)
    crossing: loops.Crossing | None = None  # its `break when` between passes
    exit_branch: ast.Break | None = None  # an exit decided by the parameters
    steps: int = 0  # a loop's number of steps


@dataclass
class _Collected:
    """What the checking pass finds besides the trace (frozen into the problem)."""

    params: list = field(default_factory=list)
    options: dict = field(default_factory=dict)
    option_spans: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    objective: tuple = (None, "minimize", None)  # name, sense, span


class Runner:
    def __init__(self, source: Source, program: ast.Program, settings: RunSettings,
                 tape: Tape, param_values: list | None, tables: dict,
                 const_inputs: frozenset = frozenset()):
        self.source = source
        self.const_inputs = const_inputs  # consts recorded as tape slots (sensitivity)
        self.program = program
        self.settings = settings
        self.tape = tape
        self.param_values = param_values  # flat-layout arrays per parameter (re-traces)
        self.checking = param_values is None
        self.globals = Scope({})
        self.machine = Machine(tape, self.checking, self.globals)
        self.collected = _Collected(tables=tables)
        self.result = RunResult()
        self.var_shapes: dict[str, tuple] = {}
        self.n_constraints = 0
        self.n_params = 0
        self.breaks: dict = {}  # loops.break_inside's cache
        self.warned: set = set()  # (loop, break) pairs already reported

    def run(self) -> RunResult:
        frames = [_Frame(self.program.statements, self.globals)]
        machine, tape = self.machine, self.tape
        while frames:
            frame = frames[-1]
            if frame.index >= len(frame.statements):
                if frame.loop_var is not None and frame.loop_next < frame.loop_stop:
                    self._next_iteration(frame)
                    continue
                if frame.exit_branch is not None and not frame.speculative:
                    machine.notices.append(loops.ran_out(frame.loop, frame.exit_branch,
                                                         frame.steps))
                frames.pop()
                if frame.owner:
                    machine.speculate(-1)
                continue
            stmt = frame.statements[frame.index]
            frame.index += 1
            try:
                self._statement(stmt, frame, frames)
            except DopError as exc:  # raised below the expressions: the statement's place
                raise exc.located(stmt.span) from None
        assert tape.abstract == 0
        self.result.names = self.globals.names
        self.result.notices = unique(machine.notices)
        return self.result

    def _statement(self, stmt, frame: _Frame, frames: list) -> None:
        """Run one statement (loops and branches push frames for their bodies)."""
        machine = self.machine
        kind = type(stmt)
        if kind is ast.For:
            lo, hi = machine.range_bounds(stmt.range, frame.scope)
            if lo < hi:
                loop = _Frame(stmt.body, frame.scope, loop_var=stmt.var, loop_next=lo,
                              loop_stop=hi, speculative=frame.speculative,
                              outer=frame.scope, shadow=frame.shadow, loop=stmt, steps=hi - lo,
                              loop_bytes=-1 if loops.break_inside(stmt.body, self.breaks)
                              else self.tape.bytes_used)
                self._next_iteration(loop)
                node = loops.break_when_of(stmt.body)
                if node is not None:
                    loop.crossing = loops.start(machine, node, loop.scope, self._vars(loop))
                frames.append(loop)
        elif kind is ast.If:
            self._if(stmt, frame, frames)
        elif kind is ast.Break:
            if stmt.when is not None:
                self._break_when(frame, frames)
                return
            if frame.speculative:
                return
            while frames and frames[-1].loop_var is None:
                frames.pop()
            frames.pop()
        else:
            self._simple(stmt, frame)

    def _vars(self, frame: _Frame) -> dict:
        return {name: frame.scope.lookup(name) for name in self.var_shapes}

    def _break_when(self, frame: _Frame, frames: list):
        """A pass through `break when` (it stands directly in the loop's body)."""
        crossing = frame.crossing
        ended = loops.passed(self.machine, crossing, frame.scope, self._vars(frame),
                             frame.speculative)
        if ended is None:
            if loops.depends_on_parameters(crossing.g) and not frame.speculative:
                frame.exit_branch = crossing.node
            return
        for name, value in ended.items():
            self.globals.names[name] = value
            self.result.vars[name] = value
        frames.pop()

    def _next_iteration(self, frame: _Frame):
        if frame.loop_bytes >= 0 and frame.index:  # the first step is done: judge the rest
            steps_left = frame.loop_stop - frame.loop_next
            try:
                budget.check_loop(steps_left, self.tape.bytes_used - frame.loop_bytes,
                                  self.tape.bytes_used)
            except DopError as exc:
                raise exc.located(frame.loop.span) from None
            frame.loop_bytes = -1
        frame.index = 0
        frame.scope = frame.outer.child({frame.loop_var: np.array(float(frame.loop_next))})
        frame.loop_next += 1

    def _if(self, stmt: ast.If, frame: _Frame, frames: list):
        test = self.machine.eval(stmt.test, frame.scope)
        decided = self.machine.truth(test, stmt.test.span)
        if decided is None:  # speculating already: explore both branches
            for body in (stmt.orelse, stmt.body):
                if body:
                    frames.append(self._block(body, frame, speculative=True))
            return
        body = stmt.body if decided else stmt.orelse
        other = stmt.orelse if decided else stmt.body
        if not frame.speculative and loops.depends_on_parameters(test):
            loops.exit_decided(stmt, frames, self.breaks, self.warned, self.machine.notices)
        if body:
            frames.append(self._block(body, frame, speculative=frame.speculative))
        if self.checking and other and not frame.speculative and not is_constant(test):
            # the branch not taken is checked too, first (a break in the taken
            # one cannot skip it; speculation leaves no trace to be ordered)
            frames.append(self._block(other, frame, speculative=True))

    def _block(self, body, frame: _Frame, speculative: bool) -> _Frame:
        scope = frame.scope.child()
        if not speculative:
            return _Frame(body, scope)
        if frame.speculative:
            return _Frame(body, scope, speculative=True, shadow=frame.shadow)
        # the outermost speculative frame runs next: speculation starts now
        self.machine.speculate(1)
        return _Frame(body, scope, speculative=True, shadow=scope, owner=True)

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
            self.globals.names[stmt.name] = Definition(stmt)
        elif kind is ast.Objective:
            self._objective(stmt)
        elif kind is ast.Constraint:
            self._constraint(stmt)
        elif kind is ast.Assign:
            self._assign(stmt, frame)
        else:  # pragma: no cover
            raise AssertionError(kind)

    def _binding(self, kind: str, binding: ast.Binding, frame: _Frame):
        machine, name, tables = self.machine, binding.name, self.collected.tables
        if kind == "option":
            if self.checking:
                self.collected.options[name] = declarations.option_value(
                    machine, self.globals, binding)
                self.collected.option_spans[name] = binding.value.span
            return
        if kind == "const" and name in self.settings.sets:
            value = self.settings.sets[name]
        elif kind == "data" and tables.get(name) is not None:
            value = tables[name]
            if not (is_constant(value) or isinstance(value, Table)):  # batch rows (batching)
                frame.scope.names[name] = value
                return
        elif kind == "data" and name in self.settings.data_paths and not _is_csv(binding.value):
            value = declarations.inline_override(binding.value, name, self.source, self.settings)
        elif kind == "data" and _is_csv(binding.value):
            machine.loader = lambda node: declarations.load_table(node, name, self.source,
                                                                  self.settings)
            try:
                value = machine.eval(binding.value, frame.scope)
            finally:
                machine.loader = None
        elif kind in ("const", "data"):
            value = self._fixed(binding, frame)
        else:
            value = machine.eval(binding.value, frame.scope)
        if kind == "const" and name in self.const_inputs and is_constant(value):
            value = self.tape.new_slot(value)
            self.result.const_inputs[name] = value
        if kind in ("const", "data") and not (is_constant(value) or isinstance(value, Table)) \
                and not (kind == "const" and self.const_inputs):
            # (a const computed from a const recorded as an input is traced too)
            rows = getattr(self.tape, "rows_of", None)
            if rows is not None and rows(value):
                raise DopTypeError(
                    f"{kind} '{name}' is computed from data rows that option batch slices; "
                    "use 'let' for values derived from them", binding.value.span)
            raise DopTypeError(
                f"{kind} '{name}' depends on a parameter; use 'let' for derived values",
                binding.value.span,
            )
        if isinstance(value, str):
            raise DopTypeError("a string is only allowed as a file name or an option",
                               binding.value.span)
        if kind in ("const", "data") and is_constant(value) and np.isnan(value).any():
            raise DopTypeError(f"{kind} '{name}' is not a number (NaN)", binding.value.span,
                               hint="a NaN would make every value that uses it NaN")
        if kind == "data":
            tables[name] = value
        if kind == "var":
            self.var_shapes[name] = shape_of(value)
            self.result.vars[name] = value
        frame.scope.names[name] = value
        if kind == "let" and frame.scope is self.globals:
            self.result.lets[name] = value

    def _fixed(self, binding: ast.Binding, frame: _Frame):
        """A const's value: random draws in it stay fixed for the run, even where
        stochastic methods draw fresh values at every step (see ops.random), and
        under mini-batches it is computed from all rows of the data (diffopt.batching)."""
        whole = getattr(self.tape, "whole_tables", None)  # batches: a const sees all rows
        scope = frame.scope.child(dict(whole)) if whole else frame.scope
        with dop_random.fixed_draws():
            return self.machine.eval(binding.value, scope)

    def _param(self, item: ast.ParamItem):
        if self.checking:
            params = self.collected.params
            offset = sum(p.size for p in params)
            spec = declarations.param_spec(self.machine, self.globals, item, self.settings,
                                           len(params), offset)
            params.append(spec)
            start = spec.start
        else:
            start = self.param_values[self.n_params]
        self.n_params += 1
        self.globals.names[item.name] = self.tape.new_input(start)

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
        self.collected.objective = (stmt.label, stmt.sense, stmt.expr.span)

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
            left, right, kind = (b, a, "le") if op in (">=", ">") else (a, b, "le" if op in (
                "<=", "<") else "eq")
            try:
                value = self.machine._apply("sub", left, right)
            except ShapeError as exc:  # the two sides of the comparison
                exc.message = f"the two sides of '{op}': {exc.message}"
                raise exc.located(node.span) from None
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
        current = frame.scope.lookup(name)
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
        if frame.speculative:  # checked only: the real values stay untouched
            frame.shadow.names[name] = Abstract(shape)
            return
        if shape_of(value) != shape:
            value = machine._apply("broadcast_to", value, shape=shape)
        self.globals.names[name] = value
        self.result.vars[name] = value


def _is_csv(node) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "csv")

