"""A bounded fuzz run on every test run: no internal error, traceback, raw warning or hang.

Two samples (tests/fuzz/ has the generators, the driver and the long-run
script ``python tests/fuzz/run.py --cases 100000``):

* programs drawn from the grammar by hypothesis strategies (tests/fuzz/programs.py);
* mutations of problems/ and tests/bad/ and hostile command lines, cases
  0..N-1 of the long run's seed 0 (``DIFFOPT_FUZZ_CASES``, default 2400),
  so a failure here is reproduced by ``python tests/fuzz/run.py --show N``.

Each case runs in this process through the CLI with a 10 s cap and a 1 GB
memory budget. The outcomes allowed are a result (exit 0/1; with --json,
one JSON document) or a located refusal (exit 2).
"""

from __future__ import annotations

import collections
import os

import pytest
from fuzz.drive import DEFECTS, Case, case, run_case
from fuzz.programs import HypothesisChooser, program
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CASES = int(os.environ.get("DIFFOPT_FUZZ_CASES", "2400"))


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data(), st.sampled_from(["eval", "solve", "check", "grad", "fmt"]), st.booleans())
def test_generated_programs(tmp_path_factory, data, command, as_json):
    text = program(HypothesisChooser(data))
    args = (command, "{file}") + (("--json",) if as_json and command != "fmt" else ())
    if command == "solve":
        args += ("--max-iter", "50")
    outcome = run_case(Case(-1, text, args), seconds=10.0,
                       workdir=str(tmp_path_factory.mktemp("fuzz")))
    assert outcome.kind not in DEFECTS, f"{outcome.kind}: {outcome.detail}\n{args}\n{text}"


def test_mutated_programs_and_command_lines(tmp_path):
    counts: collections.Counter = collections.Counter()
    defects = []
    for number in range(CASES):
        if number % 3 == 0:
            continue  # the generated flavour: hypothesis covers it above
        outcome = run_case(case(number), seconds=10.0, workdir=str(tmp_path))
        counts[outcome.kind] += 1
        if outcome.kind in DEFECTS:
            defects.append(f"case {number}: {outcome.kind}: {outcome.detail[:200]}")
    assert not defects, "\n".join(defects)
    # the sample reaches both sides: results, and refusals
    assert counts["ok"] > 0 and counts["refused"] > 0, counts


@pytest.mark.slow
def test_long_run_sample():
    """10x the default sample (``pytest -m slow``); the full run is tests/fuzz/run.py."""
    from fuzz.run import main

    assert main(["--cases", str(10 * CASES), "--jobs", str(os.cpu_count() or 1)]) == 0
