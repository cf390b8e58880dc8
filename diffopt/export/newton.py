"""The exported module's damped Newton solver for ``root``/``argmin`` calls.

``newton_source(target)`` is the text of ``_newton``, ``_damped``, ``_solve``
and ``_show``, emitted once into a module whose program has an implicit
call (diffopt.export.codegen writes each call's body as a nested function
``_root_17(x, *θ, with_jacobian=True) -> (flat g, ∂g/∂x)`` and the call as
``x = _newton(_root_17, init, (θ...), tol, max_iter, "f.dop:17:9: root")``).

It mirrors ``diffopt.ops.implicit.newton`` and ``_damped`` step for step —
the same start (``init``), stopping rules (max |g| ≤ tol; a stalled step at
rounding level), damping (halve up to 30 times until max |g| decreases) and
iteration limit — so the exported x* is diffopt's to rounding. Its failures
are ``ValueError``s naming the call's place in the .dop file, with
diffopt's wording: g not finite, ∂g/∂x singular, no convergence. With jax
the loop is a Python loop over jax arrays (no in-place writes; it is not
``jax.jit``-traceable), and a singular ∂g/∂x shows as a non-finite solve
(jax does not raise).

Must not import the CLI or Rich.
"""

from __future__ import annotations

_NEWTON = '''\
def _newton(g_and_jacobian, x0, theta, tol, max_iter, call):
    """x with g(x, *theta) = 0 by damped Newton steps from x0, as diffopt solves it.

    call: "file.dop:LINE:COL: root" (or argmin), which begins the errors (ValueError).
    """
    x = xp.asarray(x0, dtype=xp.float64)
    norm, first_norm = np.inf, None
    for _ in range(max_iter):
        g, jacobian = g_and_jacobian(x, *theta)
        norm = float(xp.max(xp.abs(g))) if g.size else 0.0
        if not np.isfinite(norm):
            raise ValueError(f"{call}: g is not finite at x = {_show(x)}")
        first_norm = norm if first_norm is None else first_norm
        if norm <= tol:
            return x
        step = _solve(jacobian, -g)
        if step is None:
            raise ValueError(f"{call}: ∂g/∂x is singular at x = {_show(x)}; the solution "
                             "is not locally unique there")
        new_x = _damped(g_and_jacobian, x, step.reshape(x.shape), norm, theta)
        stalled = bool(xp.all(xp.abs(new_x - x) <= 4 * np.finfo(float).eps * (1 + xp.abs(x))))
        if stalled and norm <= 1e-8 * max(1.0, first_norm):
            return new_x  # rounding level: g cannot be made smaller in float64
        x = new_x
    raise ValueError(f"{call} did not converge in {max_iter} iterations (|g| = {norm:.3g} "
                     f"at x = {_show(x)}); try a start value closer to the solution with init=")


def _damped(g_and_jacobian, x, step, norm, theta):
    """Halve the Newton step until max |g| decreases (keeps far starts from diverging)."""
    t = 1.0
    for _ in range(30):
        trial = x + t * step
        g, _ = g_and_jacobian(trial, *theta, with_jacobian=False)
        trial_norm = float(xp.max(xp.abs(g))) if g.size else 0.0
        if np.isfinite(trial_norm) and trial_norm < norm:
            return trial
        t *= 0.5
    return x + t * step


def _show(x):
    x = np.asarray(x)
    return f"{float(x):.6g}" if x.ndim == 0 else np.array2string(x, precision=6)
'''

_SOLVE = {
    "numpy": '''\
def _solve(a, b):
    """a⁻¹ b, or None when a is singular."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return None
''',
    "jax": '''\
def _solve(a, b):
    """a⁻¹ b, or None when a is singular (jax gives inf/nan there instead of raising)."""
    x = xp.linalg.solve(a, b)
    if bool(xp.all(xp.isfinite(x))) or not bool(xp.all(xp.isfinite(a))):
        return x
    return None
''',
}


def newton_source(target: str) -> str:
    """The solver's source for ``target`` ("numpy" or "jax")."""
    return _NEWTON + "\n\n" + _SOLVE[target]
