"""Isolation: run a reader in a child process with a time and a memory budget.

Some files kill a reader in ways no ``except`` can catch (python-calamine aborts the process
when an allocation fails). :func:`run_isolated` runs one call in a child process;
:func:`map_isolated` runs many over a small pool of reusable workers. Both turn a timeout,
a death or an exception into findings (``parse_timeout``, ``parse_crashed``) instead of
raising, and never lose the batch: a dead worker is replaced and the other items go on.

:func:`map_isolated` sends items to a worker in batches (one pipe round trip for many
files; the next batch already waits in the pipe when a worker finishes one) while keeping
each item's own time budget and blame: a worker writes which item it is on, and since
when, to a few bytes of memory shared with the parent. When a worker dies or overruns, the
item it was on gets the finding; the rest of its batch is run again one item at a time, so
that a second bad file costs only itself too.

Children come from the ``forkserver`` context where it exists (POSIX): cheap to start, no
inherited threads or locks, and the server preloads python-calamine and the caller's
module once (:func:`warm_up` starts it ahead of need).
Elsewhere (Windows) ``spawn`` is used. The memory budget is ``RLIMIT_AS`` set in the child on
top of what the child already maps; where ``resource`` is missing (Windows) only the time
budget holds, and the pre-check is the guard.

``func`` and its arguments must be picklable: a module-level function, or a
``functools.partial`` of one. Findings carry no path: callers add it with
``finding.at(path=…)``.

Typical use, pre-check and read in the worker::

    def read_one(item):
        data, name = item
        checked = precheck(data, name)
        if not checked.ok:
            return checked.findings, None
        return checked.findings, my_reader(checked.workbook)

    for index, result in map_isolated(read_one, items, workers=2):
        ...  # result.value, or result.findings when the worker died or overran
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import logging
import math
import multiprocessing
import os
import pickle
import signal
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from logic.errors import ThiduaError
from logic.findings import Finding, finding

__all__ = [
    "IsolatedResult",
    "WorkerStartError",
    "map_isolated",
    "run_isolated",
    "spawns_workers",
    "warm_up",
]

log = logging.getLogger(__name__)

_MB = 1024 * 1024
# Modules the fork server imports once so that every child starts with them loaded (not
# openpyxl: no reader runs it in a worker, and importing it doubled the server's start).
_PRELOAD = ["__main__", "workbooks.precheck", "python_calamine"]
# A worker whose resident memory grew this much since its first batch is replaced: a
# reader that leaked or fragmented its heap on one file must not carry that to the next.
_RECYCLE_GROWTH_MB = 200
# Batches grow from one item towards ``batch_s`` of work, at most this many times the
# largest batch measured so far (the first items of a worker are slow: it loads its context).
_GROWTH = 4
_MAX_BATCH = 1000
# Batches queued per worker: the next one waits in its pipe while it works on one, so it
# never waits for the parent between batches.
_AHEAD = 2
# Workers in a row that died (or hung) before their first call, or could not be started:
# then this machine cannot run them, and the run stops with one error instead of blaming
# every file on a worker that never read it.
_START_TRIES = 3


class WorkerStartError(ThiduaError):
    """Workers cannot start here (no file is at fault): ``str(e)`` says so, in Vietnamese."""

    def __init__(self, why: str):
        self.why = why
        super().__init__(
            f"Không khởi động được tiến trình đọc tệp: {_START_TRIES} lần liên tiếp, tiến "
            f"trình dừng trước khi đọc tệp nào ({why}). Các tệp báo cáo không bị coi là lỗi. "
            "Hãy kiểm tra bản cài đặt thidua trên máy này (phần mềm diệt virus hoặc chính "
            "sách của máy có thể chặn chạy tiến trình con) rồi chạy lại."
        )


@dataclass(frozen=True, slots=True)
class IsolatedResult:
    """What one isolated call gave: ``value`` when it returned, else ``findings`` saying why.

    ``findings`` holds ``parse_timeout`` or ``parse_crashed`` (without a path); ``elapsed_s``
    is the call's wall time (measured by the worker when it returned, else from the call's
    start until the parent saw the death or the overrun).
    """

    value: Any = None
    findings: list[Finding] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the call returned normally (its value may still carry findings)."""
        return not self.findings


def run_isolated(
    func: Callable[..., Any],
    *args: Any,
    timeout_s: float | None = None,
    memory_mb: int | None = None,
) -> IsolatedResult:
    """Call ``func(*args)`` in a fresh child process; never raises for what the call does.

    Budgets default to the settings (``parse_timeout_s``, ``parse_memory_mb``). Costs a
    process start (10–40 ms with the fork server, more where the function's module is not
    preloaded; the first call also starts the server, ~1–2 s); use :func:`map_isolated` for
    batches.
    """
    runs = _run(func, [args], 1, timeout_s, memory_mb, max_tasks=1, batch_s=0.0)
    try:
        return next(runs)[1]
    finally:
        runs.close()


def map_isolated(
    func: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    workers: int | None = None,
    timeout_s: float | None = None,
    memory_mb: int | None = None,
    max_tasks_per_worker: int = 10_000,
    batch_s: float = 0.2,
) -> Iterator[tuple[int, IsolatedResult]]:
    """Call ``func(item)`` for every item on a pool of workers; yield ``(index, result)``.

    Results come as batches complete, not in order. Items go to a worker in batches of about
    ``batch_s`` seconds of work (measured as the run goes; the first batches hold one item,
    and batches shrink near the end of a sized ``items`` so that workers finish together), so
    results arrive about every ``batch_s`` per worker. Each call has its own time budget;
    the memory budget holds for each worker. A call that fails gives its own finding; a
    worker that dies or overruns costs only the item it was on (the rest of its batch runs
    again one item at a time) and is replaced. Workers are recycled after
    ``max_tasks_per_worker`` calls, or sooner when their memory grew, so that memory a
    reader leaks does not pile up. ``items`` is consumed lazily (a batch or two ahead per
    worker). Closing the iterator early stops the workers.

    A worker that ends before its first call (it could not start, or import ``func``) costs
    no item: its batches run again as they were. Raises :class:`WorkerStartError` when
    three in a row do: this machine cannot run them, whatever the items.
    """
    total = len(items) if isinstance(items, Sized) else None
    return _run(
        func,
        ((item,) for item in items),
        workers or os.cpu_count() or 1,
        timeout_s,
        memory_mb,
        max_tasks=max_tasks_per_worker,
        batch_s=batch_s,
        total=total,
    )


def warm_up(func: Callable[..., Any] | str, workers: int | None = None) -> None:
    """Start what workers for ``func`` come from, in the background, and return at once.

    The fork server imports the readers once (0.5–1 s) before the first worker can start;
    calling this as soon as reading is known to be needed overlaps that with the caller's
    own work. ``func`` may be given as the name of its module (``"workbooks.parallel"``),
    so that a command can start the server before importing the readers itself: this
    module imports nothing heavy. Does nothing when the server already runs.

    Where there is no fork server (Windows), every worker is a new interpreter that imports
    the readers itself (0.5–1 s each): with ``workers``, that many are started now, once
    per process, and wait importing ``func``'s module until :func:`map_isolated` (or
    :func:`run_isolated`) takes them instead of starting its own. Workers nobody took are
    stopped when this process exits.
    """
    ctx = _context(func)
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        with contextlib.suppress(Exception):  # the first map_isolated then starts it
            forkserver.ensure_running()
    elif workers and not _STANDBY.started:
        _STANDBY.start(ctx, _module_of(func), workers)


def spawns_workers() -> bool:
    """Whether every worker is a new interpreter (no fork server: Windows), which
    :func:`warm_up` can start ahead of need."""
    # THIDUA_START_METHOD=spawn: what Windows gets, so that it can be tested elsewhere
    forced = os.environ.get("THIDUA_START_METHOD") == "spawn"
    return forced or "forkserver" not in multiprocessing.get_all_start_methods()


# --------------------------------------------------------------------------------------
# internals


def _context(func: Callable[..., Any] | str) -> multiprocessing.context.BaseContext:
    if spawns_workers():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # Takes effect when the server starts (first use in this process); preloading the
    # caller's module spares every child the import.
    module = _module_of(func)
    extra = [module] if module and module not in _PRELOAD else []
    with contextlib.suppress(Exception):
        ctx.set_forkserver_preload(_PRELOAD + extra)
    return ctx


def _module_of(func: Callable[..., Any] | str) -> str | None:
    if isinstance(func, str):
        return func
    return getattr(func, "__module__", None) or getattr(
        getattr(func, "func", None), "__module__", None
    )


class _Standby:
    """Spawned workers started ahead of need (:func:`warm_up`), until a run takes them."""

    def __init__(self) -> None:
        self.workers: list[_Worker] = []
        self.started = False

    def start(self, ctx: multiprocessing.context.BaseContext, module: str | None, n: int) -> None:
        from workbooks.settings import get_settings  # pydantic: imported when first needed

        self.started = True
        memory = int(get_settings().parse_memory_mb)
        # what the fork server would preload; "__main__" a spawned child runs anyway
        preload = tuple(m for m in (*_PRELOAD, module) if m and m != "__main__")
        with contextlib.suppress(Exception):  # then the run starts its workers itself
            for _ in range(n):
                self.workers.append(_Worker(ctx, memory, preload))
        atexit.register(self.stop)

    def take(self, ctx: multiprocessing.context.BaseContext, memory_mb: int) -> _Worker | None:
        """A started worker of this kind and budget that is still alive, or None."""
        while self.workers:
            w = self.workers.pop(0)
            same = w.method == ctx.get_start_method() and w.memory_mb == memory_mb
            if same and w.alive and w.process.is_alive():
                return w
            w.stop()
        return None

    def stop(self) -> None:
        while self.workers:
            self.workers.pop().stop()


_STANDBY = _Standby()


Item = tuple[int, tuple]  # (index in the caller's items, call arguments)


class _Sizer:
    """Batch size from the measured time per call: about ``batch_s`` of work per batch."""

    def __init__(self, batch_s: float, workers: int, total: int | None):
        self.batch_s = batch_s
        self.workers = workers
        self.total = total
        self.per_call: float | None = None
        self.size = 1
        self.largest = 0  # the largest batch measured: sizes grow from evidence

    def learn(self, elapsed: list[float]) -> None:
        if not elapsed:
            return
        mean = sum(elapsed) / len(elapsed)
        self.per_call = mean if self.per_call is None else 0.5 * self.per_call + 0.5 * mean
        self.largest = max(self.largest, len(elapsed))
        wanted = self.batch_s / max(self.per_call, 1e-6)
        self.size = int(max(1, min(wanted, self.largest * _GROWTH, _MAX_BATCH)))

    def next(self, taken: int) -> int:
        size = self.size
        if self.total is not None:
            # Guided: never more than a share of what is left, so the last batches are small
            # and no worker idles while another finishes a long one.
            left = self.total - taken
            size = min(size, max(1, math.ceil(left / (2 * self.workers))))
        return size


def _run(
    func: Callable[..., Any],
    arg_tuples: Iterable[tuple],
    workers: int,
    timeout_s: float | None,
    memory_mb: int | None,
    *,
    max_tasks: int,
    batch_s: float,
    total: int | None = None,
) -> Iterator[tuple[int, IsolatedResult]]:
    from workbooks.settings import get_settings  # pydantic: imported when first needed

    settings = get_settings()
    timeout = float(timeout_s if timeout_s is not None else settings.parse_timeout_s)
    memory = int(memory_mb if memory_mb is not None else settings.parse_memory_mb)
    ctx = _context(func)
    feed = _Feed(arg_tuples, _Sizer(batch_s, workers, total))
    pool: list[_Worker] = []
    failed_starts = 0  # workers in a row that never began a call

    def start_failed(why: str) -> None:
        nonlocal failed_starts
        failed_starts += 1
        log.warning("reader process could not start: %s", why)
        if failed_starts >= _START_TRIES:
            raise WorkerStartError(why)

    def new_worker() -> _Worker:
        while True:
            try:
                return _Worker(ctx, memory)
            except Exception as exc:  # a fork server that died, a refused process, …
                start_failed(f"{type(exc).__name__}: {exc}")

    def dispatch() -> None:
        while True:
            # an idle worker first, then a new one, then one that will soon need more
            open_ = [w for w in pool if w.accepts(max_tasks)]
            worker = next((w for w in open_ if not w.flight), None)
            if worker is None and len(pool) >= workers:
                worker = next((w for w in open_ if len(w.flight) < _AHEAD), None)
                if worker is None:
                    return
            batch = feed.take(max_tasks - (worker.tasks if worker else 0))
            if not batch:
                return
            if worker is None:
                worker = _STANDBY.take(ctx, memory) or new_worker()
                pool.append(worker)
            worker.submit(func, batch)

    try:
        dispatch()
        while busy := [w for w in pool if w.flight]:
            now = time.monotonic()
            first_deadline = min(w.started() for w in busy) + timeout
            waitables = [w.conn for w in busy] + [w.process.sentinel for w in busy]
            ready = set(wait(waitables, max(0.0, first_deadline - now)))
            done: list[tuple[int, IsolatedResult]] = []
            now = time.monotonic()
            for worker in busy:
                gone = worker.process.sentinel in ready
                if gone or worker.conn in ready:
                    worker.collect(done, feed, now, memory, gone=gone)
                elif now - worker.started() >= timeout and not worker.conn.poll():
                    worker.overrun(done, feed, now, timeout, memory)
                else:
                    continue
                if worker.start_failure is not None:
                    start_failed(worker.start_failure)
                elif worker.began():
                    failed_starts = 0
                if not worker.alive or not (worker.flight or worker.accepts(max_tasks)):
                    worker.stop()
                    pool.remove(worker)
            # New batches go out before the results: a worker must not wait while the
            # consumer handles them. And results are yielded only after every ready worker
            # is collected: time the consumer spends must not count against a budget.
            dispatch()
            yield from done
    finally:
        for worker in pool:
            worker.stop()


class _Feed:
    """The items still to run, a batch at a time: first those to run again, then the rest."""

    def __init__(self, arg_tuples: Iterable[tuple], sizer: _Sizer):
        self.pending = enumerate(arg_tuples)
        self.sizer = sizer
        self.again: deque[list[Item]] = deque()
        self.taken = 0
        self.exhausted = False

    def retry(self, items: list[Item], *, alone: bool) -> None:
        """Run these first, in this order: each on its own (items of a batch whose worker
        died or overran, so that a second bad file in it costs only itself too), or as
        the batch they were (a batch the worker never started)."""
        if items:
            self.again.extendleft(reversed([[item] for item in items] if alone else [items]))

    def take(self, room: int) -> list[Item]:
        if self.again:
            batch = self.again.popleft()
            if len(batch) > room:
                self.again.appendleft(batch[room:])
                batch = batch[:room]
            return batch
        if self.exhausted:
            return []
        size = min(self.sizer.next(self.taken), room)
        batch: list[Item] = []
        for item in self.pending:
            batch.append(item)
            if len(batch) >= size:
                break
        else:
            self.exhausted = True
        self.taken += len(batch)
        return batch


@dataclass(slots=True)
class _Batch:
    number: int
    items: list[Item]
    sent_at: float


class _Worker:
    """One child process serving batches of calls over a pipe, up to ``_AHEAD`` queued.

    ``mark`` is shared with the child: (batch number, position in the batch, monotonic
    time the call at that position started); the position equals the batch's length
    while the results are being sent. ``flight`` holds the batches sent and not yet
    answered, oldest first: the child works on them in that order.
    """

    def __init__(
        self, ctx: multiprocessing.context.BaseContext, memory_mb: int, preload: tuple = ()
    ):
        self.method = ctx.get_start_method()
        self.memory_mb = memory_mb
        self.conn, child = ctx.Pipe(duplex=True)
        self.mark = ctx.RawArray("d", 3)
        _sweep_old_logs()
        fd, self.errpath = tempfile.mkstemp(prefix=_LOG_PREFIX, suffix=".log")
        os.close(fd)
        self.process = ctx.Process(
            target=_serve,
            args=(child, self.mark, memory_mb, self.errpath, preload),
            daemon=True,
        )
        try:
            self.process.start()
        except BaseException:
            self.conn.close()
            with contextlib.suppress(OSError):
                os.unlink(self.errpath)
            raise
        finally:
            child.close()
        self.tasks = 0
        self.alive = True
        self.retiring = False  # its memory grew: no more batches
        self.stopped = False
        self.number = 0
        self.flight: deque[_Batch] = deque()
        self.first_rss = 0
        self.start_failure: str | None = None  # why it ended before its first call

    def began(self) -> bool:
        """Whether the child ever began a call (it writes the batch number as it does)."""
        return int(self.mark[0]) > 0

    def accepts(self, max_tasks: int) -> bool:
        return self.alive and not self.retiring and self.tasks < max_tasks

    def submit(self, func: Callable[..., Any], batch: list[Item]) -> None:
        self.number += 1
        self.tasks += len(batch)
        self.flight.append(_Batch(self.number, batch, time.monotonic()))
        try:
            self.conn.send((self.number, func, [args for _i, args in batch]))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            pass  # died before the call: collect() reports it
        except Exception as exc:  # an unpicklable function or argument: the caller's mistake
            self.stop()
            raise TypeError(
                f"isolated calls need picklable functions and arguments: {exc}"
            ) from exc

    def _position(self) -> tuple[int | None, float]:
        """Which call of the oldest batch in flight runs, and since when.

        None when the child has not started that batch yet; the time is then when it
        could have: the batch's sending, or the end of the batch before, if later.
        """
        number, position, start = int(self.mark[0]), int(self.mark[1]), self.mark[2]
        first = self.flight[0]
        if number == first.number:
            return position, start
        if number == first.number - 1:  # finished the one before (its results are in)
            return None, max(first.sent_at, start)
        if number > first.number:  # on a later batch: this one's results are on their way
            return len(first.items), start
        return None, first.sent_at

    def started(self) -> float:
        """When the call now running started (its time budget runs from there)."""
        return self._position()[1]

    def _blame(self, position: int | None, feed: _Feed) -> list[Item]:
        """The item at fault (the call the child was on); the others go back to ``feed``.

        A lone call is at fault whatever the child was doing (starting, sending); in a
        batch, only the call the child was on, never one it had not started or had
        finished. The rest of that batch runs again one item at a time; batches the child
        never started run again as they were.
        """
        first = self.flight.popleft()
        later = list(self.flight)
        self.flight.clear()
        if len(first.items) == 1:
            blamed, rest = first.items, []
        elif position is None or position >= len(first.items):
            blamed, rest = [], first.items
        else:
            blamed = first.items[position : position + 1]
            rest = first.items[:position] + first.items[position + 1 :]
        for batch in reversed(later):
            feed.retry(batch.items, alone=False)
        feed.retry(rest, alone=True)  # first: they came before the later batches
        return blamed

    def _never_began(self, feed: _Feed, why: str) -> None:
        """It ended before its first call: no item is at fault, all run again as they were."""
        self.start_failure = why
        for batch in reversed(self.flight):
            feed.retry(batch.items, alone=False)
        self.flight.clear()

    def _drain(self, done: list[tuple[int, IsolatedResult]], feed: _Feed, memory_mb: int) -> bool:
        """Take every batch answer already sent; False when the pipe broke (the child died)."""
        while self.flight:
            try:
                if not self.conn.poll():
                    return True
                message = self.conn.recv()
            except (EOFError, OSError, ValueError, pickle.UnpicklingError):
                return False
            outcomes, rss = message
            batch = self.flight.popleft()
            feed.sizer.learn([elapsed for _status, _payload, elapsed in outcomes])
            for (index, _args), (status, payload, elapsed) in zip(
                batch.items, outcomes, strict=False
            ):
                done.append((index, _result(status, payload, elapsed, memory_mb)))
            if outcomes and outcomes[-1][0] == "memory":
                # The child exits after a MemoryError: what it did not run goes back.
                self.alive = False
                feed.retry(batch.items[len(outcomes) :], alone=True)
                for later in reversed(self.flight):
                    feed.retry(later.items, alone=False)
                self.flight.clear()
                return True
            if rss and not self.first_rss:
                self.first_rss = rss
            if rss and rss - self.first_rss > _RECYCLE_GROWTH_MB * _MB:
                self.retiring = True
        return True

    def collect(
        self,
        done: list[tuple[int, IsolatedResult]],
        feed: _Feed,
        now: float,
        memory_mb: int,
        *,
        gone: bool,
    ) -> None:
        """Take the answers sent; if the child died, blame the call it was on."""
        intact = self._drain(done, feed, memory_mb)
        if intact and not gone:
            return
        self.alive = False
        if not self.flight:
            self.process.join(5)
            return  # it had sent everything (it exits after a MemoryError)
        self.process.join(5)  # its mark is final
        if not self.began():
            words = _last_words(_stderr_of(self.errpath))
            self._never_began(feed, words or f"mã thoát {self.process.exitcode}")
            return
        why = self._death(memory_mb)
        position, start = self._position()
        for index, _args in self._blame(position, feed):
            done.append((index, IsolatedResult(findings=[why], elapsed_s=now - start)))

    def overrun(
        self,
        done: list[tuple[int, IsolatedResult]],
        feed: _Feed,
        now: float,
        timeout: float,
        memory_mb: int,
    ) -> None:
        """Kill the child: the call it was on overran; its other items run again."""
        self.kill()
        self._drain(done, feed, memory_mb)  # answers sent just before the kill still count
        if not self.flight:
            return
        if not self.began():
            self._never_began(feed, f"chưa sẵn sàng sau {timeout:g} giây")
            return
        position, start = self._position()
        if now - start < timeout:
            position = None  # it moved on just before the kill: no call overran
        for index, _args in self._blame(position, feed):
            found = finding("parse_timeout", limit=timeout)
            done.append((index, IsolatedResult(findings=[found], elapsed_s=now - start)))

    def _death(self, memory_mb: int) -> Finding:
        self.process.join(5)
        self.alive = False
        code = self.process.exitcode
        tail = _stderr_of(self.errpath)
        first = next((line for line in tail.splitlines() if line.strip()), "no output")
        log.warning("reader process died (exit code %s): %s", code, first)
        log.debug("reader process stderr:\n%s", tail)
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"tín hiệu {-code}"
            fatal = {getattr(signal, n, None) for n in ("SIGABRT", "SIGKILL", "SIGSEGV")}
            if -code in fatal:
                why = f"trình đọc dừng đột ngột ({name}), thường do hết bộ nhớ (giới hạn {memory_mb} MB)"
            else:
                why = f"trình đọc dừng đột ngột ({name})"
        else:
            why = f"trình đọc dừng đột ngột (mã thoát {code})"
        return finding("parse_crashed", why=why)

    def kill(self) -> None:
        self.alive = False
        with contextlib.suppress(Exception):
            self.process.kill()
        self.process.join(5)

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.alive and self.process.is_alive():
            with contextlib.suppress(Exception):
                self.conn.send(None)
            self.process.join(1)
        if self.process.is_alive():
            self.kill()
        self.alive = False
        with contextlib.suppress(Exception):
            self.conn.close()
        with contextlib.suppress(Exception):
            self.process.close()  # frees its sentinel now, not at garbage collection
        with contextlib.suppress(OSError):
            os.unlink(self.errpath)


def _result(status: str, payload: Any, elapsed: float, memory_mb: int) -> IsolatedResult:
    if status == "ok":
        try:
            return IsolatedResult(value=pickle.loads(payload), elapsed_s=elapsed)
        except Exception as exc:  # the result could not be unpickled here
            status, payload = "error", f"{type(exc).__name__}: {exc}"
    why = f"hết bộ nhớ (giới hạn {memory_mb} MB)" if status == "memory" else str(payload)
    return IsolatedResult(findings=[finding("parse_crashed", why=why)], elapsed_s=elapsed)


_LOG_PREFIX = "thidua-worker-"
# A worker's log is removed when it stops; a run killed outright (a console closed
# mid-run) leaves its workers' behind. No run lasts a day: older ones are such leftovers.
_LOG_MAX_AGE_S = 24 * 3600
_LOGS_SWEPT = False


def _sweep_old_logs() -> None:
    """Remove the worker logs killed runs left in the temporary folder (once a process)."""
    global _LOGS_SWEPT
    if _LOGS_SWEPT:
        return
    _LOGS_SWEPT = True
    old = time.time() - _LOG_MAX_AGE_S
    with contextlib.suppress(OSError), os.scandir(tempfile.gettempdir()) as entries:
        for entry in entries:
            if entry.name.startswith(_LOG_PREFIX) and entry.name.endswith(".log"):
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < old:
                        os.unlink(entry.path)


def _stderr_of(path: str, size: int = 8000) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read(size).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _last_words(stderr: str) -> str:
    """A dead child's reason: the exception line of a Python traceback, else its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        head = line.partition(":")[0]  # "ImportError", "multiprocessing.….AuthenticationError"
        named = all(part.isidentifier() for part in head.split("."))
        if named and head.endswith(("Error", "Exception", "Exit")):
            return line[:300]
    return lines[-1][:300] if lines else ""


def _limit_memory(memory_mb: int) -> None:
    """Cap the child's address space at what it maps now plus ``memory_mb``; no core dumps."""
    try:
        import resource
    except ImportError:  # Windows: no rlimits
        return
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort must not write gigabytes
    base = 0
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/self/statm") as fh:
        base = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = base + memory_mb * _MB
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    with contextlib.suppress(ValueError, OSError):  # macOS refuses RLIMIT_AS
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _rss() -> int:
    """Resident memory in bytes (Linux); 0 where it cannot be read cheaply."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0


def _serve(conn: Any, mark: Any, memory_mb: int, errpath: str, preload: tuple = ()) -> None:
    """Child main loop: receive ``(number, func, [args, …])``, send the outcomes; ``None`` stops.

    Each outcome is ``(status, payload, seconds)``, the value pickled on its own so that one
    result that cannot travel fails alone. After a ``MemoryError`` the batch stops there and
    the child exits (a fresh worker is cheaper than a fragmented heap). ``preload``: modules
    imported before the first batch arrives (and before the memory budget is set, like the
    fork server's).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    with contextlib.suppress(OSError):
        # A dying native reader writes its last words to stderr; keep them for the log.
        err = os.open(errpath, os.O_WRONLY | os.O_APPEND)
        os.dup2(err, 2)
        os.close(err)
    for module in preload:
        with contextlib.suppress(Exception):  # the batch that needs it then says why
            importlib.import_module(module)
    _limit_memory(memory_mb)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if task is None:
            return
        number, func, batch = task
        outcomes: list[tuple[str, Any, float]] = []
        for position, args in enumerate(batch):
            start = time.monotonic()
            # start first: the parent reads the position, then the time
            mark[2], mark[1], mark[0] = start, position, number
            status, payload = _call(func, args)
            outcomes.append((status, payload, time.monotonic() - start))
            if status == "memory":
                break
        mark[2], mark[1], mark[0] = time.monotonic(), len(batch), number
        conn.send((outcomes, _rss()))
        if outcomes and outcomes[-1][0] == "memory":
            return


def _call(func: Callable[..., Any], args: tuple) -> tuple[str, Any]:
    """One call in the child: ``("ok", pickled value)``, ``("memory", None)`` or ``("error", why)``."""
    try:
        value = func(*args)
    except MemoryError:
        return "memory", None
    except BaseException as exc:  # whatever the reader raised is the result
        return "error", f"{type(exc).__name__}: {exc}"[:500]
    try:
        return "ok", pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        return "memory", None
    except Exception as exc:  # an unpicklable result
        return "error", f"kết quả không gửi được ({type(exc).__name__})"
