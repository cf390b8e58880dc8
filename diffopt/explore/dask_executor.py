"""Tasks on a Dask distributed cluster (``--cluster tcp://HOST:PORT``, extra ``dask``).

The same interface as diffopt.explore.executors: tasks are submitted as
``run_task(ref, task)`` calls; results come back in completion order. The
workers import diffopt and keep the loaded problem per thread (see
diffopt.explore.worker), so each loads it once for many tasks. The problem
is named by its absolute path (or sent as text when it came from standard
input): workers on other machines need the same paths, data files
included. When a worker dies, the scheduler runs its tasks again on
another one; each task is still reported once, here.
"""

from __future__ import annotations

import time

from diffopt.errors import UsageError
from diffopt.explore.worker import ProblemRef, Task, TaskResult, run_task

EXTRA_HINT = "pip install 'diffopt-cli[dask]'"
NO_WORKERS_LIMIT_S = 60.0  # give up when the cluster has had no worker this long
POLL_S = 1.0


class DaskExecutor:
    """Submit tasks to a Dask scheduler and take their results as they finish."""

    def __init__(self, address: str, ref: ProblemRef):
        if "://" not in address:
            raise UsageError(f"--cluster takes a scheduler address like tcp://HOST:PORT, "
                             f"not '{address}'")
        try:
            import distributed
        except ImportError:
            raise UsageError(f"--cluster needs Dask distributed: {EXTRA_HINT}") from None
        self.distributed = distributed
        self.address = address
        self.ref = ref
        try:
            self.client = distributed.Client(address, timeout="10s", set_as_default=False)
        except Exception as exc:  # OSError, TimeoutError: whatever the comm layer raises
            raise UsageError(f"--cluster {address}: cannot reach a Dask scheduler "
                             f"({type(exc).__name__}: {exc})") from None
        self.pending: dict = {}  # future -> task

    @property
    def capacity(self) -> int:
        """Two tasks per worker thread: a thread never waits for the next case."""
        return max(2, 2 * sum(self.client.nthreads().values()))

    def describe(self) -> str:
        threads = self.client.nthreads()
        return f"Dask cluster {self.address} ({len(threads)} workers)"

    def submit(self, task: Task) -> None:
        future = self.client.submit(run_task, self.ref, task, pure=False)
        self.pending[future] = task

    def next_done(self) -> TaskResult:
        """The first submitted task to finish (futures polled; the client is not
        the process's default, so Dask's module-level waits do not apply)."""
        idle_since, checked, pause = None, time.monotonic(), 0.001
        while True:
            for future in self.pending:
                if future.done():
                    return self._take(future)
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
            if time.monotonic() - checked < POLL_S:
                continue
            checked = time.monotonic()
            if self.client.nthreads():
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > NO_WORKERS_LIMIT_S:
                raise UsageError(f"--cluster {self.address}: the cluster has had no workers "
                                 f"for {NO_WORKERS_LIMIT_S:.0f} s")

    def _take(self, future) -> TaskResult:
        task = self.pending.pop(future)
        try:
            return future.result()
        except Exception as exc:  # KilledWorker: the task ended several workers
            return TaskResult(task.key, crashed=True,
                              error=f"on the cluster: {type(exc).__name__}: {exc}")

    def close(self) -> None:
        try:
            if self.pending:
                self.client.cancel(list(self.pending))
            self.client.close()
        except Exception:  # the scheduler may already be gone; nothing left to stop
            pass
        self.pending = {}
