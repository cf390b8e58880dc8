"""Sensitivity of an optimum to the problem's constants (``solve --sensitivity``).

At a solution x* of  min F(x; c)  s.t.  g(x; c) <= 0 (or == 0), with
F = f (or -f for ``maximize``) and multipliers λ (∇ₓF + Σ λᵢ ∇ₓgᵢ = 0,
λᵢ >= 0 for inequalities, 0 for the inactive ones):

- the optimal objective moves by ∂L/∂c = ∂F/∂c + Σ λᵢ ∂gᵢ/∂c (envelope
  theorem; L the Lagrangian), reported for f as written;
- the optimum moves by the implicit function theorem on the KKT conditions
  of the active set A (parameters held at an active bound are fixed):
      [H  Jᵀ] [dx/dc]     [∂²L/∂x∂c]
      [J  0 ] [dλ/dc] = − [∂g_A/∂c ],   H = ∂²L/∂x², J = ∂g_A/∂x.
  A singular matrix means the sensitivity does not exist: a warning, and no
  parameter derivatives.

Constants become differentiable by tracing the program again at x* with
the chosen consts recorded as slots of their own (``check.passes.trace``
with ``const_inputs``); every derivative is then staged on that tape by
reverse mode (``ad.reverse``), whose eager values are the numbers needed.
A const computed from another chosen const is traced in a later round with
the first held fixed, so each derivative means what re-solving with
``--set`` that const means. A const that must stay a constant (a range
bound, a shape) is skipped with the reason. Parameter bounds stay fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffopt.ad.reverse import stage_gradient, stage_vjp
from diffopt.check.passes import trace
from diffopt.check.problem import entry_labels
from diffopt.errors import DopError, UsageError, did_you_mean
from diffopt.ops.registry import REGISTRY, Var, bind
from diffopt.sema import declarations_of
from diffopt.source import Span

ACTIVE_TOL = 1e-6  # an inequality within this of its limit is active (solve tol is 1e-8)
MAX_DEFAULT_ENTRIES = 10_000  # larger consts are left out unless named by --wrt
SINGULAR_RCOND = 1e-10  # smallest/largest singular value of the KKT matrix below this: singular


@dataclass(frozen=True)
class SensitivityWarning:
    """Why some sensitivities are missing or doubtful (printed like a NaN warning)."""

    message: str
    span: Span | None

    def describe(self) -> str:
        return self.message


@dataclass(frozen=True)
class Sensitivity:
    """Derivatives of the optimum with respect to constants, and the multipliers.

    ``wrt``: one label per scalar const entry (``v1``, ``pattern[0, 3]``);
    ``objective[j]``: d f*/d wrt[j] (f as written); ``params[i, j]``:
    d x*_i / d wrt[j] (None when the KKT matrix is singular);
    ``multipliers``: constraint label -> λ (0 when inactive).
    """

    wrt: tuple
    values: np.ndarray
    objective: np.ndarray
    param_labels: tuple
    params: np.ndarray | None
    multipliers: dict
    active_bounds: tuple
    skipped: tuple  # (const name, reason)
    warnings: tuple

    def to_json(self) -> dict:
        out = {
            "wrt": list(self.wrt),
            "values": self.values.tolist(),
            "objective": dict(zip(self.wrt, self.objective.tolist())),
            "params": None if self.params is None else {
                label: dict(zip(self.wrt, row.tolist()))
                for label, row in zip(self.param_labels, self.params)},
            "multipliers": dict(self.multipliers),
            "active_bounds": list(self.active_bounds),
            "skipped": [{"const": name, "reason": why} for name, why in self.skipped],
            "singular": self.params is None and bool(self.wrt),
        }
        out["warnings"] = [w.message for w in self.warnings]
        return out


def chosen_consts(problem, wrt: list[str] | None) -> list[str]:
    """The consts named by ``--wrt`` (every const without it); UsageError for another name."""
    consts = declarations_of(problem.program, ("const",))
    names = list(dict.fromkeys(wrt)) if wrt else consts
    for name in names:
        if name not in consts:
            raise UsageError(f"--wrt {name}: no const named '{name}'",
                             hint=did_you_mean(name, consts))
    return names


def sensitivity(session, x, *, wrt: list[str] | None = None,
                converged: bool = True) -> Sensitivity:
    """The sensitivities at the solution ``x`` (flat) of ``session``'s problem."""
    problem = session.problem
    names = chosen_consts(problem, wrt)
    large = [] if wrt else [name for name in names
                            if np.size(session.start_names.get(name, 0)) > MAX_DEFAULT_ENTRIES]
    names = [name for name in names if name not in large]
    values = [np.asarray(v, dtype=np.float64) for v in problem.unflatten(x).values()]
    rounds, skipped = _rounds(problem, values, names)
    skipped = [(name, f"{np.size(session.start_names[name])} entries are too many to include "
                      "by default; name it with --wrt") for name in large] + skipped
    warnings = []
    if not converged:
        warnings.append(SensitivityWarning(
            "the solve did not converge: the sensitivities are of a point that may not "
            "be an optimum", problem.objective_span))
    surrogate = next((eqn for recorded in rounds[:1] for eqn in recorded.tape.eqns
                      if eqn.mode == "value" and eqn.prim.surrogate), None)
    if surrogate is not None:
        warnings.append(SensitivityWarning(
            f"{surrogate.prim.name} has a surrogate derivative by design: the sensitivities "
            "follow it, not the true dependence of the optimum", surrogate.span))
    labels, const_values, d_objective, d_params = [], [], [], []
    multipliers, active_bounds, singular, dependent = {}, (), False, ()
    # without a const to differentiate, one plain trace still gives the multipliers
    for recorded in rounds or [trace(problem, values)]:
        part = _at_trace(problem, x, recorded)
        multipliers, active_bounds = part["multipliers"], part["active_bounds"]
        singular = singular or part["dx"] is None
        dependent = dependent or part["dependent"]
        for (name, var), (start, stop) in zip(recorded.result.const_inputs.items(),
                                              part["columns"]):
            value = var.value
            labels.extend(entry_labels(name, value.shape))
            const_values.extend(np.ravel(value))
            d_objective.extend(part["df"][start:stop])
            if part["dx"] is not None:
                d_params.append(part["dx"][:, start:stop])
    singular = singular and bool(labels)
    if dependent and labels:
        warnings.append(SensitivityWarning(
            "the gradients of the active constraints are linearly dependent at the optimum "
            f"({', '.join(dependent)}): the multipliers are not unique and the derivatives "
            "of the parameters do not exist", problem.objective_span))
    elif singular:
        warnings.append(SensitivityWarning(
            "the Hessian at the optimum is singular (the optimum is not isolated): "
            "the derivatives of the parameters do not exist", problem.objective_span))
    n = problem.n
    by_label = dict(zip(labels, range(len(labels))))
    order = [label for name in names for label in by_label if _owner(label) == name]
    index = [by_label[label] for label in order]
    params = None
    if not singular:
        params = np.hstack(d_params)[:, index] if d_params else np.zeros((n, 0))
    return Sensitivity(
        wrt=tuple(order), values=np.array(const_values)[index] if index else np.zeros(0),
        objective=np.array(d_objective)[index] if index else np.zeros(0),
        param_labels=tuple(problem.param_labels()), params=params,
        multipliers=multipliers, active_bounds=active_bounds,
        skipped=tuple(skipped), warnings=tuple(warnings))


def _owner(label: str) -> str:
    return label.split("[", 1)[0]


# ------------------------------------------------------------------ tracing


def _rounds(problem, values, names) -> tuple[list, list]:
    """Traces in which every chosen, differentiable const is an input exactly once.

    A round records all remaining consts as inputs; those computed from
    another input come out traced rather than as inputs, and wait for the next
    round (where the consts they came from are constants again).
    """
    remaining, skipped, rounds = list(names), [], []
    while remaining:
        try:
            recorded = trace(problem, values, frozenset(remaining))
        except DopError:
            usable = []
            for name in remaining:
                try:
                    trace(problem, values, frozenset([name]))
                    usable.append(name)
                except DopError as exc:
                    where = f" (line {exc.span.line})" if exc.span is not None else ""
                    why = exc.message.replace(" (it depends on a parameter)", "")
                    skipped.append((name, why + where))
            remaining = usable
            continue
        done = set(recorded.result.const_inputs)
        if not done:  # cannot happen: the first remaining const is always a constant
            break
        rounds.append(recorded)
        remaining = [name for name in remaining if name not in done]
    return rounds, skipped


# ------------------------------------------------------------------ derivatives


def _flat(pieces) -> np.ndarray:
    if not pieces:
        return np.zeros(0)
    return np.concatenate([np.ravel(p.value if isinstance(p, Var) else p) for p in pieces])


def _rows(tape, output, wrt: list[int]) -> np.ndarray:
    """The Jacobian of ``output`` (any shape) with respect to ``wrt``, one row per entry."""
    size = sum(tape.values[s].size for s in wrt)
    value = output.value if isinstance(output, Var) else np.asarray(output)
    if not isinstance(output, Var):
        return np.zeros((value.size, size))
    rows = []
    for i in range(value.size):
        seed = np.zeros(value.size)
        seed[i] = 1.0
        rows.append(_flat(stage_vjp(tape, output, seed.reshape(value.shape), wrt)))
    return np.array(rows).reshape(value.size, size)


def _at_trace(problem, x, recorded) -> dict:
    """Multipliers and derivatives with respect to one round's const inputs."""
    tape, result = recorded.tape, recorded.result
    n = problem.n
    const_slots = [v.id for v in result.const_inputs.values()]
    wrt = list(tape.inputs) + const_slots
    columns, start = [], 0
    for v in result.const_inputs.values():
        columns.append((start, start + v.value.size))
        start += v.value.size
    sign = -1.0 if problem.sense == "maximize" else 1.0
    with np.errstate(all="ignore"):
        objective = result.objective
        minimized = objective * sign if isinstance(objective, Var) else objective
        grad_f = _flat(stage_gradient(tape, minimized, wrt)) if isinstance(minimized, Var) \
            else np.zeros(len(_flat([tape.values[s] for s in wrt])))
        cons, labels, kinds, jac = [], [], [], []
        for c in result.constraints:
            value = c.value.value if isinstance(c.value, Var) else np.asarray(c.value)
            cons.append(np.ravel(value))
            labels.extend(entry_labels(c.name, value.shape))
            kinds.extend([c.kind] * value.size)
            jac.append(_rows(tape, c.value, wrt))
    g = np.concatenate(cons) if cons else np.zeros(0)
    J = np.vstack(jac) if jac else np.zeros((0, len(grad_f)))
    lower, upper = problem.bounds()
    lam, active, at_bound = _multipliers(grad_f[:n], J[:, :n], g, np.array(kinds, dtype=object),
                                         x, lower, upper)
    # the Lagrangian's Hessian rows over the free parameters: reverse over reverse
    free = np.flatnonzero(~at_bound)
    with np.errstate(all="ignore"):
        lagrangian = minimized
        for c, (lo, hi) in zip(result.constraints, _spans([len(v) for v in cons])):
            weights = lam[lo:hi]
            if isinstance(c.value, Var) and np.any(weights != 0):
                term = bind(REGISTRY["sum"], c.value * weights.reshape(np.shape(c.value.value)))
                lagrangian = term if not isinstance(lagrangian, Var) else lagrangian + term
        hessian_rows = np.zeros((n, len(grad_f)))
        if isinstance(lagrangian, Var):
            pieces = stage_gradient(tape, lagrangian, list(tape.inputs))
            rows = [_rows(tape, piece, wrt) for piece in pieces]
            hessian_rows = np.vstack(rows) if rows else np.zeros((0, len(grad_f)))
    d_objective = sign * (grad_f[n:] + lam @ J[:, n:])
    dx = _implicit(hessian_rows, J, active, free, n)
    rank = np.linalg.matrix_rank(J[active][:, free]) if active.any() and free.size else 0
    dependent = tuple(np.array(labels)[active]) if rank < active.sum() else ()
    return {"df": d_objective, "dx": dx, "columns": columns, "dependent": dependent,
            "multipliers": dict(zip(labels, lam.tolist())),
            "active_bounds": tuple(label for label, held in
                                   zip(problem.param_labels(), at_bound) if held)}


def _spans(sizes: list[int]) -> list[tuple[int, int]]:
    out, start = [], 0
    for size in sizes:
        out.append((start, start + size))
        start += size
    return out


def _multipliers(grad, J, g, kinds, x, lower, upper):
    """λ of the constraints (least squares on the stationarity of the Lagrangian
    over the active set, dropping inequalities whose λ comes out negative),
    the active constraints, and the parameters held at an active bound."""
    m, n = J.shape
    if not (np.all(np.isfinite(grad)) and np.all(np.isfinite(J))):
        # NaN/inf derivatives at the solution (the NaN warning says where)
        return np.full(m, np.nan), np.ones(m, dtype=bool), np.zeros(n, dtype=bool)
    eq = kinds == "eq" if m else np.zeros(0, dtype=bool)
    active = eq | (g > -ACTIVE_TOL)
    scale = 1e-9 * (1.0 + np.abs(np.concatenate([lower, upper])[np.isfinite(
        np.concatenate([lower, upper]))]).max(initial=0.0))
    at_lower = np.isfinite(lower) & (x - lower <= scale)
    at_upper = np.isfinite(upper) & (upper - x <= scale)
    bounded = at_lower | at_upper
    sign = np.where(at_upper, 1.0, -1.0)  # a bound's constraint gradient is ±e_i
    lam = np.zeros(m)
    for _ in range(m + n + 1):
        rows = [J[i] for i in np.flatnonzero(active)] + \
               [sign[i] * np.eye(n)[i] for i in np.flatnonzero(bounded)]
        if rows:
            A = np.array(rows).T
            mu = np.linalg.lstsq(A, -grad, rcond=None)[0]
        else:
            mu = np.zeros(0)
        k = int(active.sum())
        lam = np.zeros(m)
        lam[active] = mu[:k]
        bound_mu = np.zeros(n)
        bound_mu[bounded] = mu[k:]
        tiny = 1e-10 * (1.0 + np.abs(grad).max(initial=0.0))
        wrong = np.concatenate([np.where(active & ~eq, lam, 0.0), np.where(bounded, bound_mu, 0.0)])
        worst = int(np.argmin(wrong)) if wrong.size else 0
        if not wrong.size or wrong[worst] >= -tiny:
            break
        if worst < m:
            active[worst] = False
        else:
            bounded[worst - m] = False
    held = bounded & (bound_mu > 0.0) if n else bounded
    return lam, active, held


def _implicit(hessian_rows, J, active, free, n):
    """dx*/dc from the KKT system of the active set, or None when it is singular."""
    H = hessian_rows[:, :n][np.ix_(free, free)]
    H = 0.5 * (H + H.T)
    mixed = hessian_rows[free][:, n:]
    JA = J[active]
    K = np.block([[H, JA[:, free].T], [JA[:, free], np.zeros((len(JA), len(JA)))]])
    rhs = -np.vstack([mixed, JA[:, n:]])
    p = hessian_rows.shape[1] - n
    if not (np.all(np.isfinite(K)) and np.all(np.isfinite(rhs))):
        return None
    if K.size:
        s = np.linalg.svd(K, compute_uv=False)
        if not np.all(np.isfinite(s)) or s[-1] <= SINGULAR_RCOND * s[0]:
            return None
        solution = np.linalg.solve(K, rhs)
    else:
        solution = np.zeros((0, p))
    dx = np.zeros((n, p))
    dx[free] = solution[:len(free)]
    return dx
