"""Implicit functions: ``root(x: g, init=x0)`` and ``argmin(x: f, init=x0)``.

Assumption: the solution x* satisfies g(x*, θ) = 0 (for ``argmin``,
g = ∇ₓf) with ∂g/∂x invertible there. Then, by the implicit function
theorem, dx*/dθ = −(∂g/∂x)⁻¹ ∂g/∂θ, and that is how both modes
differentiate x* (like JAX's ``custom_root``) — never by unrolling the
solver, so memory does not grow with its iterations:

* forward (numeric): ẋ = −(∂g/∂x)⁻¹ (∂g/∂θ · θ̇), from a trace of g at x*;
* reverse (staged): λ = (∂g/∂x)⁻ᵀ x̄ and θ̄ = −(∂g/∂θ)ᵀ λ, recorded by
  tracing g(x*, θ) on the outer tape, so the gradient stays a tape and
  forward mode over it gives Hessians through the implicit function too.

The value comes from damped Newton steps with the engine's own Jacobian of g
(forward mode, one tangent per unknown). When it does not converge, or
∂g/∂x is singular, the error names the call's span.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffopt.errors import DopTypeError, NumericalError, ShapeError
from diffopt.ops.linalg import linsolve
from diffopt.ops.registry import Abstract, Var, as_array, format_shape, prim, shape_of
from diffopt.syntax import ast
from diffopt.tape import Tape, forward, stage_vjp

DEFAULT_TOL = 1e-12
DEFAULT_MAX_ITER = 100


def REGISTRY_TRANSPOSE(A):  # noqa: N802 - resolved lazily: linalg registers transpose
    from diffopt.ops.registry import REGISTRY

    return REGISTRY["transpose"](A)


def reshape_p(x, shape):
    from diffopt.ops.registry import REGISTRY

    return REGISTRY["reshape"](x, shape=shape)


# ------------------------------------------------------- the implicit primitive


@dataclass(eq=False)
class ImplicitSolver:
    """Everything one ``root``/``argmin`` call site needs, shared by its rules."""

    kind: str  # "root" or "argmin"
    var: str
    body: ast.Expr
    scope: object
    machine: object
    free: tuple  # names of traced outer values g depends on
    init: np.ndarray
    tol: float
    max_iter: int
    span: object

    # g(x, θ) traced on ``tape`` with x and θ given (Vars or arrays)
    def g(self, tape: Tape, x, outer: list):
        from diffopt.interp import Machine

        subs = dict(zip(self.free, outer))
        machine = Machine("trace", tape=tape)
        machine.globals = self.machine.globals.child(subs)
        value = machine.eval(self.body, self.scope.child({**subs, self.var: x}))
        if self.kind == "argmin":
            if not isinstance(value, Var) or not isinstance(x, Var):
                return np.zeros(shape_of(x))
            # ∇ₓf of just the equations recorded above (not the whole outer tape)
            (gx,) = stage_vjp(tape, value, np.ones(()), [x.id])
            return gx
        return value

    def solve(self, outer_values: list) -> np.ndarray:
        x = np.array(self.init, dtype=np.float64)
        size = x.size
        norm = np.inf
        first_norm = None
        for _ in range(self.max_iter):
            tape = Tape()
            xv = tape.new_input(x)
            g = self.g(tape, xv, [as_array(v) for v in outer_values])
            if not isinstance(g, Var):
                return x  # g does not depend on x: nothing to solve for
            gval = np.ravel(g.value)
            norm = float(np.max(np.abs(gval))) if gval.size else 0.0
            if not np.isfinite(norm):
                raise NumericalError(f"{self.kind}: g is not finite at x = {_show(x)}",
                                     self.span)
            first_norm = norm if first_norm is None else first_norm
            if norm <= self.tol:
                return x
            _, (dots,) = forward(tape, [x], [np.eye(size).reshape((size,) + x.shape)],
                                 [g.id], size)
            J = dots.reshape(size, size).T
            try:
                step = np.linalg.solve(J, -gval)
            except np.linalg.LinAlgError:
                raise NumericalError(
                    f"{self.kind}: ∂g/∂x is singular at x = {_show(x)}; the solution is not "
                    "locally unique there",
                    self.span,
                ) from None
            new_x = self._damped(x, step.reshape(x.shape), norm, outer_values)
            stalled = np.all(np.abs(new_x - x) <= 4 * np.finfo(float).eps * (1 + np.abs(x)))
            if stalled and norm <= 1e-8 * max(1.0, first_norm):
                return new_x  # rounding level: g cannot be made smaller in float64
            x = new_x
        raise NumericalError(
            f"{self.kind} did not converge in {self.max_iter} iterations "
            f"(|g| = {norm:.3g} at x = {_show(x)})",
            self.span,
            hint="try a start value closer to the solution with init=",
        )

    def _damped(self, x, step, norm, outer_values):
        # Halve the Newton step until |g| decreases: keeps far starts from diverging.
        t = 1.0
        for _ in range(30):
            trial = x + t * step
            tape = Tape()
            g = self.g(tape, tape.new_input(trial), [as_array(v) for v in outer_values])
            value = np.ravel(as_array(g.value if isinstance(g, Var) else g))
            trial_norm = float(np.max(np.abs(value))) if value.size else 0.0
            if np.isfinite(trial_norm) and trial_norm < norm:
                return trial
            t *= 0.5
        return x + t * step

    # d x* — forward (numeric) and reverse (staged), by the implicit function theorem
    def jvp(self, tangents, outer_values, x_star):
        tape = Tape()
        xv = tape.new_input(x_star)
        thetas = [tape.new_input(v) for v in outer_values]
        g = self.g(tape, xv, thetas)
        size = x_star.size
        k = next(t.shape[0] for t in tangents if t is not None)
        inputs = [x_star] + [as_array(v) for v in outer_values]
        _, (jx,) = forward(tape, inputs, [np.eye(size).reshape((size,) + x_star.shape)]
                           + [None] * len(thetas), [_slot(g)], size)
        _, (jt,) = forward(tape, inputs, [None] + list(tangents), [_slot(g)], k)
        Jx = jx.reshape(size, size).T
        rhs = jt.reshape(k, size)
        try:
            solved = np.linalg.solve(Jx, rhs.T).T
        except np.linalg.LinAlgError:
            raise NumericalError(f"{self.kind}: ∂g/∂x is singular at the solution", self.span) \
                from None
        return -solved.reshape((k,) + x_star.shape)

    def fjvp(self, tangents, outer, x_star):
        """Staged forward rule: ẋ = −(∂g/∂x)⁻¹ (∂g/∂θ · θ̇), recorded on the tape."""
        from diffopt.tape import stage_jvp

        tape = x_star.tape
        g = self.g(tape, x_star, list(outer))
        if not isinstance(g, Var):
            return None
        seeds = {v.id: t for v, t in zip(outer, tangents) if isinstance(v, Var) and t is not None}
        if not seeds:
            return None
        fixed = (x_star.id,)  # ∂g/∂θ holds x* fixed: its equation is a leaf here
        (g_dot,) = stage_jvp(tape, seeds, [g.id], stop=fixed)
        shape = x_star.shape
        if shape == ():
            (dgdx,) = stage_jvp(tape, {x_star.id: np.ones(())}, [g.id], stop=fixed)
            return -(g_dot / dgdx)
        size = x_star.value.size
        columns = []
        for i in range(size):
            seed = np.zeros(size)
            seed[i] = 1.0
            (column,) = stage_jvp(tape, {x_star.id: seed.reshape(shape)}, [g.id], stop=fixed)
            columns.append(reshape_p(column, shape=(size,)) if shape_of(column) != (size,)
                           else column)
        from diffopt.ops.registry import BUILTINS

        Jx = REGISTRY_TRANSPOSE(BUILTINS["stack"].fn(*columns))  # columns ∂g/∂x_i
        step = linsolve(Jx, reshape_p(g_dot, shape=(size,)))
        return -reshape_p(step, shape=shape)

    def vjp(self, cotangent, outer, x_star):
        tape = x_star.tape
        g = self.g(tape, x_star, list(outer))
        if not isinstance(g, Var):
            return [None] * len(outer)
        shape = x_star.shape
        if shape == ():
            (dgdx,) = stage_vjp(tape, g, np.ones(()), [x_star.id])
            lam = cotangent / dgdx
        else:
            size = x_star.value.size
            rows = []
            for i in range(size):
                seed = np.zeros(size)
                seed[i] = 1.0
                (row,) = stage_vjp(tape, g, seed.reshape(shape), [x_star.id])
                rows.append(reshape_p(row, shape=(size,)) if shape_of(row) != (size,) else row)
            from diffopt.ops.registry import BUILTINS

            Jx = BUILTINS["stack"].fn(*rows)
            lam = linsolve(REGISTRY_TRANSPOSE(Jx), reshape_p(cotangent, shape=(size,)))
            lam = reshape_p(lam, shape=shape)
        wrt = [v.id for v in outer if isinstance(v, Var)]
        grads = iter(stage_vjp(tape, g, lam, wrt, stop=(x_star.id,)))
        return [(-next(grads)) if isinstance(v, Var) else None for v in outer]


def _slot(g):
    return g.id if isinstance(g, Var) else as_array(g)


def _show(x) -> str:
    x = np.asarray(x)
    return f"{float(x):.6g}" if x.ndim == 0 else np.array2string(x, precision=6)


def _implicit_impl(*outer, solver):
    return solver.solve(list(outer))


def _implicit_shape(*shapes, solver):
    return tuple(np.shape(solver.init))


implicit = prim(
    "implicit",
    _implicit_impl,
    nargs=-1,
    shape=_implicit_shape,
    jvp=lambda tangents, inputs, out, solver: solver.jvp(tangents, inputs, out),
    vjp=lambda g, inputs, out, solver: solver.vjp(g, inputs, out),
    fjvp=lambda tangents, inputs, out, solver: solver.fjvp(tangents, inputs, out),
    domain=(),
    doc="x* of root(x: g, init=) / argmin(x: f, init=) (internal)",
)


# ---------------------------------------------------------------- the call


def implicit_call(machine, node: ast.Call, scope):
    """Evaluate ``root(x: g, init=x0)`` or ``argmin(x: f, init=x0)``."""
    kind = node.func.id
    if len(node.args) != 1 or not isinstance(node.args[0], ast.Lambda):
        raise DopTypeError(f"{kind} takes one 'x: expression' argument and init=",
                           node.span, hint=f"{kind}(x: x^3 - p, init=1)")
    lam: ast.Lambda = node.args[0]
    options = {"init": None, "tol": DEFAULT_TOL, "max_iter": DEFAULT_MAX_ITER}
    for keyword in node.keywords:
        if keyword.name not in options:
            raise DopTypeError(f"'{kind}' has no keyword argument '{keyword.name}' "
                               "(keywords: init, tol, max_iter)", keyword.span)
        value = machine.reenter(keyword.value, scope)
        if isinstance(value, Var):
            value = value.value  # a start value: where it came from does not matter
        if isinstance(value, Abstract):
            raise DopTypeError(f"'{keyword.name}' must be a constant", keyword.value.span)
        options[keyword.name] = as_array(value)
    if options["init"] is None:
        raise DopTypeError(f"'{kind}' needs a start value: init=...", node.span)
    init = np.array(options["init"], dtype=np.float64)
    if init.ndim > 1:
        raise ShapeError(f"{kind}: the unknown must be a scalar or a vector, not shape "
                         f"{format_shape(init.shape)}", node.span)
    if machine.mode == "check":
        value = machine.reenter(lam.body, scope.child({lam.var: Abstract(init.shape)}))
        wanted = init.shape if kind == "root" else ()
        if shape_of(value) != wanted:
            what = "g must have the shape of x" if kind == "root" else "f must be a scalar"
            raise ShapeError(f"{kind}: {what}: got {format_shape(shape_of(value))}, "
                             f"expected {format_shape(wanted)}", lam.body.span)
        return Abstract(init.shape)
    free = _free_traced(lam, scope, machine)
    solver = ImplicitSolver(kind, lam.var, lam.body, scope, machine, tuple(free), init,
                            float(options["tol"]), int(options["max_iter"]), node.span)
    outer = [scope.lookup(name) if _has(scope, name) else machine.globals.lookup(name)
             for name in free]
    if machine.tape is not None:
        machine.tape.span = node.span
    if not outer:
        return solver.solve([])
    return implicit(*outer, solver=solver)


def _has(scope, name) -> bool:
    try:
        scope.lookup(name)
        return True
    except KeyError:
        return False


def _free_traced(lam: ast.Lambda, scope, machine) -> list[str]:
    """Names of traced values the body reads, also through def bodies."""
    from diffopt.interp import _Def

    found: list[str] = []
    pending = [(lam.body, scope)]
    seen_defs = set()
    while pending:
        body, where = pending.pop()
        for node in ast.postorder(body):
            if not isinstance(node, (ast.Name, ast.Call)):
                continue
            name = node.id if isinstance(node, ast.Name) else getattr(node.func, "id", None)
            if name is None or name == lam.var:
                continue
            try:
                value = where.lookup(name)
            except KeyError:
                continue
            if isinstance(value, Var) and name not in found:
                found.append(name)
            elif isinstance(value, _Def) and name not in seen_defs:
                seen_defs.add(name)
                pending.append((value.node.body, machine.globals))
    return found
