"""Side by side: this checkout's bench/run.py against an older commit's, on this machine.

    python bench/compare.py [--old COMMIT] [--rounds N] [--full]

Checks the old commit out into a temporary git worktree and runs each
side's own ``bench/run.py`` (``--quick`` unless ``--full``) as a separate
process with that side's code first on ``sys.path``, alternating old, new,
old, new ... so that the shared machine's speed drift falls on both sides.
Each row keeps its best (smallest) value over the rounds; the table prints
both and the ratio new/old, flagging rows more than 10 % slower. Rows are
matched by their text (work and anchor); a row only one side has is shown
with a dash on the other.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OLD = "b2bee08"  # the last commit before the one-IR rebuild
UNITS = {"ns": 1e-9, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "B": 1.0}
VALUE = re.compile(r"\s{2}([\d,.]+) (ns|µs|ms|s|B)\s{2}")


def run_bench(checkout: Path, quick: bool) -> dict[tuple[str, str], float]:
    """Run ``checkout``'s bench/run.py with its own diffopt; {(work, anchor): value}."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    command = [sys.executable, str(checkout / "bench" / "run.py")] + (["--quick"] if quick else [])
    out = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True,
                         check=True).stdout
    return parse_table(out)


def parse_table(text: str) -> dict[tuple[str, str], float]:
    rows = {}
    for line in text.splitlines():
        match = VALUE.search(line)
        if not match or line.startswith("work"):
            continue
        work = line[: match.start()].strip()
        value = float(match.group(1).replace(",", "")) * UNITS[match.group(2)]
        anchor = line[match.end():].strip().split("  ")[0]
        if anchor.startswith("target"):  # a target's wording may change between commits
            anchor = "target"
        rows[(work, anchor)] = value
    return rows


def fmt(value: float | None, bytes_row: bool) -> str:
    if value is None:
        return "—"
    if bytes_row:
        return f"{value:,.0f} B"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if value >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value * 1e9:.0f} ns"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default=DEFAULT_OLD)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        old = Path(folder) / "old"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old),
                        args.old], check=True, capture_output=True)
        try:
            best: dict[str, dict] = {"old": {}, "new": {}}
            for _ in range(args.rounds):
                for side, checkout in (("old", old), ("new", ROOT)):
                    for key, value in run_bench(checkout, not args.full).items():
                        best[side][key] = min(value, best[side].get(key, value))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)],
                           check=False, capture_output=True)
    keys = list(best["new"]) + [k for k in best["old"] if k not in best["new"]]
    width = max(len(w) for w, _ in keys)
    print(f"# bench/compare.py: best of {args.rounds} alternating rounds; "
          f"old = {args.old}, new = this checkout")
    print(f"{'work':<{width}}  {'anchor':<28} {'old':>11} {'new':>11}  {'new/old':>7}")
    for key in keys:
        work, anchor = key
        o, n = best["old"].get(key), best["new"].get(key)
        ratio = f"{n / o:.3f}" if o and n else "—"
        flag = "  > 10 % slower" if o and n and n > 1.10 * o else ""
        bytes_row = anchor.startswith("bytes")
        print(f"{work:<{width}}  {anchor[:28]:<28} {fmt(o, bytes_row):>11} "
              f"{fmt(n, bytes_row):>11}  {ratio:>7}{flag}")


if __name__ == "__main__":
    main()
