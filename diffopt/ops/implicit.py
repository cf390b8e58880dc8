"""The ``implicit`` primitive: x* of ``root(x: g, init=)`` and ``argmin(x: f, init=)``.

Assumption: the solution x* satisfies g(x*, θ) = 0 (for ``argmin``,
g = ∇ₓf) with ∂g/∂x invertible there. Then, by the implicit function
theorem, dx*/dθ = −(∂g/∂x)⁻¹ ∂g/∂θ, and that is how both modes
differentiate x* (like JAX's ``custom_root``) — never by unrolling the
solver, so memory does not grow with its iterations:

* forward: ẋ = −(∂g/∂x)⁻¹ (∂g/∂θ · θ̇);
* reverse: λ = (∂g/∂x)⁻ᵀ x̄ and θ̄ = −(∂g/∂θ)ᵀ λ.

Both are staged by inlining the closed sub-program (``ir.subprogram``) onto
the outer tape, so the gradient stays a tape and forward mode over it gives
Hessians through the implicit function too. The value comes from damped
Newton steps on the compiled sub-program (g and ∂g/∂x together). When it
does not converge, or ∂g/∂x is singular, the error names the call's span.
"""

from __future__ import annotations

import numpy as np

from diffopt.ad.forward import stage_jvp
from diffopt.ad.reverse import stage_vjp
from diffopt.compile.codegen import compile_outputs
from diffopt.errors import NumericalError
from diffopt.ir.subprogram import SubProgram, inline
from diffopt.ops.linalg import linsolve
from diffopt.ops.registry import BUILTINS, REGISTRY, Var, as_array, prim


def evaluate_g(sub: SubProgram, x: np.ndarray, theta: list, with_jacobian: bool = True):
    """(g, ∂g/∂x as a matrix or None, branch decisions hold) at (x, θ)."""
    key = "gJ" if with_jacobian else "g"
    program = sub.compiled.get(key)
    if program is None:
        outputs = [sub.g] + (list(sub.jacobian) if with_jacobian else [])
        program = sub.compiled[key] = compile_outputs(sub.tape, outputs, sub.tape.guards)
    inputs = [x if x.ndim else float(x)] + [as_array(t) for t in theta]
    out = program.run(inputs)
    g = np.ravel(as_array(out[0]))
    holds = bool(out[-1]) if sub.tape.guards else True
    if not with_jacobian:
        return g, None, holds
    size = x.size
    J = np.array([np.ravel(as_array(c)) for c in out[1:1 + size]]).reshape(size, size).T
    return g, J, holds


def newton(sub: SubProgram, theta: list, x0: np.ndarray) -> np.ndarray:
    """Damped Newton's method on g(·, θ) from x0 (raises a located NumericalError)."""
    x = np.array(x0, dtype=np.float64)
    if not isinstance(sub.g, int):
        return x  # g does not depend on x: nothing to solve for
    norm, first_norm = np.inf, None
    with np.errstate(all="ignore"):
        for _ in range(sub.max_iter):
            g, J, _ = evaluate_g(sub, x, theta)
            norm = float(np.max(np.abs(g))) if g.size else 0.0
            if not np.isfinite(norm):
                raise NumericalError(f"{sub.kind}: g is not finite at x = {_show(x)}", sub.span)
            first_norm = norm if first_norm is None else first_norm
            if norm <= sub.tol:
                return x
            try:
                step = np.linalg.solve(J, -g)
            except np.linalg.LinAlgError:
                raise NumericalError(
                    f"{sub.kind}: ∂g/∂x is singular at x = {_show(x)}; the solution is not "
                    "locally unique there", sub.span) from None
            new_x = _damped(sub, x, step.reshape(x.shape), norm, theta)
            stalled = np.all(np.abs(new_x - x) <= 4 * np.finfo(float).eps * (1 + np.abs(x)))
            if stalled and norm <= 1e-8 * max(1.0, first_norm):
                return new_x  # rounding level: g cannot be made smaller in float64
            x = new_x
    raise NumericalError(
        f"{sub.kind} did not converge in {sub.max_iter} iterations "
        f"(|g| = {norm:.3g} at x = {_show(x)})",
        sub.span, hint="try a start value closer to the solution with init=")


def assess(sub: SubProgram, theta: list, x: np.ndarray) -> list[str]:
    """What is doubtful about a solution x of g(·, θ) = 0: messages, none when sound.

    Warnings, not errors (the value and its derivative are still returned):
    the solve stopped above its tolerance; ∂g/∂x is nearly singular, so x is
    pinned down only loosely by |g| ≤ tol and dx/dθ (through its inverse) is
    unreliable; for ``argmin``, f curves down in some direction (a saddle or
    a maximum, not a minimum).
    """
    if not isinstance(sub.g, int):
        return []
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        g, J, _ = evaluate_g(sub, x, theta)
    norm = float(np.max(np.abs(g))) if g.size else 0.0
    if not (np.isfinite(norm) and np.all(np.isfinite(J))):
        return []
    kind, found = sub.kind, []
    if norm > sub.tol:
        found.append(f"{kind} stopped short of its tolerance: |g| = {norm:.3g} > tol = "
                     f"{sub.tol:.3g} at x = {_show(x)}")
    singular = np.linalg.svd(J, compute_uv=False) if J.size else np.zeros(0)
    smallest = float(singular.min()) if singular.size else 0.0
    spread = max(norm, sub.tol) / smallest if smallest > 0 else np.inf
    what = "∂g/∂x" if kind == "root" else "the Hessian of f"
    scalar = "∂g/∂x" if kind == "root" else "f''"
    size = (f" ({scalar} = {float(J.ravel()[0]):.3g})" if J.size == 1 else
            f" (smallest singular value {smallest:.3g})")
    if spread > 1e-6 * (1.0 + float(np.max(np.abs(x), initial=0.0))):
        found.append(f"{kind}: {what} is nearly singular at x = {_show(x)}{size}: x is "
                     f"pinned down only to about ±{spread:.2g} by |g| <= {sub.tol:.3g}, and "
                     "its derivative (through the inverse) is unreliable")
    if kind == "argmin" and J.size:
        curvature = np.linalg.eigvalsh(0.5 * (J + J.T))
        lowest, highest = float(curvature.min()), float(curvature.max())
        if lowest < -1e-8 * max(1.0, float(np.max(np.abs(curvature)))):
            shape = ("f'' = " + f"{lowest:.3g} < 0 there (a maximum or an inflection)"
                     if J.size == 1 else
                     f"its Hessian has a negative eigenvalue, {lowest:.3g} ("
                     + ("a maximum" if highest < 0 else "a saddle point") + ")")
            found.append(f"argmin: x = {_show(x)} is a stationary point of f but not a "
                         f"minimum: {shape}; start nearer a minimum with init=")
    return found


def _damped(sub: SubProgram, x, step, norm, theta):
    # Halve the Newton step until |g| decreases: keeps far starts from diverging.
    t = 1.0
    for _ in range(30):
        trial = x + t * step
        g, _, _ = evaluate_g(sub, trial, theta, with_jacobian=False)
        trial_norm = float(np.max(np.abs(g))) if g.size else 0.0
        if np.isfinite(trial_norm) and trial_norm < norm:
            return trial
        t *= 0.5
    return x + t * step


def _show(x) -> str:
    x = np.asarray(x)
    return f"{float(x):.6g}" if x.ndim == 0 else np.array2string(x, precision=6)


# ------------------------------------------------------- derivative rules


def _inlined(sub: SubProgram, x_star: Var, outer: list):
    """g and the columns ∂g/∂x_i recorded on the outer tape at (x*, θ)."""
    g, *columns = inline(sub.tape, [sub.g, *sub.jacobian], [x_star, *outer])
    return g, columns


def _jacobian_matrix(columns: list, shape: tuple):
    size = len(columns)
    flat = [REGISTRY["reshape"](c, shape=(size,)) if np.shape(_value(c)) != (size,) else c
            for c in columns]
    return REGISTRY["transpose"](BUILTINS["stack"].fn(*flat))  # column i: ∂g/∂x_i


def _value(v):
    return v.value if isinstance(v, Var) else v


def _implicit_jvp(tangents, inputs, x_star, sub):
    """ẋ = −(∂g/∂x)⁻¹ (∂g/∂θ · θ̇), staged on the outer tape."""
    tape = x_star.tape
    g, columns = _inlined(sub, x_star, list(inputs))
    if not isinstance(g, Var):
        return None
    seeds = {v.id: t for v, t in zip(inputs, tangents) if isinstance(v, Var) and t is not None}
    if not seeds:
        return None
    # ∂g/∂θ holds x* fixed, and θ are independent here: their equations are leaves
    fixed = (x_star.id, *(v.id for v in inputs if isinstance(v, Var)))
    (g_dot,) = stage_jvp(tape, seeds, [g.id], stop=fixed)
    shape = x_star.shape
    if shape == ():
        return -(g_dot / columns[0])
    size = x_star.value.size
    step = linsolve(_jacobian_matrix(columns, shape),
                    REGISTRY["reshape"](g_dot, shape=(size,)))
    return -REGISTRY["reshape"](step, shape=shape)


def _implicit_vjp(cotangent, inputs, x_star, sub):
    """λ = (∂g/∂x)⁻ᵀ x̄, θ̄ = −(∂g/∂θ)ᵀ λ, staged on the outer tape."""
    tape = x_star.tape
    g, columns = _inlined(sub, x_star, list(inputs))
    if not isinstance(g, Var):
        return [None] * len(inputs)
    shape = x_star.shape
    if shape == ():
        lam = cotangent / columns[0]
    else:
        size = x_star.value.size
        Jt = REGISTRY["transpose"](_jacobian_matrix(columns, shape))
        lam = REGISTRY["reshape"](linsolve(Jt, REGISTRY["reshape"](cotangent, shape=(size,))),
                                  shape=shape)
    wrt = [v.id for v in inputs if isinstance(v, Var)]
    grads = iter(stage_vjp(tape, g, lam, wrt, stop=(x_star.id,)))
    return [(-next(grads)) if isinstance(v, Var) else None for v in inputs]


implicit = prim(
    "implicit",
    lambda *outer, sub: newton(sub, list(outer), sub.init),
    nargs=-1,
    shape=lambda *shapes, sub: tuple(np.shape(sub.init)),
    vjp=lambda g, inputs, out, sub: _implicit_vjp(g, inputs, out, sub),
    jvp=lambda tangents, inputs, out, sub: _implicit_jvp(tangents, inputs, out, sub),
    domain=(),
    doc="x* of root(x: g, init=) / argmin(x: f, init=) (internal)",
)
