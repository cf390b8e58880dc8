"""Points in parameter space: ``--at`` values, random points, the start.

Pure functions of a checked problem's layout; they raise UsageError for a
bad ``--at`` and never print.
"""

from __future__ import annotations

import numpy as np

from diffopt.errors import UsageError, did_you_mean

RANDOM_POINT_STREAM = 0xA7  # key of `--at random` / check's random points


def resolve_point(problem, at) -> np.ndarray:
    """A flat point from ``--at``: None/"init", "random", its text, {name: value},
    or a flat array of the parameters (taken as it is)."""
    if isinstance(at, np.ndarray):
        return np.array(at, dtype=np.float64).reshape(problem.n)
    x = problem.start_point()
    if at is None or (isinstance(at, str) and at == "init"):
        return x
    if isinstance(at, str) and at == "random":
        return random_point(problem, np.random.default_rng([problem.seed, RANDOM_POINT_STREAM]))
    if isinstance(at, str):
        from diffopt.option_values import parse_at  # the value parser of --at

        return resolve_point(problem, parse_at(at))
    values = problem.unflatten(x)
    names = [p.name for p in problem.params]
    for name, value in at.items():
        if name not in values:
            raise UsageError(f"--at: no parameter named '{name}'", hint=did_you_mean(name, names))
        spec = next(p for p in problem.params if p.name == name)
        try:
            values[name] = np.broadcast_to(np.asarray(value, dtype=np.float64), spec.shape)
        except ValueError:
            raise UsageError(f"--at: '{name}' has shape {spec.shape}, "
                             f"the value given has shape {np.shape(value)}") from None
    return problem.flatten(values)


def random_point(problem, rng) -> np.ndarray:
    """Uniform inside finite bounds, else the start plus a standard normal step."""
    lower, upper = problem.bounds()
    x = problem.start_point() + rng.normal(size=problem.n)
    finite = np.isfinite(lower) & np.isfinite(upper)
    x[finite] = rng.uniform(lower[finite], upper[finite])
    return np.clip(x, lower, upper)
