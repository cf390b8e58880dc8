"""Big-data rows of bench/run.py: fused evaluation, whole-process fits and loading.

- value + gradient of five ways to write the taxi fit (and a weighted one)
  on 10^6 and 10^7 rows, beside jax.jit (when installed) and hand-written
  NumPy of the same formula;
- whole-process ``diffopt solve`` of the 10^6-row taxi fit from a CSV on
  disk beside the scipy script a user would write (np.loadtxt +
  least_squares): wall time, peak memory (``/usr/bin/time -v``) and peak
  memory per row;
- loading a 10^6-row, 2-column CSV beside np.loadtxt.

Tables for the evaluation rows are written as .npz (writing 10^7 rows of
CSV takes minutes); the whole-process and loading rows use CSV.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from peak import peak_mb

ROOT = Path(__file__).resolve().parent.parent

# name, diffopt expression (d, m, w are columns of `trips`), NumPy value+grad
FORMULATIONS = [
    ("60*d/s - m", "60 * trips.d / speed - trips.m"),
    ("d/s*60 - m", "trips.d / speed * 60 - trips.m"),
    ("d*60/s - m", "trips.d * 60 / speed - trips.m"),
    ("(d/s - m/60)*60", "(trips.d / speed - trips.m / 60) * 60"),
    ("((60*d/s - m)/w)", "(60 * trips.d / speed - trips.m) / trips.w"),
]


def _hand(name, d, m, w):
    """Hand-written NumPy value and gradient of mean(r^2), r written as ``name``."""
    n = d.size

    def value_grad(s=20.0):
        if name == "60*d/s - m":
            r = 60.0 * d / s - m
            dr = -60.0 * d / (s * s)
        elif name == "d/s*60 - m":
            r = d / s * 60.0 - m
            dr = -(d / (s * s)) * 60.0
        elif name == "d*60/s - m":
            r = d * 60.0 / s - m
            dr = -(d * 60.0) / (s * s)
        elif name == "(d/s - m/60)*60":
            r = (d / s - m / 60.0) * 60.0
            dr = -(d / (s * s)) * 60.0
        else:
            r = (60.0 * d / s - m) / w
            dr = -60.0 * d / (s * s) / w
        return np.dot(r, r) / n, 2.0 * np.dot(r, dr) / n

    return value_grad


def _jax(name, d, m, w):
    try:
        import jax
    except Exception:
        return None
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    jd, jm, jw = (jnp.asarray(a) for a in (d, m, w))
    residual = {
        "60*d/s - m": lambda s: 60 * jd / s - jm,
        "d/s*60 - m": lambda s: jd / s * 60 - jm,
        "d*60/s - m": lambda s: jd * 60 / s - jm,
        "(d/s - m/60)*60": lambda s: (jd / s - jm / 60) * 60,
        "((60*d/s - m)/w)": lambda s: (60 * jd / s - jm) / jw,
    }[name]
    fn = jax.jit(jax.value_and_grad(lambda s: jnp.mean(residual(s) ** 2)))
    fn(20.0)[1].block_until_ready()
    return lambda: fn(20.0)[1].block_until_ready()


def bench_fused(rows: int, repeat: int, compare, api) -> None:
    """Value + gradient of each formulation on ``rows`` rows (one table, written once)."""
    rng = np.random.default_rng(3)
    d = rng.uniform(0.5, 20.0, rows)
    m = 60.0 * d / rng.normal(30.0, 3.0, rows)
    w = rng.uniform(0.5, 2.0, rows)
    with tempfile.TemporaryDirectory() as folder:
        table = Path(folder) / "trips.npz"
        np.savez(table, d=d, m=m, w=w)
        for name, expression in FORMULATIONS:
            path = Path(folder) / "fit.dop"
            path.write_text(f'data trips = csv("trips.npz")\nparam speed in [1, 200] = 20\n'
                            f"minimize mean(({expression})^2)\n")
            problem = api.load(path)
            x = problem.problem.start_point()
            problem.value_and_grad(x)
            work = f"{name}, {rows:,} rows, value+grad"
            compare(work, lambda p=problem, x=x: p.value_and_grad(x), "hand-written NumPy",
                    _hand(name, d, m, w), repeat, "≤ 0.5")
            jitted = _jax(name, d, m, w)
            if jitted is not None:
                compare(work, lambda p=problem, x=x: p.value_and_grad(x), "jax.jit", jitted, repeat,
                        "≤ 1.0")
            del problem


SCIPY_TAXI = """
import sys
import numpy as np
from scipy.optimize import least_squares
table = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
d, m = table[:, 0], table[:, 1]
fit = least_squares(lambda s: 60 * d / s[0] - m, [20.0], bounds=([1.0], [200.0]),
                    jac=lambda s: (-60 * d / s[0] ** 2)[:, None])
print(fit.x)
"""


def _peak_mb(argv) -> float | None:
    return peak_mb(argv, check=True)


def bench_taxi_process(rows: int, wall, row, rows_out: list) -> None:
    """Whole-process taxi fit from a CSV on disk, beside the scipy script."""
    sys.path.insert(0, str(ROOT / "problems"))
    from make_taxi_trips import make_trips

    distance, duration = make_trips(rows)
    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "trips.csv"
        with open(csv, "w") as handle:
            handle.write("distance_km,duration_min\n")
            np.savetxt(handle, np.column_stack([distance, duration]), delimiter=",",
                       fmt=("%.2f", "%.1f"))
        script = Path(folder) / "fit.py"
        script.write_text(SCIPY_TAXI)
        ours = [sys.executable, "-m", "diffopt", "solve", str(ROOT / "problems" / "taxi.dop"),
                "--data", f"trips={csv}", "--quiet"]
        theirs = [sys.executable, str(script), str(csv)]
        mine, other = wall(ours, theirs, repeat=5)
        row(f"taxi fit {rows:,} rows: whole-process solve (CSV)", mine, "scipy script", other,
            "≤ 0.5")
        peaks = [_peak_mb(ours), _peak_mb(theirs)]
    if None not in peaks:
        ours_mb, scipy_mb = peaks
        rows_out.append((f"taxi fit {rows:,} rows: peak memory, diffopt ({ours_mb:.0f} MB) / "
                         f"scipy script ({scipy_mb:.0f} MB)", ours_mb * 2**20, "bytes", None,
                         ours_mb / scipy_mb, "≤ 1.0"))
        rows_out.append((f"taxi fit {rows:,} rows: peak memory per row, diffopt",
                         ours_mb * 2**20 / rows, "bytes", None, float("nan"),
                         "data + bounded temporaries"))


def bench_load(rows: int, compare) -> None:
    """Loading a ``rows``-row, 2-column CSV: diffopt's reader beside np.loadtxt."""
    from diffopt.data import load_csv
    from diffopt.source import Source

    span = Source("x.dop", 'data t = csv("t.csv")\n').span(9, 21)
    rng = np.random.default_rng(0)
    distance = rng.uniform(0.5, 40.0, rows)
    minutes = 3.0 + 2.2 * distance + rng.normal(0.0, 2.0, rows)
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "trips.csv")
        with open(path, "w") as handle:
            handle.write("distance_km,minutes\n")
            np.savetxt(handle, np.column_stack([distance, minutes]), delimiter=",", fmt="%.6g")
        compare(f"load a {rows:,}-row 2-column CSV", lambda: load_csv(path, name="t", span=span),
                "np.loadtxt", lambda: np.loadtxt(path, delimiter=",", skiprows=1), 20, "≤ 1.0")
