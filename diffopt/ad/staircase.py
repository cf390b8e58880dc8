"""Staircases: an objective that jumps where a branch decision flips.

The derivative of a traced program is that of the path taken: where a
decision on the parameters flips (a loop's ``break`` one step earlier, an
``if`` taking its other side) the objective may jump, and the derivative
cannot see it. A plain ``break`` whose step moves with a parameter makes the
objective a staircase: flat treads (the path derivative) whose risers carry
the real trend. One finite difference with a small step usually lands on a
tread and agrees with the derivative, so ``diffopt check`` looks wider.

Along each parameter entry, central secants over several step sizes are
compared with the derivative. A staircase shows where both steps straddle
flips of the decisions and give secants that agree with each other (the
trend) but not with the derivative. (One jump alone gives secants that
grow as the step shrinks: the derivative is right on either side of it, and
the ordinary note about a flip applies.) The narrowest such bracket is then halved, keeping
a flip inside, until the objective's change across it is clearly more than
any slope seen could make over its width (a jump: the entry fails with a
message that says so) or the bracket is tiny (a kink: a continuous objective
whose slope changes at the flip, left to the ordinary notes). The probes use
``Session.probe``: points off the current path are traced, not compiled.
"""

from __future__ import annotations

import numpy as np

SECANT_STEPS = (3e-2, 1e-2)  # relative to max(1, |x_i|): a trend spans several steps
BISECTIONS = 30
MAX_ENTRIES = 32  # entries scanned per point (2 to 4 evaluations each, more at a jump)


def _flipped_at(before: tuple, after: tuple) -> str:
    """Where two decision sequences first differ."""
    for a, b in zip(before, after):
        if a != b:
            return a[0]
    longer = before if len(before) > len(after) else after
    return longer[min(len(before), len(after))][0] if longer else "a branch"


def find(engine, x: np.ndarray, i: int, name: str, slope: float, sign: float) -> str | None:
    """A staircase along entry ``i`` at ``x`` (slope: the derivative there), or None.

    ``engine.probe`` gives what is minimized; ``sign`` turns it (and
    ``slope``) back into the objective as written for the message.
    """
    scale = max(1.0, abs(float(x[i])))
    secants, brackets = [], []
    for h in SECANT_STEPS:
        step = np.zeros_like(x)
        step[i] = h * scale
        f_plus, plus = engine.probe(x + step)
        f_minus, minus = engine.probe(x - step)
        secant = (f_plus - f_minus) / (2 * h * scale)
        if plus == minus or not np.isfinite(secant):
            return None  # no flip within this step (or no number): nothing to see
        secants.append(secant)
        brackets.append((h * scale, f_minus, minus, f_plus, plus))
    if not _trend(secants[0], secants[1], slope):
        return None
    # a kink's change over a bracket of width w is at most (|slope| + 2 |secant|) w
    bound = 4.0 * (abs(slope) + 2.0 * max(abs(s) for s in secants))
    h, f_lo, at_lo, f_hi, at_hi = brackets[-1]  # the narrowest one with a flip inside
    lo, hi = float(x[i]) - h, float(x[i]) + h
    for _ in range(BISECTIONS):
        gap = abs(f_hi - f_lo)
        if not np.isfinite(gap):
            return None
        if gap > bound * (hi - lo) + 1e-9 * (1.0 + abs(f_lo)):
            return _message(gap, _flipped_at(at_lo, at_hi), name, lo, slope, secants,
                            brackets, sign)
        mid = x.copy()
        mid[i] = 0.5 * (lo + hi)
        f_mid, at_mid = engine.probe(mid)
        if at_mid == at_lo:
            lo, f_lo = mid[i], f_mid
        else:
            hi, f_hi, at_hi = mid[i], f_mid, at_mid
    return None  # continuous across the flip: a kink, not a jump


def _trend(wide: float, narrower: float, slope: float) -> bool:
    """Two secants that agree with each other (a trend) and not with the derivative."""
    agree = abs(wide - narrower) <= 0.5 * max(abs(wide), abs(narrower))
    return agree and all(abs(s - slope) > 0.1 * max(abs(s), abs(slope)) + 1e-8
                         for s in (wide, narrower))


def _message(gap, where, name, near, slope, secants, brackets, sign) -> str:
    shown = sorted(sign * s for s in secants)
    steps = [b[0] for b in brackets]
    return (f"staircase: the objective jumps by {gap:.3g} where the branch decision at "
            f"{where} flips (near {name} = {near:.8g}); the derivative {sign * slope:.6g} "
            "follows the path taken and ignores such jumps, while secants over steps "
            f"{min(steps):.2g} to {max(steps):.2g} give {shown[0]:.4g} to {shown[-1]:.4g}. "
            "The objective is piecewise there: interpolate a loop's exit with "
            "'break when', or smooth the branch")
