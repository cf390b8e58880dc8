"""Derivative checking: forward mode vs reverse mode vs central differences.

Used by ``diffopt check`` and by the test suite (autograd's ``check_grads``
idea). Per parameter entry it compares the two AD modes with each other and
with a central difference whose step is scaled to the entry
(``h = eps · max(1, |x_i|)``, eps = cbrt(machine epsilon) by default, the step
that balances truncation and rounding error). So that the verdict does not
hinge on one step, a Taylor-remainder test sweeps h along a random direction
v: for a correct gradient |f(x + h v) − f(x) − h ∇f·v| shrinks like h², a log-
log slope near 2. When a branch or a loop's break decision differs between
x − h and x + h, the difference quotient straddles a jump: the entry is
reported with a note instead of as a mismatch, unless the objective jumps
there and the derivative disagrees with wider secants: a staircase
(``ad.staircase``), which fails the check.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from diffopt.ad import staircase
from diffopt.errors import UsageError
from diffopt.ir.passes import surrogate_uses
from diffopt.results import CheckEntry, CheckPoint, CheckResult

DEFAULT_EPS = float(np.finfo(float).eps ** (1 / 3))  # ≈ 6.1e-6
TAYLOR_STEPS = tuple(10.0 ** -k for k in np.arange(1.0, 6.5, 0.5))


def _entry_names(problem):
    for p in problem.params:
        if p.shape == ():
            yield p.name, ()
        else:
            for index in np.ndindex(*p.shape):
                yield p.name, tuple(int(i) for i in index)


def _decisions(engine) -> tuple:
    recording = engine.recording
    return tuple(
        (g.span.location if g.span is not None else "?", g.taken) for g in recording.tape.guards
    )


def _branch_note(base: tuple, plus: tuple, minus: tuple) -> str | None:
    """A note when the branch decisions at x - h, x, x + h are not all the same."""
    if plus == base == minus:
        return None
    changed = [a for a, b in zip(plus, minus) if a != b] or [plus[-1] if plus else ("?", None)]
    if len(plus) != len(minus) and not changed:
        changed = [(plus + minus)[-1]]
    where = changed[0][0] if changed else "a branch"
    return f"a branch decision at {where} differs between x - h and x + h"


def check_points(session, xs: list, rng, *, rtol: float = 1e-5, atol: float = 1e-6,
                 eps: float | None = None) -> CheckResult:
    """Check derivatives at each point of ``xs`` (flat vectors); ``rng`` draws
    the Taylor test's directions."""
    if eps is not None and not eps > 0:
        raise UsageError("--eps must be positive")
    eps = eps or DEFAULT_EPS
    problem = session.problem
    checked = [_check_point(problem, session, x, rtol, atol, eps, rng) for x in xs]
    passed = all(point_passed(p) for p in checked)
    return CheckResult(passed=passed, points=checked)


def point_passed(point: CheckPoint) -> bool:
    """Entries all within tolerance, or (the two AD modes agreeing) a Taylor
    remainder of order 2, which shows the gradient right whatever one FD step
    said. A poor Taylor order alone is only a note (kinks make it so)."""
    if point.staircase is not None:
        return False
    if all(e.ok for e in point.entries):
        return True
    modes_agree = all(
        np.isfinite(e.forward) and abs(e.forward - e.reverse) <= 1e-9 * (1 + abs(e.reverse))
        for e in point.entries
    ) and np.isfinite(sum(e.numeric for e in point.entries))
    return bool(modes_agree and point.taylor is not None and point.taylor["ok"])


def _surrogates(engine) -> list[str]:
    """Where the objective uses a primitive whose derivative is a surrogate."""
    recording = engine.recording
    return surrogate_uses(recording.tape, [recording.objective])


def _check_point(problem, engine, x, rtol, atol, eps, rng) -> CheckPoint:
    with np.errstate(all="ignore"):  # NaN/inf are results here, reported in words
        return _check_point_quietly(problem, engine, x, rtol, atol, eps, rng)


def _check_point_quietly(problem, engine, x, rtol, atol, eps, rng) -> CheckPoint:
    f, reverse = engine.value_and_grad(x)
    _, forward = engine.gradient_forward(x)
    sign = -1.0 if problem.sense == "maximize" else 1.0
    entries, notes = [], []
    surrogates = _surrogates(engine)
    if surrogates:
        shown = ", ".join(surrogates[:3]) + (", ..." if len(surrogates) > 3 else "")
        notes.append(f"the objective uses surrogate derivatives by design ({shown}): "
                     "finite differences do not apply, so only forward and reverse mode "
                     "are compared")
    base = _decisions(engine)  # the recording is the one traced at x
    for i, (name, index) in enumerate(_entry_names(problem)):
        h = eps * max(1.0, abs(x[i]))
        step = np.zeros_like(x)
        step[i] = h
        # the decisions each evaluation's recording took, read right after it
        f_plus, plus = engine.value(x + step), _decisions(engine)
        f_minus, minus = engine.value(x - step), _decisions(engine)
        numeric = (f_plus - f_minus) / (2 * h)
        note = _branch_note(base, plus, minus)
        abs_error = float(max(abs(reverse[i] - numeric), abs(forward[i] - numeric)))
        scale = max(abs(numeric), abs(reverse[i]))
        rel_error = abs_error / scale if scale > 0 else 0.0
        modes_agree = abs(forward[i] - reverse[i]) <= 1e-9 * (1.0 + abs(reverse[i]))
        finite = np.isfinite(reverse[i]) and np.isfinite(forward[i])
        ok = bool(finite and modes_agree and np.isfinite(f)
                  and (abs_error <= atol + rtol * scale or note or surrogates))
        if note:
            notes.append(f"{name}{list(index) if index else ''}: {note}; the finite difference "
                         "is not comparable there")
        entries.append(CheckEntry(name, index, sign * float(forward[i]),
                                  sign * float(reverse[i]), sign * float(numeric),
                                  abs_error, rel_error, ok))
    if not np.isfinite(f):  # no derivative of a value that is not a number can be checked
        found = engine.diagnose(x, "value")
        where = f" ({found.describe()})" if found is not None else ""
        notes.append(f"the objective is {f} at this point{where}: its derivatives cannot "
                     "be checked there")
    stairs = _staircase(engine, x, entries, reverse, sign) if base else None
    if stairs is not None:  # the point fails: no need for the Taylor test
        notes.append(stairs)
    taylor = (_taylor(engine, x, f, reverse, rng) if problem.n and not surrogates
              and np.isfinite(f) and stairs is None else None)
    if taylor is not None and not taylor["ok"]:
        notes.append(f"the Taylor remainder decays with order {taylor['order']:.2f}, not 2: "
                     "the objective may have a kink or a branch near this point")
    return CheckPoint(at=problem.unflatten(x), entries=entries, taylor=taylor, notes=tuple(notes),
                      staircase=stairs)


def _staircase(engine, x, entries: list, reverse, sign: float) -> str | None:
    """The first entry along which the objective is a staircase (marked failed)."""
    for i, entry in enumerate(entries[:staircase.MAX_ENTRIES]):
        label = entry.param + (str(list(entry.index)) if entry.index else "")
        found = staircase.find(engine, x, i, label, float(reverse[i]), sign)
        if found is not None:
            entries[i] = replace(entry, ok=False)
            return found
    return None


def _taylor(engine, x, f, g, rng) -> dict:
    """Remainders |f(x+hv) − f(x) − h g·v| over a sweep of h; fitted order."""
    v = rng.normal(size=x.shape)
    v /= np.linalg.norm(v)
    scale = max(1.0, float(np.max(np.abs(x))))
    slope_g = float(g @ v)
    steps, remainders = [], []
    for h in TAYLOR_STEPS:
        hh = h * scale
        remainders.append(abs(engine.value(x + hh * v) - f - hh * slope_g))
        steps.append(hh)
    steps_a, rem = np.array(steps), np.array(remainders)
    floor = 1e3 * np.finfo(float).eps * max(1.0, abs(f))
    usable = np.isfinite(rem) & (rem > floor)
    if usable.sum() >= 3:
        order = float(np.polyfit(np.log(steps_a[usable]), np.log(rem[usable]), 1)[0])
        ok = order >= 1.7
    else:
        # The remainder sits at rounding level: f is linear along v (or nearly).
        order = float("nan")
        ok = bool(np.all(rem[np.isfinite(rem)] <= 1e3 * floor))
    return {"steps": steps, "remainders": remainders, "order": order, "ok": bool(ok)}
