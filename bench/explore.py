"""Multi-start and sweeps, timed as users run them: whole processes, side by side.

    python bench/explore.py            # 5 alternating rounds
    python bench/explore.py --rounds 3

Rows (each the median over rounds; the two sides of a ratio alternate
within each round, so a shared machine's drift falls on both):

* ``solve problems/relu_net.dop --starts 16`` as one process (default
  ``--jobs``: every core) against 16 separate ``diffopt solve --seed k``
  processes one after another, what a shell loop does. The issue's target:
  >= 3x faster on 2 cores. (The 16 starts are exactly those 16 seeds; see
  MULTI-START in diffopt-solve(1).)
* ``sweep problems/terrain.dop --set v2=0.1:0.6:N`` on a Dask LocalCluster
  on the loopback interface (2 worker processes, one thread each; started
  once, outside the timing) against the same sweep on local processes
  (``--jobs 2``): cases per second, whole command.

Peak memory of the multi-start process comes from /usr/bin/time -v when it
is present. Needs the ``test`` extra (distributed) for the cluster row.
Never run by the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))  # bench/peak.py, also when imported

from peak import peak_mb  # noqa: E402

RELU = ROOT / "problems" / "relu_net.dop"
TERRAIN = ROOT / "problems" / "terrain.dop"
DIFFOPT = [sys.executable, "-m", "diffopt"]


def wall(args: list[str], env=None) -> float:
    """Seconds for one whole process (exit status 0 or 1: a solve that did not converge)."""
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{proc.stderr}")
    return elapsed


def starts_vs_processes(count: int) -> tuple[float, float]:
    together = wall([*DIFFOPT, "solve", str(RELU), "--starts", str(count), "--seed", "0",
                     "--json"])
    start = time.perf_counter()
    for seed in range(count):
        wall([*DIFFOPT, "solve", str(RELU), "--seed", str(seed), "--json"])
    return together, time.perf_counter() - start


def sweep_time(cases: int, extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "r.jsonl"
        elapsed = wall([*DIFFOPT, "sweep", str(TERRAIN), "--set", f"v2=0.1:0.6:{cases}",
                        "-o", str(out), "--quiet", *extra])
        lines = out.read_text().count("\n")
        if lines != cases:
            raise SystemExit(f"the sweep wrote {lines} lines, not {cases}")
    return elapsed


def peak_memory_mb(args: list[str]) -> float | None:
    return peak_mb(args, cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--starts", type=int, default=16)
    parser.add_argument("--cases", type=int, default=40)
    options = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{cores} cores, Python {sys.version.split()[0]}, {options.rounds} rounds")

    together, separate = [], []
    for _ in range(options.rounds):
        a, b = starts_vs_processes(options.starts)
        together.append(a)
        separate.append(b)
    t, s = statistics.median(together), statistics.median(separate)
    print(f"\n{options.starts} starts of relu_net.dop (whole processes, median of rounds)")
    print(f"  one process, --starts {options.starts}   {t:8.2f} s")
    print(f"  {options.starts} separate solve processes  {s:8.2f} s")
    print(f"  ratio {s / t:.1f}x   (target >= 3x on 2 cores)")
    memory = peak_memory_mb([*DIFFOPT, "solve", str(RELU), "--starts", str(options.starts),
                             "--json"])
    if memory is not None:
        print(f"  peak memory of the --starts parent process {memory:.0f} MB")

    try:
        import distributed
    except ImportError:
        print("\nsweep on a LocalCluster: skipped (pip install distributed)")
        return
    cluster_times, local_times = [], []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        for _ in range(options.rounds):
            cluster_times.append(sweep_time(options.cases,
                                            ["--cluster", cluster.scheduler_address]))
            local_times.append(sweep_time(options.cases, ["--jobs", "2"]))
    c, lo = statistics.median(cluster_times), statistics.median(local_times)
    print(f"\nsweep of terrain.dop over v2, {options.cases} cases (whole command)")
    print(f"  LocalCluster, 2 workers    {c:6.2f} s   {options.cases / c:6.1f} cases/s")
    print(f"  local processes, --jobs 2  {lo:6.2f} s   {options.cases / lo:6.1f} cases/s")


if __name__ == "__main__":
    main()
