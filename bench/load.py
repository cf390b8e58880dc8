"""Data loading: diffopt's CSV reader beside np.loadtxt on the same file.

    python bench/load.py               # 10^6 rows, 2 columns, 7 runs a side
    python bench/load.py --rows 100000 --runs 11

Writes a CSV of ``--rows`` rows (a taxi-like fit: distance, minutes) to a
temporary directory and prints:

- load time, median of ``--runs`` runs taken alternately: diffopt.data.load_csv
  (fast path), the careful reader alone (diffopt.data.parse_csv on the file's
  text), and ``np.loadtxt(path, delimiter=",", skiprows=1)``; the target is
  load_csv ≤ 1.0× np.loadtxt;
- peak memory (maximum resident set size from ``/usr/bin/time -v``) of a
  whole ``python -c`` process that imports NumPy and loads the file with
  each of the three, when /usr/bin/time is present.

Never run by the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # bench/peak.py

from peak import peak_mb  # noqa: E402

from diffopt.data import load_csv, parse_csv  # noqa: E402
from diffopt.source import Source  # noqa: E402

SPAN = Source("taxi.dop", 'data trips = csv("trips.csv")\n').span(13, 29)

LOADERS = {
    "diffopt load_csv": (
        "from diffopt.data import load_csv; from diffopt.source import Source; "
        "load_csv(PATH, name='t', span=Source('x', 'x').span(0, 1))"
    ),
    "careful reader": (
        "from diffopt.data import parse_csv; from diffopt.source import Source; "
        "parse_csv(open(PATH, encoding='utf-8-sig', newline='').read(), file=PATH, "
        "name='t', span=Source('x', 'x').span(0, 1))"
    ),
    "np.loadtxt": "import numpy as np; np.loadtxt(PATH, delimiter=',', skiprows=1)",
}


def write_csv(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    distance = rng.uniform(0.5, 40.0, rows)
    minutes = 3.0 + 2.2 * distance + rng.normal(0.0, 2.0, rows)
    with open(path, "w", newline="") as handle:
        handle.write("distance_km,minutes\n")
        np.savetxt(handle, np.column_stack([distance, minutes]), delimiter=",", fmt="%.6g")


def times(path: Path, runs: int, careful: bool) -> dict[str, float]:
    file = str(path)
    fns = {
        "diffopt load_csv": lambda: load_csv(file, name="trips", span=SPAN),
        "np.loadtxt": lambda: np.loadtxt(file, delimiter=",", skiprows=1),
    }
    if careful:
        fns["careful reader"] = lambda: parse_csv(
            open(file, encoding="utf-8-sig", newline="").read(), file=file, name="t", span=SPAN
        )
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def peak_memory_mb(path: Path, code: str) -> float | None:
    program = f"import numpy; PATH = {str(path)!r}; " + code
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return peak_mb([sys.executable, "-c", program], env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-careful", action="store_true", help="skip the careful reader")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trips.csv"
        write_csv(path, args.rows)
        size = path.stat().st_size / 1e6
        print(f"{args.rows} rows, 2 columns, {size:.1f} MB; median of {args.runs} runs")
        medians = times(path, args.runs, careful=not args.no_careful)
        base = medians["np.loadtxt"]
        print(f"{'loader':20s} {'time':>10s} {'× loadtxt':>10s} {'peak RSS':>10s}")
        for name, seconds in medians.items():
            peak = peak_memory_mb(path, LOADERS[name])
            shown = f"{peak:.0f} MB" if peak is not None else "—"
            print(f"{name:20s} {seconds * 1e3:8.0f} ms {seconds / base:9.2f}× {shown:>10s}")
        print("target: diffopt load_csv ≤ 1.0× np.loadtxt")


if __name__ == "__main__":
    main()
