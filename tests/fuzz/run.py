"""The long fuzz run: ``python tests/fuzz/run.py --cases 100000 [--jobs 2] [--seed 0]``.

Runs cases 0..N-1 (see tests/fuzz/drive.py) in worker processes, each case
in-process in its worker with a time cap (``--seconds``, default 10) and the
memory budget ``DIFFOPT_FUZZ_MEMORY`` (default 1G) under an address-space
limit of ``--rlimit-gb`` (default 4). A worker stuck past the cap where
SIGALRM cannot reach (inside C code) is killed and restarted by this
script, and its case counted as a hang. Prints the outcome counts and, for
every defect, the case number and a line; ``--show N`` prints case N's
program and command line, to reproduce it: ``diffopt <args>`` on the
printed text. Exit status 1 if any defect was found.

Run it from the repository root, in the venv of the project (it imports
the checkout's diffopt). 10^5 cases take about an hour on 2 cores.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `fuzz`

from fuzz.drive import DEFECTS, case, run_case  # noqa: E402


def _worker(tasks, results, seed, seconds, rlimit_gb, busy, slot):
    limit = int(rlimit_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    workdir = tempfile.mkdtemp(prefix="diffopt-fuzz-")
    while True:
        number = tasks.get()
        if number is None:
            return
        busy[slot] = number + 1
        outcome = run_case(case(number, seed), seconds, workdir)
        busy[slot] = 0
        results.put((number, outcome.kind, outcome.exit_code, outcome.detail))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100000)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rlimit-gb", type=float, default=4.0)
    parser.add_argument("--show", type=int, default=None, help="print case N and exit")
    options = parser.parse_args(argv)
    if options.show is not None:
        item = case(options.show, options.seed)
        print("args:", " ".join(item.args))
        sys.stdout.write(item.text)
        return 0
    context = mp.get_context("fork")
    tasks, results = context.Queue(), context.Queue()
    busy = context.Array("q", options.jobs)  # case number + 1 being run, per worker
    started = context.Array("d", options.jobs)

    def spawn(slot):
        process = context.Process(target=_worker, daemon=True,
                                  args=(tasks, results, options.seed, options.seconds,
                                        options.rlimit_gb, busy, slot))
        process.start()
        return process

    numbers = range(options.start, options.start + options.cases)
    for number in numbers:
        tasks.put(number)
    workers = [spawn(slot) for slot in range(options.jobs)]
    counts: collections.Counter = collections.Counter()
    defects = []
    seen_busy = [0] * options.jobs
    begin = time.perf_counter()
    done = 0
    while done < options.cases:
        try:
            number, kind, code, detail = results.get(timeout=1.0)
        except Exception:  # queue.Empty: look for a stuck worker
            number = None
        if number is not None:
            done += 1
            counts[kind] += 1
            if kind in DEFECTS:
                defects.append((number, kind, code, detail))
                line = detail.splitlines()[0] if detail else ""
                print(f"case {number}: {kind} (exit {code}): {line}", file=sys.stderr, flush=True)
            if done % 1000 == 0:
                rate = done / (time.perf_counter() - begin)
                print(f"{done} cases, {rate:.0f}/s, {dict(counts)}", file=sys.stderr, flush=True)
        now = time.perf_counter()
        for slot, process in enumerate(workers):
            current = busy[slot]
            if current != seen_busy[slot]:
                seen_busy[slot], started[slot] = current, now
            elif current and now - started[slot] > options.seconds + 20 or not process.is_alive():
                if current:  # stuck where SIGALRM could not reach, or died mid-case
                    done += 1
                    kind = "hang" if process.is_alive() else "memory"
                    counts[kind] += 1
                    defects.append((current - 1, kind, None, "worker killed"))
                process.kill()
                process.join()
                busy[slot] = 0
                seen_busy[slot] = 0
                workers[slot] = spawn(slot)
    for _ in workers:
        tasks.put(None)
    elapsed = time.perf_counter() - begin
    print(f"{options.cases} cases in {elapsed:.0f} s ({options.jobs} jobs, seed {options.seed})")
    for kind in ("ok", "refused", *DEFECTS):
        print(f"  {kind:10} {counts.get(kind, 0)}")
    for number, kind, code, detail in defects[:200]:
        print(f"case {number}: {kind} (exit {code}): {detail.splitlines()[0] if detail else ''}")
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main())
