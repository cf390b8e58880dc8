"""solve --starts and diffopt sweep: the must-show behaviour of issue 13, end to end.

Multi-start on problems/relu_net.dop is compared with 64 separate seeded
solves made through the API; sweeps of problems/terrain.dop with Snell's law
and with an optimum found by bisection on the law (never by diffopt); a
sweep killed with SIGTERM and resumed ends with one line per case. The Dask
cluster tests are in tests/test_explore_cluster.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from diffopt import api
from diffopt.explore.grid import make_cases, split_sets
from diffopt.explore.starts import start_point

REPO = Path(__file__).resolve().parents[1]
RELU = REPO / "problems" / "relu_net.dop"
TERRAIN = REPO / "problems" / "terrain.dop"
DIFFOPT = [sys.executable, "-m", "diffopt"]
H, D, V1, V3 = 20.0, 10.0, 0.7, 0.45


def run(*args, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*DIFFOPT, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, **kwargs)


def terrain_optimum(v2: float) -> np.ndarray:
    """(x1, x2, x3) from Snell's law by bisection on k = sin(θi) / vi (legs sum to h)."""
    speeds = np.array([V1, v2, V3])

    def legs(k):
        s = k * speeds
        return D * s / np.sqrt(1 - s**2)

    lo, hi = 0.0, (1 - 1e-15) / speeds.max()
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if legs(mid).sum() < H else (lo, mid)
    return legs((lo + hi) / 2)


def snell_ratios(x1: float, x2: float, v2: float) -> np.ndarray:
    legs = np.array([x1, x2, H - x1 - x2])
    return legs / np.sqrt(legs**2 + D**2) / np.array([V1, v2, V3])


def check_terrain_record(record: dict) -> None:
    v2 = record["settings"]["v2"]
    assert record["status"] == "converged", record
    x1, x2 = record["params"]["x1"], record["params"]["x2"]
    np.testing.assert_allclose([x1, x2], terrain_optimum(v2)[:2], rtol=1e-6)
    ratios = snell_ratios(x1, x2, v2)
    # sin(θi) / vi equal across the terrains: to 1e-6, as far as the objective's
    # rounding lets a solve that starts next to the optimum (warm) pin it down
    assert np.ptp(ratios) <= 1e-6 * np.mean(ratios), (v2, ratios)


# ------------------------------------------------------------------ multi-start


def test_starts_are_the_files_start_then_the_seeded_draws():
    problem = api.load(str(RELU), seed=5).problem
    np.testing.assert_array_equal(start_point(problem, 5, 0), problem.start_point())
    # start k of `~` parameters is the start --seed 5+k gives the file
    for k in (1, 7):
        np.testing.assert_array_equal(start_point(problem, 5, k),
                                      api.load(str(RELU), seed=5 + k).problem.start_point())


def test_unbounded_and_boxed_starts(tmp_path):
    path = tmp_path / "box.dop"
    path.write_text("param x in [2, 3]\nparam y = 50\nparam z in [0, inf] = 1\n"
                    "minimize (x - 2)^2 + y^2 + z^2\n")
    problem = api.load(str(path)).problem
    draws = np.array([start_point(problem, 0, k) for k in range(1, 400)])
    assert np.all((draws[:, 0] >= 2) & (draws[:, 0] <= 3))
    assert 2.4 < draws[:, 0].mean() < 2.6  # uniform in the box
    assert 40 < np.std(draws[:, 1]) < 60  # around 50 on the scale of its start
    assert np.all(draws[:, 2] >= 0)
    # a start does not depend on how many there are, nor on the other starts
    np.testing.assert_array_equal(start_point(problem, 0, 9), draws[8])


def _separate_seeded_solves(count: int):
    return [api.solve(api.load(str(RELU), seed=s)) for s in range(count)]


def _levels(values: list[float]) -> list[float]:
    """Distinct values, merged when they agree to 1e-6 relative (the documented rule)."""
    levels: list[float] = []
    for v in sorted(values):
        if not levels or abs(v - levels[-1]) > 1e-6 * max(1.0, abs(v), abs(levels[-1])):
            levels.append(v)
    return levels


def test_relu_64_starts_find_the_best_of_64_seeded_solves_whatever_the_jobs():
    separate = _separate_seeded_solves(64)
    converged = [r.objective.value for r in separate if r.status == "converged"]
    best = min(converged)
    documents = {}
    for jobs in (1, 2):
        proc = run("solve", RELU, "--starts", 64, "--seed", 0, "--jobs", jobs, "--json")
        assert proc.returncode == 0, proc.stderr
        documents[jobs] = json.loads(proc.stdout)
    one, two = documents[1], documents[2]
    assert one["status"] == "converged"
    assert one["objective"]["value"] == pytest.approx(best, rel=1e-9)
    table = one["multistart"]["optima"]
    assert table == two["multistart"]["optima"]  # the same table whatever --jobs
    assert len(table) >= 3  # the others are listed too
    assert [o["objective"] for o in table] == pytest.approx(_levels(converged), rel=1e-9)
    assert sum(o["count"] for o in table) == len(converged)
    runs = one["multistart"]["runs"]
    assert len(runs) == 64
    assert [r["status"] for r in runs] == [r.status for r in separate]
    assert one["multistart"]["best_start"] == table[0]["starts"][0]


def test_starts_table_on_the_terminal():
    proc = run("solve", RELU, "--starts", 8, "--seed", 0, "--jobs", 1)
    assert proc.returncode in (0, 1), proc.stderr
    assert "8 starts (seed 0, in this process" in proc.stdout
    assert "distinct optim" in proc.stdout and "first start" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["--starts", "0"], "--starts must be between 1 and 100000, not 0"),
    (["--starts", "4", "--jobs", "0"], "--jobs must be at least 1, not 0"),
    (["--starts", "4", "--trace", "t.jsonl"], "--trace records one solve"),
    (["--starts", "4", "--cluster", "nowhere"], "--cluster takes a scheduler address"),
])
def test_starts_refuses_bad_options(args, message):
    proc = run("solve", TERRAIN, *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cluster_without_the_extra_is_one_line_naming_it():
    code = ("import sys; sys.modules['distributed'] = None\n"
            f"sys.argv = ['diffopt', 'solve', {str(TERRAIN)!r}, '--starts', '2', '--cluster', "
            "'tcp://127.0.0.1:1']\nfrom diffopt.cli import main\nmain()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[0].endswith(
        "--cluster needs Dask distributed: pip install 'diffopt-cli[dask]'")


# ------------------------------------------------------------------ sweeps


def test_sweep_cases_grid_and_zip():
    swept, fixed = split_sets({"a": "0:1:3", "b": "5,6", "c": "[1, 2]", "d": "4"})
    assert swept == {"a": [0.0, 0.5, 1.0], "b": [5.0, 6.0]}
    assert fixed == {"c": "[1, 2]", "d": "4"}
    grid = make_cases(swept)
    assert [c.as_dict() for c in grid[:3]] == [{"a": 0.0, "b": 5.0}, {"a": 0.0, "b": 6.0},
                                                {"a": 0.5, "b": 5.0}]
    assert len(grid) == 6
    paired = make_cases({"a": [1.0, 2.0], "b": [3.0, 4.0]}, "zip")
    assert [c.as_dict() for c in paired] == [{"a": 1.0, "b": 3.0}, {"a": 2.0, "b": 4.0}]


def test_terrain_sweep_over_v2_matches_snells_law(tmp_path):
    out = tmp_path / "results.jsonl"
    proc = run("sweep", TERRAIN, "--set", "v2=0.1:0.6:20", "-o", out, "--jobs", 2)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["case"] for r in records) == list(range(20))
    assert sorted(r["settings"]["v2"] for r in records) == pytest.approx(
        list(np.linspace(0.1, 0.6, 20)), rel=1e-15)
    for record in records:
        check_terrain_record(record)
        x = terrain_optimum(record["settings"]["v2"])
        time_ = np.sum(np.sqrt(x**2 + D**2) / np.array([V1, record["settings"]["v2"], V3]))
        assert record["objective"] == pytest.approx(time_, rel=1e-10)
    assert any(r["warm_start"] is not None for r in records)  # neighbours were used
    assert "20 cases, all converged" in proc.stdout


def test_sweep_killed_with_sigterm_then_resumed_holds_each_case_once(tmp_path):
    out = tmp_path / "results.jsonl"
    # 24 starts per case: slow enough to stop the sweep after a few cases
    args = [*DIFFOPT, "sweep", str(TERRAIN), "--set", "v2=0.1:0.6:20", "--starts", "24",
            "--jobs", "1", "-o", str(out)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=REPO)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 3:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    kept = out.read_text().splitlines()
    assert 3 <= len(kept) < 20
    assert "--resume" in stdout  # the summary says how to go on
    again = run("sweep", TERRAIN, "--set", "v2=0.1:0.6:20", "--starts", "24", "--jobs", "2",
                "-o", out, "--resume")
    assert again.returncode == 0, again.stderr
    lines = out.read_text().splitlines()
    assert lines[:len(kept)] == kept  # finished cases were neither lost nor redone
    records = [json.loads(line) for line in lines]
    assert sorted(r["case"] for r in records) == list(range(20))
    for record in records:
        check_terrain_record(record)
    assert f"({len(kept)} from the results file)" in again.stdout


@pytest.mark.parametrize("args, message", [
    (["--set", "v2=0.1:0.6"], "--set v2=0.1:0.6: a range is LO:HI:N"),
    (["--set", "v2=0.1:0.6:2.5"], "N must be a whole number >= 1, not 2.5"),
    (["--set", "v2=0.1,x"], "--set v2=0.1,x: 'x' is not a number"),
    (["--set", "v2=1,2", "--set", "v1=1,2,3", "--zip"], "--zip pairs values one to one"),
    (["--set", "x1=1:2:3"], "--set x1: sweep varies constants; 'x1' is a param"),
    (["--set", "speed=1:2:3"], "--set speed: no const or param named 'speed'"),
    (["--set", "v2=1"], "sweep needs at least one --set NAME=LO:HI:N"),
    (["--set", "v2=1,2", "--resume"], "--resume needs the results file: -o FILE"),
    (["--set", "v2=1,2", "--grid", "--zip"], "choose one of --grid or --zip"),
])
def test_sweep_refuses_bad_input(args, message):
    proc = run("sweep", TERRAIN, *args)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sweep_will_not_append_to_a_file_without_resume(tmp_path):
    out = tmp_path / "old.jsonl"
    out.write_text('{"case": 0}\n')
    proc = run("sweep", TERRAIN, "--set", "v2=0.3,0.4", "-o", out)
    assert proc.returncode == 2
    assert "the file exists; --resume runs the cases it lacks" in proc.stderr
    assert out.read_text() == '{"case": 0}\n'


def test_a_case_the_problem_refuses_is_recorded_and_the_sweep_goes_on(tmp_path):
    path = tmp_path / "sized.dop"
    path.write_text("const n = 2\nparam x[n] = 1\nminimize sum((x - 3)^2)\n")
    out = tmp_path / "r.jsonl"
    proc = run("sweep", path, "--set", "n=2,-1,3", "-o", out, "--jobs", 1)
    assert proc.returncode == 1
    records = {r["case"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert records[1]["status"] == "error"
    assert "a parameter size must not be negative" in records[1]["error"]
    assert records[0]["params"]["x"] == pytest.approx([3, 3])
    assert records[2]["params"]["x"] == pytest.approx([3, 3, 3])


def test_sweep_json_document(tmp_path):
    proc = run("sweep", TERRAIN, "--set", "v2=0.3,0.45", "--set", "v1=0.7", "--json",
               "--jobs", 1)
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["swept"] == ["v2"]
    assert [c["settings"] for c in document["cases"]] == [{"v2": 0.3}, {"v2": 0.45}]
    for record in document["cases"]:
        check_terrain_record(record)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_killed_pool_process_has_its_case_redone(tmp_path):
    from diffopt.explore.executors import ProcessPool
    from diffopt.explore.worker import ProblemRef, Task

    pool = ProcessPool(ProblemRef(str(TERRAIN)), 2)
    try:
        pool.submit(Task(key=0, starts=tuple(range(200))))
        pool.submit(Task(key=1, starts=(0,)))
        first = pool.next_done()
        assert first.key == 1
        busy = next(w for w in pool.workers if w.task is not None)
        os.kill(busy.process.pid, signal.SIGKILL)
        redone = pool.next_done()
        assert redone.key == 0 and redone.error is None
        assert len(redone.results) == 200
    finally:
        pool.close()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_task_that_keeps_killing_its_worker_is_reported_not_retried_forever():
    import threading

    from diffopt.explore.executors import MAX_DEATHS, ProcessPool
    from diffopt.explore.worker import ProblemRef, Task

    pool = ProcessPool(ProblemRef(str(TERRAIN)), 1)
    killed = []

    def killer():  # whatever process holds the task is killed, again and again
        while len(killed) < MAX_DEATHS + 2:
            time.sleep(0.3)
            worker = pool.workers[0] if pool.workers else None
            if worker is not None and worker.task is not None and worker.process.pid:
                if worker.process.pid not in killed:
                    killed.append(worker.process.pid)
                    os.kill(worker.process.pid, signal.SIGKILL)

    try:
        pool.submit(Task(key=7, starts=tuple(range(100_000))))
        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        result = pool.next_done()
        assert result.key == 7 and result.crashed
        assert f"died {MAX_DEATHS} times on this task" in result.error
        assert len(killed) >= MAX_DEATHS
    finally:
        killed.extend([0] * 10)  # stop the killer
        pool.close()
