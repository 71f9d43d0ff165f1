"""Isolation: run a reader in a child process with a time and a memory budget.

Some files kill a reader in ways no ``except`` can catch (python-calamine aborts the process
when an allocation fails). :func:`run_isolated` runs one call in a child process;
:func:`map_isolated` runs many over a small pool of reusable workers. Both turn a timeout,
a death or an exception into findings (``parse_timeout``, ``parse_crashed``) instead of
raising, and never lose the batch: a dead worker is replaced and the other items go on.

Children come from the ``forkserver`` context where it exists (POSIX): cheap to start, no
inherited threads or locks, and the server preloads openpyxl and python-calamine once.
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

import contextlib
import logging
import multiprocessing
import os
import signal
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from logic.findings import Finding, finding
from workbooks.settings import get_settings

__all__ = ["IsolatedResult", "map_isolated", "run_isolated"]

log = logging.getLogger(__name__)

_MB = 1024 * 1024
# Modules the fork server imports once so that every child starts with them loaded.
_PRELOAD = ["__main__", "workbooks.precheck", "openpyxl", "python_calamine"]


@dataclass(frozen=True, slots=True)
class IsolatedResult:
    """What one isolated call gave: ``value`` when it returned, else ``findings`` saying why.

    ``findings`` holds ``parse_timeout`` or ``parse_crashed`` (without a path); ``elapsed_s``
    is wall time as seen by the parent.
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
    runs = _run(func, [args], 1, timeout_s, memory_mb, max_tasks=1)
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
    max_tasks_per_worker: int = 200,
) -> Iterator[tuple[int, IsolatedResult]]:
    """Call ``func(item)`` for every item on a pool of workers; yield ``(index, result)``.

    Results come as they complete, not in order. Each call has its own time budget; the
    memory budget holds for each worker. A worker that dies, overruns or fails a call is
    replaced; the other items are unaffected. Workers are recycled after
    ``max_tasks_per_worker`` calls so that memory a reader leaks does not pile up. ``items``
    is consumed lazily (only as many at a time as there are workers). Closing the iterator
    early stops the workers.
    """
    return _run(
        func,
        ((item,) for item in items),
        workers or os.cpu_count() or 1,
        timeout_s,
        memory_mb,
        max_tasks=max_tasks_per_worker,
    )


# --------------------------------------------------------------------------------------
# internals


def _context(func: Callable[..., Any]) -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # Takes effect when the server starts (first use in this process); preloading the
    # caller's module spares every child the import.
    module = getattr(func, "__module__", None) or getattr(
        getattr(func, "func", None), "__module__", None
    )
    extra = [module] if module and module not in _PRELOAD else []
    with contextlib.suppress(Exception):
        ctx.set_forkserver_preload(_PRELOAD + extra)
    return ctx


def _run(
    func: Callable[..., Any],
    arg_tuples: Iterable[tuple],
    workers: int,
    timeout_s: float | None,
    memory_mb: int | None,
    *,
    max_tasks: int,
) -> Iterator[tuple[int, IsolatedResult]]:
    settings = get_settings()
    timeout = float(timeout_s if timeout_s is not None else settings.parse_timeout_s)
    memory = int(memory_mb if memory_mb is not None else settings.parse_memory_mb)
    ctx = _context(func)
    pending = enumerate(arg_tuples)
    idle: list[_Worker] = []
    busy: dict[_Worker, tuple[int, float]] = {}
    exhausted = False
    try:
        while True:
            while not exhausted and len(busy) < workers:
                nxt = next(pending, None)
                if nxt is None:
                    exhausted = True
                    break
                worker = idle.pop() if idle else _Worker(ctx, memory)
                worker.submit(func, nxt[1])
                busy[worker] = (nxt[0], time.perf_counter())
            if not busy:
                return
            first_deadline = min(start for _i, start in busy.values()) + timeout
            waitables = [w.conn for w in busy] + [w.process.sentinel for w in busy]
            ready = set(wait(waitables, max(0.0, first_deadline - time.perf_counter())))
            done: list[tuple[int, IsolatedResult]] = []
            now = time.perf_counter()
            for worker in list(busy):
                index, start = busy[worker]
                if worker.conn in ready or worker.process.sentinel in ready:
                    result = worker.collect(now - start, memory)
                elif now - start >= timeout and not worker.conn.poll():
                    worker.kill()
                    result = IsolatedResult(
                        findings=[finding("parse_timeout", limit=timeout)], elapsed_s=now - start
                    )
                else:
                    continue
                del busy[worker]
                if worker.alive and worker.tasks < max_tasks:
                    idle.append(worker)
                else:
                    worker.stop()
                done.append((index, result))
            # Yield only after every ready worker is collected: time the consumer spends on
            # one result must not count against another worker's budget.
            yield from done
    finally:
        for worker in [*idle, *busy]:
            worker.stop()


class _Worker:
    """One child process serving calls over a pipe, one at a time."""

    def __init__(self, ctx: multiprocessing.context.BaseContext, memory_mb: int):
        self.conn, child = ctx.Pipe(duplex=True)
        fd, self.errpath = tempfile.mkstemp(prefix="thidua-worker-", suffix=".log")
        os.close(fd)
        self.process = ctx.Process(
            target=_serve, args=(child, memory_mb, self.errpath), daemon=True
        )
        self.process.start()
        child.close()
        self.tasks = 0
        self.alive = True
        self.stopped = False

    def submit(self, func: Callable[..., Any], args: tuple) -> None:
        self.tasks += 1
        try:
            self.conn.send((func, args))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            pass  # died before the call: collect() reports it
        except Exception as exc:  # an unpicklable function or argument: the caller's mistake
            self.stop()
            raise TypeError(
                f"isolated calls need picklable functions and arguments: {exc}"
            ) from exc

    def collect(self, elapsed: float, memory_mb: int) -> IsolatedResult:
        try:
            status, payload = self.conn.recv()
        except (EOFError, OSError, ValueError):
            return IsolatedResult(findings=[self._death(memory_mb)], elapsed_s=elapsed)
        except Exception as exc:  # the result could not be unpickled here
            status, payload = "error", f"{type(exc).__name__}: {exc}"
        if status == "ok":
            return IsolatedResult(value=payload, elapsed_s=elapsed)
        if status == "memory":
            self.alive = False  # the child exits after a MemoryError
            why = f"hết bộ nhớ (giới hạn {memory_mb} MB)"
        else:
            why = str(payload)
        return IsolatedResult(findings=[finding("parse_crashed", why=why)], elapsed_s=elapsed)

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


def _stderr_of(path: str, size: int = 8000) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read(size).decode("utf-8", "replace").strip()
    except OSError:
        return ""


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


def _serve(conn: Any, memory_mb: int, errpath: str) -> None:
    """Child main loop: receive ``(func, args)``, send ``(status, payload)``; ``None`` stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    with contextlib.suppress(OSError):
        # A dying native reader writes its last words to stderr; keep them for the log.
        err = os.open(errpath, os.O_WRONLY | os.O_APPEND)
        os.dup2(err, 2)
        os.close(err)
    _limit_memory(memory_mb)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if task is None:
            return
        func, args = task
        try:
            out: tuple[str, Any] = ("ok", func(*args))
        except MemoryError:
            out = ("memory", None)
        except BaseException as exc:  # whatever the reader raised is the result
            out = ("error", f"{type(exc).__name__}: {exc}"[:500])
        try:
            conn.send(out)
        except Exception as exc:  # an unpicklable result
            conn.send(("error", f"kết quả không gửi được ({type(exc).__name__})"))
        if out[0] == "memory":
            return  # a fresh worker is cheaper than a fragmented heap
