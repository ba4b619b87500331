"""A persistent pool of spawned worker processes that survives the death of its workers.

``concurrent.futures.ProcessPoolExecutor`` breaks as a whole when one worker dies; here each
worker has its own pipe, so a dead worker costs only its current chunk, which is sent again to
another worker (``retries`` times) while a replacement starts. Workers are started with the
``spawn`` method (numba's OpenMP layer is not fork-safe), receive the problem once (shared
arrays by segment name), warm up, and then take one chunk at a time. They ignore SIGINT (the
parent decides), and exit on their own when the parent goes away (their pipe reaches EOF).
A worker that dies while starting is reported with its own last lines of output and what to do
(see :mod:`._spawn`).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import time
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..memory._proc import IntervalMeter, read_status
from . import _spawn
from ._shared import ProblemPayload
from ._task import WorkerLost, ping

__all__ = ["Pool"]

log = logging.getLogger("genepool.evaluation")

START_TIMEOUT_S = 300.0  # a cold numba compile in a worker on a busy machine takes a while
#: Seconds between a worker's samples of its anonymous memory during a chunk (the monitor's
#: default; see genepool.memory.MemoryMonitor)
SAMPLE_PERIOD_S = 0.002
MAX_START_FAILURES = 3


# -- in the worker -------------------------------------------------------------------------------
def _anon() -> int:
    """This worker's anonymous memory (``RssAnon``; 0 without /proc). Shared memory is not
    counted: the segments are the parent's, counted there once."""
    r = read_status()
    return 0 if r is None else r.anon


def set_threads(threads: int | None) -> None:
    """Cap numba's threads in this thread of this process (processes x threads <= cores).

    Torch's intra-op threads are capped too when the problem has loaded torch (call this after
    building the problem); its count is per process.
    """
    if not threads:
        return
    try:
        import numba

        # NUMBA_NUM_THREADS is set on numba.config at import from the environment; not in its stubs
        limit = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
        numba.set_num_threads(max(1, min(threads, limit)))
    except Exception:  # pragma: no cover - numba missing or layer not started
        pass
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(max(1, threads))


def worker_main(
    conn: Connection,
    payload: ProblemPayload,
    threads: int | None,
    stderr: Connection | None = None,
) -> None:
    """Entry point of a worker process (``stderr``: the parent's, restored once started)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        problem = payload.build()
        set_threads(threads)
        problem.warm_up()
        _spawn.restore_stderr(stderr)
        conn.send(("ready", os.getpid(), _anon()))
    except BaseException:
        _spawn.restore_stderr(stderr)
        with contextlib.suppress(OSError):
            conn.send(("start_error", os.getpid(), traceback.format_exc()))
        return
    del payload
    meter = IntervalMeter(SAMPLE_PERIOD_S, count_shmem=False)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if msg is None:
            return
        tid, fn, X = msg
        start = meter.begin()  # anonymous memory, not memory-mapped data the fitness reads
        try:
            result = fn(problem, X)
        except BaseException:  # fn catches the fitness's errors; this is a bug in fn itself
            result = RuntimeError(traceback.format_exc())
        done = meter.end()
        peak = 0 if done is None or start is None else max(0, done[0] - meter.budgeted(start))
        if hasattr(result, "peak"):
            result.peak = peak
        del X
        try:
            conn.send(("done", tid, result))
        except (EOFError, OSError, BrokenPipeError):
            return


# -- in the parent -------------------------------------------------------------------------------
@dataclass
class _Task:
    tid: int
    index: int  # position in the map call
    X: np.ndarray
    attempts: int = 0
    map_id: int = 0
    counts: bool = True  # towards max_tasks_per_child (pings do not)


class _Worker:
    def __init__(self, proc: Any, conn: Connection, log_file: Any = None) -> None:
        self.proc, self.conn = proc, conn
        self.log = log_file  # its stderr until it is ready
        self.ready = False
        self.task: _Task | None = None
        self.done = 0
        self.rss = 0
        self.started = time.perf_counter()

    @property
    def pid(self) -> int:
        return int(self.proc.pid or 0)

    def close_log(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None


def _shutdown(procs: list[Any], payload: ProblemPayload) -> None:
    """Finalizer of a pool that was not closed: stop its processes, free its shared memory."""
    _terminate(procs)
    payload.release()


def _terminate(procs: list[Any]) -> None:
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(1.0)
        if p.is_alive():  # pragma: no cover - SIGTERM ignored
            p.kill()
            p.join(1.0)


class Pool:
    """``workers`` spawned processes holding ``payload``'s problem; see the module doc."""

    def __init__(
        self,
        payload: ProblemPayload,
        workers: int,
        *,
        threads: int | None = None,
        retries: int = 2,
        max_tasks_per_child: int | None = None,
    ) -> None:
        self.payload = payload
        self.n_workers = workers
        self.threads = threads
        self.retries = retries
        self.max_tasks_per_child = max_tasks_per_child
        self._ctx = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._procs: list[Any] = []  # every process ever started, for the finalizer
        self._tid = 0
        self._map_id = 0
        self._start_failures = 0
        #: Bytes of each task message sent (the chunk, the task function and a task id).
        self.bytes_sent: collections.deque[int] = collections.deque(maxlen=10_000)
        self.n_tasks = self.n_retried = self.n_lost = self.n_deaths = self.n_spawned = 0
        self.closed = False
        self._fn: Any = None
        self._task_retries = retries
        self._queue: collections.deque[_Task] = collections.deque()
        self._finalizer = weakref.finalize(self, _shutdown, self._procs, payload)
        for _ in range(workers):
            self._spawn()

    # -- workers ---------------------------------------------------------------------------------
    def _spawn(self) -> None:
        parent, child = self._ctx.Pipe(duplex=True)
        with _spawn.capture_start() as (log_file, stderr):
            proc = self._ctx.Process(
                target=worker_main,
                args=(child, self.payload, self.threads, stderr),
                daemon=True,
                name="genepool-worker",
            )
            proc.start()
        child.close()
        self._procs.append(proc)
        self._workers.append(_Worker(proc, parent, log_file))
        self.n_spawned += 1

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in self._workers]

    @property
    def worker_rss(self) -> int:
        """Largest anonymous memory (``RssAnon``) of a worker after its warm-up (its
        baseline; shared memory and memory-mapped data are not counted)."""
        return max((w.rss for w in self._workers if w.ready), default=0)

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Block until every worker has loaded the problem and warmed up."""
        deadline = time.perf_counter() + timeout
        while not all(w.ready for w in self._workers):
            left = deadline - time.perf_counter()
            if left <= 0:
                raise ConfigError(f"worker processes did not start within {timeout:.0f} s")
            self._poll(min(left, 1.0))

    def _poll(self, timeout: float | None) -> list[tuple[_Task, Any]]:
        """Wait for messages or deaths; returns finished tasks (and requeues lost ones)."""
        objs: list[Any] = []
        for worker in self._workers:
            objs += [worker.conn, worker.proc.sentinel]
        finished: list[tuple[_Task, Any]] = []
        for obj in wait(objs, timeout):
            w = next((w for w in self._workers if obj in (w.conn, w.proc.sentinel)), None)
            if w is None:  # handled earlier in this loop
                continue
            if obj is w.conn:
                try:
                    msg = w.conn.recv()
                except (EOFError, OSError):
                    self._died(w, finished)
                    continue
                self._message(w, msg, finished)
            elif not w.proc.is_alive() or w.proc.exitcode is not None:
                self._drain(w, finished)
                if w in self._workers:
                    self._died(w, finished)
        return finished

    def _drain(self, w: _Worker, finished: list[tuple[_Task, Any]]) -> None:
        """Read what a worker sent before it exited (a result, or a start error)."""
        try:
            while w in self._workers and w.conn.poll():
                self._message(w, w.conn.recv(), finished)
        except (EOFError, OSError):
            pass

    def _message(self, w: _Worker, msg: Any, finished: list[tuple[_Task, Any]]) -> None:
        kind = msg[0]
        if kind == "ready":
            w.ready, w.rss = True, int(msg[2])
            self._start_failures = 0
            _spawn.forward(w.log)
            w.close_log()
        elif kind == "start_error":
            self.close()
            hint = _spawn.start_hint(msg[2])
            raise ConfigError(
                f"a worker process could not load the problem:\n{msg[2]}".rstrip()
                + (f"\n{hint}" if hint else "")
            ) from None
        elif kind == "done":
            task, w.task = w.task, None
            w.done += task is not None and task.counts
            if task is not None and task.tid == msg[1]:
                finished.append((task, msg[2]))
            if self.max_tasks_per_child and w.done >= self.max_tasks_per_child:
                self._retire(w)

    def _retire(self, w: _Worker) -> None:
        """A worker that served ``max_tasks_per_child`` chunks: let it exit, start another."""
        try:
            w.conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        w.proc.join(5.0)
        if w.proc.is_alive():  # pragma: no cover
            w.proc.terminate()
        self._workers.remove(w)
        w.conn.close()
        w.close_log()
        if not self.closed:
            self._spawn()

    def _died(self, w: _Worker, finished: list[tuple[_Task, Any]]) -> None:
        w.proc.join(0.1)
        code = w.proc.exitcode
        self._workers.remove(w)
        w.conn.close()
        self.n_deaths += 1
        how = f"exit code {code}"
        if code is not None and code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:  # pragma: no cover
                pass
        task = w.task
        said = _spawn.read_tail(w.log, lines=200) if not w.ready else ""
        w.close_log()
        if not w.ready:
            self._start_failures += 1
            if self._start_failures >= MAX_START_FAILURES:
                self.close()
                hint = _spawn.start_hint(said) or (
                    f"if the main script cannot be imported by a new process: {_spawn.WHAT_TO_DO}"
                )
                said = _spawn.error_line(said)
                raise ConfigError(
                    f"worker processes die while starting ({how}"
                    + (f": {said}" if said else ", printing nothing")
                    + f"); {hint}"
                )
        if task is not None and task.map_id != -1:
            task.attempts += 1
            log.warning(
                "worker %d died (%s) evaluating a chunk of %d; attempt %d",
                w.pid,
                how,
                task.X.shape[0],
                task.attempts,
            )
            if task.attempts > self._task_retries:
                self.n_lost += 1
                finished.append((task, WorkerLost(task.attempts, f"last worker {how}")))
            else:
                self.n_retried += 1
                self._queue.appendleft(task)
        if not self.closed:
            self._spawn()

    # -- mapping ---------------------------------------------------------------------------------
    def map(
        self,
        fn: Callable[[Any, np.ndarray], Any],
        chunks: Iterable[np.ndarray],
        retries: int | None = None,
    ) -> Iterator[Any]:
        """``fn(problem, chunk)`` in the workers, results in chunk order; a chunk whose worker
        died more than ``retries`` times yields a :class:`WorkerLost`.

        Chunks are taken from ``chunks`` only when a worker is free (at most ``4 x workers``
        ahead of the next result to yield), so the parent holds few of them at a time.
        """
        if self.closed:
            raise ConfigError("the process pool is closed")
        self._map_id += 1
        map_id = self._map_id
        for w in self._workers:  # results of an abandoned map are dropped when they come
            if w.task is not None:
                w.task.map_id = -1
        self._fn = fn
        self._task_retries = self.retries if retries is None else retries
        self._queue = collections.deque()
        source = iter(chunks)
        done = False
        issued = next_out = 0
        pending: dict[int, Any] = {}
        lookahead = 4 * max(1, self.n_workers)
        try:
            while True:
                while next_out in pending:
                    yield pending.pop(next_out)
                    next_out += 1
                for w in self._ready_idle():
                    if self._queue:
                        task = self._queue.popleft()
                    elif done or issued - next_out >= lookahead:
                        break
                    else:
                        try:
                            X = next(source)
                        except StopIteration:
                            done = True
                            break
                        self._tid += 1
                        task = _Task(self._tid, issued, X, map_id=map_id, counts=fn is not ping)
                        issued += 1
                    self._send(w, task)
                if done and not self._queue and next_out >= issued:
                    return
                for task, result in self._poll(None):
                    if task.map_id == map_id:
                        pending[task.index] = result
        finally:
            for w in self._workers:
                if w.task is not None and w.task.map_id == map_id:
                    w.task.map_id = -1
            self._queue.clear()

    def _ready_idle(self) -> list[_Worker]:
        return [w for w in self._workers if w.ready and w.task is None]

    def _send(self, w: _Worker, task: _Task) -> None:
        data = pickle.dumps((task.tid, self._fn, task.X), protocol=pickle.HIGHEST_PROTOCOL)
        w.task = task
        if task.counts:  # chunks, not the pings that measure the overhead
            self.bytes_sent.append(len(data))
            self.n_tasks += 1
        try:
            w.conn.send_bytes(data)
        except (OSError, BrokenPipeError):
            pass  # the worker is dead: its sentinel fires and the task is retried

    # -- lifetime --------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the workers (idle ones exit, busy ones are terminated) and free shared memory."""
        if self.closed:
            return
        self.closed = True
        for w in self._workers:
            if w.task is None and w.ready:
                try:
                    w.conn.send(None)
                except (OSError, BrokenPipeError):
                    pass
        deadline = time.perf_counter() + 2.0
        for w in self._workers:
            if w.task is None and w.ready:
                w.proc.join(max(0.0, deadline - time.perf_counter()))
        _terminate(self._procs)
        for w in self._workers:
            w.conn.close()
            w.close_log()
        self._workers.clear()
        self.payload.release()
        self.payload = ProblemPayload("pickle")  # drop the problem, keep the statistics
        self._finalizer.detach()
