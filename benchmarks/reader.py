"""Benchmark (not collected by pytest): the cost of reading one report workbook, by stage.

What one worker of ``thidua consolidate`` spends per file, against the calamine floor
(open + read every sheet, nothing else), on corpus files already in memory:

    floor        python-calamine opens the file and reads every sheet
    open         python-calamine opens the file (shared strings, styles, workbook part)
    open+report  … and reads the report sheet only (what read_workbook needs of calamine)
    inflate-all  zipfile inflates every part (what a naive pre-check would cost)
    precheck     workbooks.precheck.precheck as read_workbook calls it
    read         workbooks.reader.read_workbook with the plan and the national roster

Each stage runs over every file ``--repeat`` times; the best pass counts, in CPU time of
this process (the machine is shared: wall time would count the neighbours' work too).
``--profile`` adds a cProfile of ``read_workbook`` (top functions by own time).

Run::

    uv run python benchmarks/reader.py [--corpus DIR] [--n 400] [--repeat 3] [--profile]
        [--tree DIR]

``--corpus``: a folder of ``.xlsx`` reports (default: the cached N = 10,051 corpus of
``benchmarks/national.py`` in ``$TMPDIR/thidua-national-bench``, else N = 700); ``--n``
files evenly spaced over it (both kinds: every second corpus file was saved by LibreOffice).
``--tree DIR`` imports ``workbooks``/``logic`` from another source tree (e.g. an older
commit exported with ``git archive REV workbooks logic | tar -x -C DIR``) to compare
before and after in the same session.
"""

from __future__ import annotations

import argparse
import cProfile
import glob
import io
import os
import pstats
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _default_corpus() -> Path:
    home = Path(tempfile.gettempdir()) / "thidua-national-bench"
    for n in ("10051", "700"):
        found = sorted(glob.glob(str(home / f"corpus-n{n}-*" / "files")))
        if found:
            return Path(found[-1])
    raise SystemExit(f"no corpus in {home}: run benchmarks/national.py --n 700 first")


def _best(label: str, fn: Callable[[str, bytes], object], datas, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for name, data in datas:
            fn(name, data)
        best = min(best, time.process_time() - t0)
    ms = best / len(datas) * 1000
    print(f"{label:14s} {ms:7.3f} ms/file")
    return ms


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--tree", type=Path, default=None)
    a = ap.parse_args(argv)

    sys.path.insert(0, str(a.tree.resolve() if a.tree else ROOT))
    sys.path.insert(1, str(ROOT / "benchmarks"))
    import _corpus
    from python_calamine import CalamineWorkbook

    from workbooks.precheck import precheck
    from workbooks.reader import read_workbook

    folder = a.corpus or _default_corpus()
    files = sorted(folder.glob("*.xlsx"))
    step = max(1, len(files) // a.n)
    if step % 2 == 0:
        step += 1  # an odd step takes both kinds of file alternately
    files = files[::step][: a.n]
    datas = [(p.name, p.read_bytes()) for p in files]
    plan = _corpus.national_plan()
    roster = _corpus.load_roster(_corpus.NATIONAL_ROSTER)
    print(f"{len(datas)} files of {folder}, source tree {a.tree or ROOT}, pid {os.getpid()}")

    def floor(_name: str, data: bytes) -> None:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        for sheet in book.sheet_names:
            book.get_sheet_by_name(sheet).to_python()

    def open_only(_name: str, data: bytes) -> None:
        CalamineWorkbook.from_filelike(io.BytesIO(data))

    def open_report(_name: str, data: bytes) -> None:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        book.get_sheet_by_index(0).to_python()

    def inflate_all(_name: str, data: bytes) -> None:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                zf.read(info)

    def read(name: str, data: bytes) -> None:
        read_workbook(data, name=name, plan=plan, roster=roster)

    try:  # the pre-check as read_workbook runs it: only the sheets it will read are measured
        from workbooks.reader import _sheets_read

        only = {"sheets": _sheets_read(plan)}
    except ImportError:  # an older tree
        only = {}

    read(*datas[0])  # warm caches (plan codes, roster index)
    results = {
        "floor": _best("floor", floor, datas, a.repeat),
        "open": _best("open", open_only, datas, a.repeat),
        "open+report": _best("open+report", open_report, datas, a.repeat),
        "inflate-all": _best("inflate-all", inflate_all, datas, a.repeat),
        "precheck": _best("precheck", lambda n, d: precheck(d, n, **only), datas, a.repeat),
        "read": _best("read", read, datas, a.repeat),
    }
    print(f"read / floor   {results['read'] / results['floor']:7.2f}")
    if a.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for name, data in datas:
            read(name, data)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
