"""A tape that follows data rows: which values are per-row, which are sums over rows.

``option batch`` evaluates the objective on a batch of m of the N data rows.
That is only an unbiased estimate of the objective when the objective is
affine in sums (or means) over rows of per-row values. ``RowTape`` records
like ``Tape`` and, for every value-mode equation, works out from its
primitive and its inputs' kinds what the result is:

* free: does not depend on the rows (parameters, constants);
* rows at axis a: entry i along axis a depends only on row i of the data;
* a row sum: a sum over the rows, rescaled by N/m as it is recorded (so a
  batch estimates the sum over all rows; ``mean`` divides by N too, see
  ``mean_count``), and since then only combined linearly with free values;
* tainted: anything else (a max over rows, rows mixed with each other, a
  nonlinear function of a row sum), with the span and the reason.

The objective must be a row sum (``row_objective_error`` says why not,
located). Derivative equations (reverse mode) are not followed: they are
correct for whatever the value equations compute.
"""

from __future__ import annotations

from diffopt.errors import DopError
from diffopt.ir.tape import Tape
from diffopt.ops.registry import Var, shape_of
from diffopt.ops.structure import ALL

# Linear in one row-sum argument when the others are free.
_LINEAR = {"add", "sub", "neg", "index", "reshape", "broadcast_to", "transpose", "sum",
           "sum_to", "concat", "stack", "stop_grad"}
_SCALING = {"mul": (0, 1), "dmul": (0, 1), "div": (0,)}  # which argument may be the row sum
_REDUCTIONS = {"sum", "prod", "max", "min", "norm", "logsumexp"}
_ALONG_AXIS = {"cumsum", "rcumsum", "one_hot_argmax"}


class RowTape(Tape):
    """A ``Tape`` over a batch of ``rows`` of the ``full_rows`` data rows."""

    def __init__(self, rows: int, full_rows: int):
        super().__init__()
        self.rows = rows
        self.full_rows = full_rows
        self.row_axis: dict[int, int] = {}  # slot -> axis along which it runs over rows
        self.row_sums: set[int] = set()
        self.tainted: dict[int, tuple] = {}  # slot -> (span, reason)
        self.row_inputs: list[int] = []  # data columns, in the order they are passed
        self.draws: list[tuple] = []  # (slot, kind, low, high): fresh per step
        self.whole_tables: dict = {}  # the sliced tables whole: what a const is computed from

    # ------------------------------------------------------------ inputs

    def row_input(self, value) -> Var:
        """A data column (or matrix) of ``rows`` rows: an input of the compiled program."""
        var = self.new_slot(value)
        self.row_axis[var.id] = 0
        self.row_inputs.append(var.id)
        return var

    def draw_input(self, kind: str, sample, low: float, high: float) -> Var:
        """A random draw the trainer replaces by a fresh sample at every step."""
        var = self.new_slot(sample)
        self.draws.append((var.id, kind, low, high))
        return var

    def rows_of(self, value) -> bool:
        """Does ``value`` depend on the batch rows?"""
        if value.__class__ is not Var:
            return False
        slot = value.id
        return slot in self.row_axis or slot in self.row_sums or slot in self.tainted

    def mean_count(self, value, axis, count: int) -> float:
        """What ``mean`` divides by: N/m times the batch count when it averages
        over the rows (its sum is rescaled by N/m), else ``count``."""
        if value.__class__ is not Var or value.id not in self.row_axis:
            return count
        if axis is None or axis == self.row_axis[value.id]:
            return count * self.full_rows / self.rows
        return count

    # ------------------------------------------------------------ recording

    def record(self, p, args, params):
        out = super().record(p, args, params)
        if self.mode != "value" or out.__class__ is not Var:
            return out
        kinds = [self._kind(a) for a in args]
        if all(k is None for k in kinds):
            return out
        for k in kinds:
            if k is not None and k[0] == "taint":
                self.tainted.setdefault(out.id, k[1])
                return out
        if any(k is not None and k[0] == "sum" for k in kinds):
            self._after_sum(p, kinds, out)
            return out
        return self._rows(p, args, params, kinds, out)

    def _kind(self, a):
        if a.__class__ is not Var:
            return None
        slot = a.id
        if slot in self.tainted:
            return ("taint", self.tainted[slot])
        if slot in self.row_sums:
            return ("sum",)
        if slot in self.row_axis:
            return ("rows", self.row_axis[slot])
        return None

    def _taint(self, out: Var, reason: str) -> Var:
        self.tainted.setdefault(out.id, (self.span, reason))
        return out

    def _after_sum(self, p, kinds, out: Var) -> None:
        sums = [i for i, k in enumerate(kinds) if k is not None and k[0] == "sum"]
        if any(k is not None and k[0] == "rows" for k in kinds):
            self._taint(out, f"'{_word(p.name)}' combines data rows with a sum over the rows "
                             "(a batch statistic)")
        elif p.name in _LINEAR or p.name == "select" and 0 not in sums:
            self.row_sums.add(out.id)
        elif p.name in _SCALING and len(sums) == 1 and sums[0] in _SCALING[p.name]:
            self.row_sums.add(out.id)
        else:
            self._taint(out, f"'{_word(p.name)}' of a sum over the rows: the batch value is "
                             "a biased estimate")

    def _row_sum(self, out: Var) -> Var:
        """``out`` (a sum over the batch rows) times N/m: it estimates the sum over all."""
        if self.rows != self.full_rows:
            from diffopt.ops.core import mul

            out = Tape.record(self, mul, (out, float(self.full_rows) / self.rows), {})
        self.row_sums.add(out.id)
        return out

    def _rows(self, p, args, params, kinds, out: Var) -> Var:
        name = p.name
        out_shape = shape_of(out)
        axes = [None if k is None else k[1] for k in kinds]
        if p.elementwise or name == "select":
            return self._elementwise(args, axes, out, out_shape)
        present = {a for a in axes if a is not None}
        if len(present) > 1 and name != "matmul":
            return self._taint(out, f"'{name}' combines data rows along different axes")
        axis = min(present)
        if name in _REDUCTIONS:
            reduce_axis = params.get("axis")
            if reduce_axis is None or reduce_axis == axis:
                if name == "sum":
                    return self._row_sum(out)
                return self._taint(out, f"'{_word(name)}' over the data rows: a batch gives "
                                        "a biased estimate of it over all rows")
            return self._mark(out, axis - (reduce_axis < axis))
        if name in _ALONG_AXIS:
            along = params.get("axis")
            if along is None or along == axis:
                return self._taint(out, f"'{name}' along the data rows mixes rows")
            return self._mark(out, axis)
        if name == "matmul":
            return self._matmul(args, axes, out, out_shape)
        if name == "transpose":
            return self._mark(out, len(out_shape) - 1 - axis)
        if name == "broadcast_to":
            return self._mark(out, axis + len(out_shape) - len(shape_of(args[0])))
        if name == "reshape":
            return self._reshape(shape_of(args[0]), axis, out, out_shape)
        if name == "index":
            return self._index(params["spec"], axis, out)
        if name in ("concat", "stack"):
            return self._join(name, params, axis, out)
        return self._taint(out, f"'{name}' of data rows is not computed row by row")

    def _mark(self, out: Var, axis: int) -> Var:
        self.row_axis[out.id] = axis
        return out

    def _elementwise(self, args, axes, out, out_shape) -> Var:
        ndim = len(out_shape)
        placed = {a + ndim - len(shape_of(x)) for x, a in zip(args, axes) if a is not None}
        if len(placed) > 1:
            return self._taint(out, "this combines data rows along different axes")
        (axis,) = placed
        for x, a in zip(args, axes):
            shape = shape_of(x)
            position = axis - (ndim - len(shape))
            if a is None and position >= 0 and shape[position] != 1:
                return self._taint(out, "this combines data rows with a value of as many "
                                        "entries that option batch does not slice")
        return self._mark(out, axis)

    def _matmul(self, args, axes, out, out_shape) -> Var:
        sa = shape_of(args[0])
        a_axis, b_axis = axes
        a_contracted = a_axis is not None and a_axis == len(sa) - 1
        b_contracted = b_axis is not None and b_axis == 0
        if a_contracted and b_contracted:
            return self._row_sum(out)
        if a_contracted or b_contracted:
            return self._taint(out, "'@' sums data rows against a value that option batch "
                                    "does not slice")
        if a_axis is not None and b_axis is not None:
            return self._taint(out, "'@' pairs every data row with every other")
        return self._mark(out, 0 if a_axis is not None else len(out_shape) - 1)

    def _reshape(self, before, axis, out, after) -> Var:
        prefix = 1
        for n in before[:axis]:
            prefix *= n
        running = 1
        for j, n in enumerate(after):
            if running == prefix and n == before[axis]:
                return self._mark(out, j)
            running *= n
        return self._taint(out, "this reshape mixes the data rows")

    def _index(self, spec, axis, out) -> Var:
        if axis < len(spec) and spec[axis] != ALL:
            return self._taint(out, "this picks some of the data rows: a batch holds other "
                                    "rows than the whole table")
        dropped = sum(1 for item in spec[:axis] if not isinstance(item, tuple))
        return self._mark(out, axis - dropped)

    def _join(self, name, params, axis, out) -> Var:
        along = params.get("axis", 0)
        if name == "stack":
            return self._mark(out, axis + 1 if along <= axis else axis)
        if along == axis:
            return self._taint(out, "concat along the data rows mixes rows")
        return self._mark(out, axis)


def _word(name: str) -> str:
    return {"pow": "^", "mul": "*", "div": "/", "matmul": "@", "add": "+", "sub": "-",
            "neg": "-"}.get(name, name)


def row_objective_error(tape: RowTape, objective, option_span) -> DopError | None:
    """Why the objective is not a sum (or mean) over rows, located; None when it is."""
    if objective.__class__ is Var:
        slot = objective.id
        if slot in tape.row_sums:
            return None
        if slot in tape.tainted:
            span, reason = tape.tainted[slot]
            return DopError(f"option batch needs an objective that is a mean or sum over data "
                            f"rows: {reason}", span,
                            hint="write the objective as mean(...) or sum(...) of per-row "
                                 "terms, plus terms that do not read the data")
    return DopError("option batch: the objective does not read any data rows", option_span,
                    hint="batches slice the rows of the data tables the objective reads")
