"""--cluster: sweeps and multi-starts on a Dask LocalCluster on the loopback interface.

Two worker processes (one thread each). The sweep of problems/terrain.dop
over v2 must give the optima Snell's law gives (tests/test_explore.py
computes them by bisection), each case exactly once in the results file,
also when a worker process is killed in the middle of the sweep (the test
that runs by default; the others are marked slow).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from test_explore import DIFFOPT, RELU, REPO, TERRAIN, check_terrain_record, run

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as local:
        with distributed.Client(local) as client:
            yield local, client


def _records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow  # the killed-worker test below runs the same sweep by default
def test_terrain_sweep_through_a_local_cluster(cluster, tmp_path):
    local, _ = cluster
    out = tmp_path / "results.jsonl"
    proc = run("sweep", TERRAIN, "--set", "v2=0.1:0.6:20", "-o", out,
               "--cluster", local.scheduler_address)
    assert proc.returncode == 0, proc.stderr
    records = _records(out)
    assert sorted(r["case"] for r in records) == list(range(20))
    for record in records:
        check_terrain_record(record)
    said = " ".join(proc.stdout.split())
    assert f"Dask cluster {local.scheduler_address} (2 workers)" in said


@pytest.mark.slow
def test_starts_through_the_cluster_variable_give_the_local_table(cluster):
    local, _ = cluster
    env = {**os.environ, "DIFFOPT_CLUSTER": local.scheduler_address}
    on_cluster = run("solve", RELU, "--starts", 12, "--json", env=env)
    here = run("solve", RELU, "--starts", 12, "--json", "--jobs", 1)
    assert on_cluster.returncode == here.returncode, on_cluster.stderr
    assert (json.loads(on_cluster.stdout)["multistart"]["optima"]
            == json.loads(here.stdout)["multistart"]["optima"])


def test_a_worker_killed_mid_sweep_has_its_cases_redone(cluster, tmp_path):
    local, client = cluster
    out = tmp_path / "results.jsonl"
    # 24 starts per case keep every worker busy long enough to be killed mid-case
    process = subprocess.Popen(
        [*DIFFOPT, "sweep", str(TERRAIN), "--set", "v2=0.1:0.6:20", "--starts", "24",
         "-o", str(out), "--cluster", local.scheduler_address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 2:
            break
        time.sleep(0.01)
    assert process.poll() is None, "the sweep ended before a worker could be killed"
    victim = sorted(client.run(os.getpid).values())[0]
    os.kill(victim, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    records = _records(out)
    assert sorted(r["case"] for r in records) == list(range(20))  # each exactly once
    for record in records:
        check_terrain_record(record)
    assert victim not in client.run(os.getpid).values()
