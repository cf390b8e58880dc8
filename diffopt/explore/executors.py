"""Where tasks run: in this process, in a pool of local processes, or on a Dask cluster.

Every executor has the same small interface, so multi-start and sweeps are
written once:

* ``capacity``: how many tasks to keep submitted at a time (a driver submits
  lazily, so a sweep chooses warm starts from the cases finished so far);
* ``submit(task)``; ``next_done()``: the next ``TaskResult`` to finish,
  blocking, in completion order; ``close()`` (also on interruption: pool
  processes are terminated, their unfinished tasks are simply not reported).

The process pool is this module's own: each worker process is started
once (forkserver where available, so workers fork from a process that has
imported diffopt already), keeps its loaded problem, and runs one task at a
time over a pipe. A worker that dies has its task handed to a new worker.
Workers ignore Ctrl-C; the parent stops them.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from multiprocessing.connection import wait

from diffopt.errors import UsageError
from diffopt.explore.worker import ProblemRef, Task, TaskResult, run_task

CLUSTER_VARIABLE = "DIFFOPT_CLUSTER"
MAX_DEATHS = 3  # a task that ends this many pool processes is reported, not retried


def default_jobs() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def make_executor(ref: ProblemRef, jobs: int | None, cluster: str | None, tasks: int):
    """The executor a command's ``--jobs``/``--cluster`` (or DIFFOPT_CLUSTER) asks for.

    ``tasks`` bounds the number of local processes worth starting.
    """
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs}")
    cluster = cluster or os.environ.get(CLUSTER_VARIABLE) or None
    if cluster:
        from diffopt.explore.dask_executor import DaskExecutor

        return DaskExecutor(cluster, ref)
    workers = min(jobs if jobs is not None else default_jobs(), max(1, tasks))
    if workers == 1:
        return InProcess(ref)
    return ProcessPool(ref, workers)


class InProcess:
    """Runs each task in this process when its result is asked for (``--jobs 1``)."""

    capacity = 1

    def __init__(self, ref: ProblemRef):
        self.ref = ref
        self.queue: deque = deque()

    def submit(self, task: Task) -> None:
        self.queue.append(task)

    def next_done(self) -> TaskResult:
        return run_task(self.ref, self.queue.popleft())

    def close(self) -> None:
        self.queue.clear()

    def describe(self) -> str:
        return "in this process"


def _context():
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["diffopt.explore.worker"])
        return context
    return multiprocessing.get_context("spawn")


def _serve(connection, ref: ProblemRef) -> None:
    """A pool process: solve the tasks that arrive until told to stop (None)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):  # the parent went away
            return
        if task is None:
            return
        connection.send(run_task(ref, task))


class _Worker:
    """One pool process, its end of the pipe and the task it is running."""

    def __init__(self, context, ref: ProblemRef):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, ref), daemon=True)
        self.process.start()
        child.close()
        self.task: Task | None = None


class ProcessPool:
    """``workers`` local processes, each solving one task at a time."""

    def __init__(self, ref: ProblemRef, workers: int):
        self.ref = ref
        self.context = _context()
        self.workers = [_Worker(self.context, ref) for _ in range(workers)]
        self.capacity = workers
        self.waiting: deque = deque()
        self.deaths: dict = {}

    def describe(self) -> str:
        return f"{len(self.workers)} local processes"

    def submit(self, task: Task) -> None:
        self.waiting.append(task)
        self._dispatch()

    def _dispatch(self) -> None:
        for worker in self.workers:
            if worker.task is None and self.waiting:
                worker.task = self.waiting.popleft()
                worker.connection.send(worker.task)

    def next_done(self) -> TaskResult:
        while True:
            busy = [w for w in self.workers if w.task is not None]
            if not busy:
                raise RuntimeError("next_done() without a submitted task")
            ready = wait([w.connection for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                if worker.connection in ready:
                    try:
                        result = worker.connection.recv()
                    except (EOFError, OSError):  # it died while sending: redo its task
                        result = self._replace(worker)
                    else:
                        worker.task = None
                        self._dispatch()
                elif worker.process.sentinel in ready:
                    result = self._replace(worker)
                else:
                    continue
                if result is not None:
                    return result
                break

    def _replace(self, worker: _Worker) -> TaskResult | None:
        """A worker died (killed, out of memory): a new one redoes its task, unless
        that task has now ended ``MAX_DEATHS`` workers (then it is reported failed)."""
        task = worker.task
        worker.connection.close()
        worker.process.join(timeout=1)
        index = self.workers.index(worker)
        self.workers[index] = _Worker(self.context, self.ref)
        self.deaths[task.key] = self.deaths.get(task.key, 0) + 1
        if self.deaths[task.key] >= MAX_DEATHS:
            self._dispatch()
            return TaskResult(task.key, crashed=True,
                              error=f"the worker process died {MAX_DEATHS} times on this "
                                    f"task (exit status {worker.process.exitcode})")
        self.waiting.appendleft(task)
        self._dispatch()
        return None

    def close(self) -> None:
        """Stop every worker: politely when idle, at once when still busy."""
        for worker in self.workers:
            try:
                if worker.task is None:
                    worker.connection.send(None)
                else:
                    worker.process.terminate()
            except (OSError, ValueError):
                pass
        for worker in self.workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
            worker.connection.close()
        self.workers = []


def drive(executor, next_task, on_done) -> None:
    """Keep ``executor`` busy with ``next_task()`` (None: no more) and hand every
    result to ``on_done`` as it finishes; the executor is closed at the end,
    also when interrupted."""
    running = 0
    try:
        while True:
            while running < executor.capacity:
                task = next_task()
                if task is None:
                    break
                executor.submit(task)
                running += 1
            if running == 0:
                return
            result = executor.next_done()
            running -= 1
            on_done(result)
    finally:
        executor.close()
