"""Consolidation at national scale: ours against the pandas loop and the read-only floor.

Run (in the repository root)::

    uv run python benchmarks/national.py [--n 700 10051] [--workdir DIR] [--keep]

For each N it builds (or reuses) a corpus of N filled commune workbooks of phase 1, half of
them saved by LibreOffice (``benchmarks/_corpus.py``), then times, each in its own
subprocess with its peak memory (sum of the RSS of the process tree, polled):

- **floor**: python-calamine reading every cell of every sheet of every file, nothing else,
  on 2 processes and on 1;
- **ours**: ``thidua consolidate`` (pre-checks on) writing the tally and the JSON summary,
  with a fresh read cache (``first run``), then again after one file was replaced by a
  correction (``re-run``); and a first run with its workers spawned, as Windows (where the
  users are) starts them: no fork server (``THIDUA_START_METHOD=spawn``). Its inputs also
  hold five hostile files (``_corpus.write_hostile``)
  that every run must refuse with the pre-check's finding: the proof that the pre-checks
  stayed on. The issue's end to end is read, check, roll up, write the tally: the row
  "until the tally is written" (the JSON summary is written after it);
- **baseline**: what a user would write: ``pandas.read_excel(engine="openpyxl")`` per file
  (header row found by "Mã chỉ tiêu"), then a groupby to district and province written to
  an .xlsx. ``--baseline-sample K`` times K files and extrapolates (labelled so).

``--repeat K`` runs the floor and ours K times, interleaved round by round (each first run
with an empty read cache), and reports each contender's median run with the spread; the
baseline runs once in full, and in every round on a sample (``--round-sample``, 500 files,
extrapolated): the speed-up is judged on the median round, since the VM's speed drifts
over the minutes the full baseline takes.

It prints one table and the targets of the issue, and writes the figures to
``WORKDIR/national-results.json`` (and a copy named after the start time). See
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(ROOT), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import _corpus  # noqa: E402

DEFAULT_N = (700, 10051)
SPAWNED = "ours, first run, workers spawned (as on Windows)"
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "thidua-national-bench"
TARGET_SPEEDUP = 20.0
TARGET_FLOOR_RATIO = 1.5
TARGET_RERUN_SHARE = 0.05
TARGET_PEAK_MB = 500.0
_MB = 1024 * 1024


# --- measuring a subprocess ---------------------------------------------------------------


@dataclass
class Measurement:
    """One contender's run: wall time, memory of its process tree and what it reported."""

    contender: str
    n: int
    wall_s: float
    peak_rss_mb: float  # sum of RSS over the process tree, at its polled maximum
    peak_pss_mb: float  # same with PSS (shared pages split between processes)
    max_procs: int
    report: dict = field(default_factory=dict)
    extrapolated: bool = False
    note: str = ""
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after
    # ours only: tree peak until the tally was written (without the JSON summary)
    peak_before_json_mb: float | None = None
    # seconds the tree kept ≥ 1.5, 0.5–1.5 and < 0.5 cores busy (CPU polled with memory)
    cores_s: tuple[float, float, float] = (0.0, 0.0, 0.0)
    # with --repeat: every run's wall time; this measurement is the median run
    walls: list[float] = field(default_factory=list)
    # CPU seconds the hypervisor gave to other guests while this ran (all vCPUs; Linux):
    # the share of the machine this run did not get, whatever it asked for
    stolen_s: float = 0.0
    # CPU seconds this benchmark spent polling the run's memory and CPU while it ran
    poller_cpu_s: float = 0.0

    @property
    def files_per_s(self) -> float:
        return self.n / self.wall_s if self.wall_s else 0.0


def measure(
    contender: str, n: int, args: list[str], log_path: Path, poll_s: float = 0.1
) -> Measurement:
    """Run ``national.py child <args>`` and poll its process tree until it exits.

    Polling costs CPU on the machine being measured: a PSS poll of our tree (``smaps`` of
    three large processes) takes ~11 ms of CPU, an RSS poll ~2 ms. Every 0.1 s, PSS every
    tenth poll, a national run of ours costs the poller 0.8–1.1 CPU s (about 5 % of one
    vCPU), reported with each run (``poller_cpu_s``). Every 0.05 s with PSS every fourth
    poll it cost about three times as much, taken from ours, whose work needs both vCPUs,
    and not from the one-process baseline.
    """
    import psutil

    cmd = [sys.executable, str(Path(__file__).resolve()), "child", *args]
    load_before = _load()
    stolen_before = _stolen()
    poller_before = time.process_time()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "ab") as err:
        t0 = time.perf_counter()
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, cwd=ROOT) as proc:
            root = psutil.Process(proc.pid)
            peak_rss = peak_pss = 0
            max_procs = 0
            timeline: list[tuple[float, int]] = []
            cores = [0.0, 0.0, 0.0]
            cpu_before: dict[int, float] = {}
            t_before = time.perf_counter()
            tick = 0
            while True:
                try:
                    proc.wait(timeout=poll_s)
                    break
                except subprocess.TimeoutExpired:
                    pass
                rss, pss, count, cpu = _tree_memory(root, with_pss=tick % 10 == 0)
                timeline.append((time.time(), rss))
                now = time.perf_counter()
                # a process started since the last poll counts from zero: close enough
                busy = sum(c - cpu_before.get(pid, 0.0) for pid, c in cpu.items())
                busy /= max(now - t_before, 1e-6)
                cores[0 if busy >= 1.5 else 1 if busy >= 0.5 else 2] += now - t_before
                cpu_before, t_before = cpu, now
                peak_rss = max(peak_rss, rss)
                peak_pss = max(peak_pss, pss)
                max_procs = max(max_procs, count)
                tick += 1
            wall = time.perf_counter() - t0
            out = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{contender} failed (exit {proc.returncode}); see {log_path}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    report = json.loads(lines[-1]) if lines else {}
    # a run too short to be polled still has its own high-water mark (only then: on Linux
    # ru_maxrss also counts the parent's RSS at fork, which has nothing to do with the run)
    if not peak_rss:
        peak_rss = int(report.get("maxrss_mb", 0) * _MB)
    m = Measurement(contender, n, wall, peak_rss / _MB, peak_pss / _MB, max_procs, report,
                    load=(load_before, _load()), cores_s=(cores[0], cores[1], cores[2]),
                    stolen_s=_stolen() - stolen_before,
                    poller_cpu_s=time.process_time() - poller_before)  # fmt: skip
    if "tally_end" in report:
        before = [rss for t, rss in timeline if t <= report["tally_end"]]
        m.peak_before_json_mb = max(before, default=0) / _MB
    return m


def _stolen() -> float:
    """CPU seconds stolen by the hypervisor so far, over all vCPUs (0 where not reported)."""
    import psutil

    return getattr(psutil.cpu_times(), "steal", 0.0)


def _load() -> float:
    """The 1-minute load average: other work on the machine skews every figure."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def _tree_memory(root, *, with_pss: bool) -> tuple[int, int, int, dict[int, float]]:
    """RSS and PSS summed over the process tree, its size, and each process's CPU seconds."""
    import psutil

    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0, 0, {}
    rss = pss = 0
    cpu: dict[int, float] = {}
    for p in procs:
        with contextlib.suppress(psutil.Error):
            if with_pss:
                info = p.memory_full_info()
                rss += info.rss
                pss += getattr(info, "pss", info.rss)
            else:
                rss += p.memory_info().rss
            times = p.cpu_times()
            cpu[p.pid] = times.user + times.system
    return rss, pss, len(procs), cpu


# --- the children: one per contender ------------------------------------------------------


def _maxrss_mb(*, own: bool = False) -> float:
    """High-water RSS of this process, or of it and its waited-for children (the largest)."""
    try:
        import resource
    except ImportError:
        return 0.0
    mine = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = 0 if own else resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return max(mine, kids) * scale / _MB


def child_ours(a: argparse.Namespace) -> dict:
    """``thidua consolidate DIR --roster R --out … --json …``: the command itself, in-process.

    The CLI's own clock (``$THIDUA_TIMINGS``) gives the steps; the console summary it prints
    goes to the log, not to the pipe the benchmark reads its JSON from."""
    t0 = time.perf_counter()
    if a.spawn:
        os.environ["THIDUA_START_METHOD"] = "spawn"
    from workbooks.cli import main as thidua

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    timings = out / "timings.json"
    os.environ["THIDUA_TIMINGS"] = str(timings)
    if a.cache_dir:
        os.environ["THIDUA_CACHE_DIR"] = a.cache_dir
    inputs = [a.inputs, a.hostile] if a.hostile else [a.inputs]
    argv = ["consolidate", *inputs, "--roster", a.roster, "--workers", str(a.workers),
            "--out", str(out / "tong-hop.xlsx"), "--json", str(out / "tong-hop.json")]  # fmt: skip
    if a.no_cache:
        argv.append("--no-cache")
    t1 = time.perf_counter()
    profiler = None
    if a.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    with contextlib.redirect_stdout(sys.stderr):
        code = thidua(argv)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(a.profile)
    if code not in (0, 1):
        raise SystemExit(f"thidua consolidate exited with {code}")
    steps = json.loads(timings.read_text(encoding="utf-8"))
    return {  # the summary's contents are counted by the parent, outside the measured tree
        "setup_s": t1 - t0,
        "plan_s": steps["plan"],
        "consolidate_s": steps["consolidate"],
        "tally_s": steps["tally"],
        "json_s": steps["json"],
        "console_s": steps.get("summary", 0.0),
        "tally_end": time.time() - steps["json"] - steps.get("summary", 0.0),
        "exit": code,
        "json_path": str(out / "tong-hop.json"),
        "tally_bytes": (out / "tong-hop.xlsx").stat().st_size,
        "json_bytes": (out / "tong-hop.json").stat().st_size,
        "maxrss_mb": _maxrss_mb(),
    }


def child_counts(a: argparse.Namespace) -> dict:
    """What a run's JSON summary (``--inputs``) holds: inputs by status, findings, results."""
    summary = json.loads(Path(a.inputs).read_bytes())
    statuses = {"accepted": 0, "rejected": 0, "superseded": 0, "ignored": 0}
    for record in summary["inputs"]:
        statuses[record["status"]] = statuses.get(record["status"], 0) + 1
    out = {
        **statuses,
        "findings": len(summary["findings"]),
        "finding_codes": sorted({f["code"] for f in summary["findings"]}),
        "results": len(summary["results"]),
    }
    if a.hostile:  # each hostile input: its status and the codes of its findings
        names = {p.name for p in Path(a.hostile).iterdir()}
        out["hostile"] = {
            name: {
                "status": next((r["status"] for r in summary["inputs"]
                                if Path(r["path"]).name == name), None),
                "codes": sorted({f["code"] for f in summary["findings"]
                                 if f["path"] and Path(f["path"]).name == name}),
            }
            for name in sorted(names)
        }  # fmt: skip
    return out


def child_baseline(a: argparse.Namespace) -> dict:
    """A loop of ``pandas.read_excel`` per file, then a groupby to district and province."""
    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd

    paths = Path(a.list).read_text(encoding="utf-8").splitlines()
    roster = pd.read_csv(a.roster, dtype=str, keep_default_na=False)
    t1 = time.perf_counter()
    frames = []
    for path in paths:
        raw = pd.read_excel(path, sheet_name=0, header=None, engine="openpyxl")
        grid = raw.to_numpy(dtype=object)
        header_row = int(np.argwhere(grid == "Mã chỉ tiêu")[0][0])
        label = np.argwhere(grid == "Mã đơn vị:")[0]
        unit = next(v for v in grid[label[0], label[1] + 1 :] if isinstance(v, str) and v)
        table = raw.iloc[header_row + 1 :]
        table.columns = list(grid[header_row])
        table = table[table["Mã chỉ tiêu"].notna()]
        part = pd.DataFrame(
            {
                "unit": unit,
                "indicator": table["Mã chỉ tiêu"].astype(str),
                "v1": table["Kỳ này / Số thực hiện"].replace({"Có": 1, "Không": 0}),
                "v2": table["Tổng số / Cùng kỳ năm trước"],
            }
        )
        frames.append(part)
    t2 = time.perf_counter()
    data = pd.concat(frames, ignore_index=True)
    data["v1"] = pd.to_numeric(data["v1"], errors="coerce")
    data["v2"] = pd.to_numeric(data["v2"], errors="coerce")
    communes = roster[roster["level"] == "commune"][["code", "parent_code"]]
    communes = communes.assign(unit=communes["code"].str.zfill(5)).rename(
        columns={"parent_code": "district"}
    )
    districts = roster[roster["level"] == "district"][["code", "parent_code"]].rename(
        columns={"code": "district", "parent_code": "province"}
    )
    data = data.merge(communes[["unit", "district"]], on="unit", how="left").merge(
        districts, on="district", how="left"
    )
    by_district = data.groupby(["province", "district", "indicator"])[["v1", "v2"]].sum()
    by_province = data.groupby(["province", "indicator"])[["v1", "v2"]].sum()
    t3 = time.perf_counter()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(out / "baseline.xlsx", engine="openpyxl") as xw:
        by_district.to_excel(xw, sheet_name="Huyện")
        by_province.to_excel(xw, sheet_name="Tỉnh")
    t4 = time.perf_counter()
    return {
        "setup_s": t1 - t0,
        "read_s": t2 - t1,
        "groupby_s": t3 - t2,
        "write_s": t4 - t3,
        "files": len(paths),
        "rows": len(data),
        "unplaced": int(data["district"].isna().sum()),
        "districts": len(by_district.index.get_level_values("district").unique()),
        "maxrss_mb": _maxrss_mb(),
    }


def _calamine_cells(paths: list[str]) -> int:
    from python_calamine import CalamineWorkbook

    cells = 0
    for path in paths:
        book = CalamineWorkbook.from_path(path)
        for name in book.sheet_names:
            cells += sum(len(row) for row in book.get_sheet_by_name(name).to_python())
        with contextlib.suppress(AttributeError):
            book.close()
    return cells


def child_floor(a: argparse.Namespace) -> dict:
    """Only read every cell of every sheet of every file (python-calamine)."""
    t0 = time.perf_counter()
    import python_calamine  # noqa: F401

    paths = Path(a.list).read_text(encoding="utf-8").splitlines()
    t1 = time.perf_counter()
    if a.procs <= 1:
        cells = _calamine_cells(paths)
    else:
        import multiprocessing

        chunks = [paths[i : i + 64] for i in range(0, len(paths), 64)]
        with multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn").Pool(
            a.procs
        ) as pool:
            cells = sum(pool.imap_unordered(_calamine_cells, chunks))
    t2 = time.perf_counter()
    return {"setup_s": t1 - t0, "read_s": t2 - t1, "cells": cells, "maxrss_mb": _maxrss_mb()}


def child_profile_read(a: argparse.Namespace) -> dict:
    """Worker side of ours, in one process under cProfile: pre-check + read of each file."""
    import cProfile
    import pstats

    from workbooks.reader import read_workbook

    plan = _corpus.national_plan()
    roster = _corpus.load_roster(a.roster)
    paths = Path(a.list).read_text(encoding="utf-8").splitlines()
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    for path in paths:
        data = Path(path).read_bytes()
        read_workbook(data, name=Path(path).name, plan=plan, roster=roster)
    profiler.disable()
    elapsed = time.perf_counter() - t0
    profiler.dump_stats(a.out)
    stats = pstats.Stats(a.out)
    return {"files": len(paths), "read_s": elapsed, "ms_per_file": elapsed / len(paths) * 1000,
            "top": _top(stats, "tottime", 15)}  # fmt: skip


def _top(stats, key: str, count: int) -> list[str]:
    """The ``count`` heaviest functions of a profile as short lines."""
    stats.sort_stats(key)
    rows = []
    for func in stats.fcn_list[:count]:  # type: ignore[attr-defined]
        _cc, ncalls, tottime, cumtime, _callers = stats.stats[func]  # type: ignore[attr-defined]
        filename, line, name = func
        where = f"{Path(filename).parent.name}/{Path(filename).name}:{line}" if line else ""
        rows.append(f"{cumtime:8.2f} cum {tottime:8.2f} own {ncalls:>9} × {name} {where}")
    return rows


def _child(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="national.py child")
    p.add_argument("mode", choices=["ours", "baseline", "floor", "profile-read", "counts"])
    p.add_argument("--inputs")
    p.add_argument("--list")
    p.add_argument("--roster")
    p.add_argument("--out")
    p.add_argument("--cache-dir")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--profile")
    p.add_argument("--hostile")
    p.add_argument("--spawn", action="store_true", help="ours: workers spawned, as on Windows")
    a = p.parse_args(argv)
    run = {"ours": child_ours, "baseline": child_baseline, "floor": child_floor,
           "profile-read": child_profile_read, "counts": child_counts}[a.mode]  # fmt: skip
    print(json.dumps(run(a), ensure_ascii=False, default=str), flush=True)
    if a.mode == "ours":  # and end as the command does (workbooks.cli.run)
        from workbooks.cli import exit_now

        exit_now(0)
    return 0


# --- one N --------------------------------------------------------------------------------


def run_n(n: int, a: argparse.Namespace, log) -> tuple[list[Measurement], dict]:
    """Build or reuse the corpus for ``n`` and measure every contender on it."""
    workdir = Path(a.workdir)
    corpus = _corpus.build_corpus(
        workdir, n, roster_path=a.roster, libreoffice=not a.no_libreoffice, workers=a.workers,
        reuse_stale=a.reuse_corpus, log=log,
    )  # fmt: skip
    run_dir = workdir / f"run-n{n}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    errlog = run_dir / "stderr.log"
    listing = run_dir / "files.txt"
    paths = [str(p) for p in corpus.paths]
    listing.write_text("\n".join(paths), encoding="utf-8")
    info = {
        "n": n,
        "corpus": str(corpus.folder),
        "corpus_key": corpus.key,
        "corpus_mb": corpus.bytes / _MB,
        "libreoffice_files": sum(f.libreoffice for f in corpus.files),
        "libreoffice_failed": corpus.libreoffice_failed,
        "generated_s": corpus.generated_s,
        "libreoffice_s": corpus.libreoffice_s,
    }
    log(f"N={n}: {info['corpus_mb']:.0f} MB, {info['libreoffice_files']} saved by LibreOffice")
    for p in corpus.paths:  # every contender reads from a warm page cache
        p.read_bytes()
    # ours reads these too, in every run; the floor and the baseline do not
    hostile = run_dir / "hostile"
    expected = _corpus.write_hostile(corpus, hostile)
    info["prechecks"] = []
    rows: list[Measurement] = []

    def go(contender: str, args: list[str], files: int = n) -> Measurement:
        log(f"N={n}: {contender} …")
        m = measure(contender, files, args, errlog)
        if "json_path" in m.report:  # parsed in a subprocess: this one stays small
            counts = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "child", "counts",
                 "--inputs", m.report["json_path"], "--hostile", str(hostile)],
                check=True, capture_output=True, cwd=ROOT,
            )  # fmt: skip
            m.report.update(json.loads(counts.stdout.decode().splitlines()[-1]))
            info["prechecks"].append({"contender": contender, **refused(m.report, expected)})
        log(f"N={n}: {contender}: {m.wall_s:.1f} s, peak {m.peak_rss_mb:.0f} MB")
        return m

    roster = str(covered_roster(corpus, run_dir))
    info["roster"] = roster
    ours_args = ["ours", "--inputs", str(corpus.folder), "--hostile", str(hostile),
                 "--roster", roster, "--workers", str(a.workers)]  # fmt: skip
    changed = len(corpus.files) // 2
    original = corpus.paths[changed].read_bytes()
    rounds: dict[str, list[Measurement]] = {}

    def baseline_on(k: int, label: str) -> Measurement:
        """The baseline on ``k`` files spread over the corpus, extrapolated to N."""
        sample = [paths[int(i * n / k)] for i in range(k)]
        sample_list = run_dir / f"baseline-sample-{k}.txt"
        sample_list.write_text("\n".join(sample), encoding="utf-8")
        m = go(label, ["baseline", "--list", str(sample_list), "--roster", roster,
                       "--out", str(run_dir / "baseline")], files=k)  # fmt: skip
        return extrapolated(m, n)

    # With rounds, each one also times the baseline on a sample: the VM's speed drifts by
    # a fifth over the minutes the full baseline takes, and the ratio is judged per round.
    sampled = min(a.round_sample, n) if a.repeat > 1 else 0
    info["rounds"] = []
    for k in range(a.repeat):  # interleaved: a slow minute of the VM hits every contender
        cache = run_dir / f"cache-{k}"  # each first run starts from an empty read cache
        runs = [
            ("floor (calamine, 2 processes)",
             ["floor", "--list", str(listing), "--procs", str(a.workers)]),
            ("floor (calamine, 1 process)", ["floor", "--list", str(listing), "--procs", "1"]),
            ("ours, first run",
             [*ours_args, "--out", str(run_dir / "first"), "--cache-dir", str(cache)]),
            (SPAWNED, [*ours_args, "--spawn", "--out", str(run_dir / "spawned"),
                       "--cache-dir", str(run_dir / f"cache-spawned-{k}")]),
        ]  # fmt: skip
        for contender, args in runs:
            rounds.setdefault(contender, []).append(go(contender, args))
        if sampled:
            base = baseline_on(sampled, "baseline, sample of the round")
            first_k = rounds["ours, first run"][-1]
            info["rounds"].append({"ours_to_tally_s": until_tally(first_k),
                                   "ours_s": first_k.wall_s, "baseline_s": base.wall_s,
                                   "baseline_files": sampled,
                                   "ours_stolen": _stolen_words(first_k),
                                   "baseline_stolen": _stolen_words(base)})  # fmt: skip
        try:
            _corpus.write_correction(corpus, changed)
            rerun = go("ours, re-run (1 file changed)", [*ours_args, "--out",
                       str(run_dir / "rerun"), "--cache-dir", str(cache)])  # fmt: skip
        finally:
            corpus.paths[changed].write_bytes(original)  # the corpus is cached: leave it as built
        rerun.note = f"changed: {corpus.files[changed].name}"
        rounds.setdefault(rerun.contender, []).append(rerun)
    for runs_of in rounds.values():
        rows.append(median_run(runs_of))
    first = _find(rows, "ours, first run")
    if a.baseline_sample and a.baseline_sample < n:
        m = baseline_on(a.baseline_sample, "baseline (pandas + openpyxl)")
    else:
        m = go("baseline (pandas + openpyxl)", ["baseline", "--list", str(listing), "--roster",
                                               roster, "--out", str(run_dir / "baseline")])  # fmt: skip
    rows.append(m)
    if a.profile:
        info["profile"] = profile(corpus, run_dir, roster, a, log)
    if not a.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    info["first_results"] = first.report.get("results")
    return rows, info


def extrapolated(m: Measurement, n: int) -> Measurement:
    """A baseline timed on a sample, its reading, groupby and writing scaled to ``n`` files
    (its start-up not). A little fast: the full loop slows as its frames accumulate."""
    r = m.report
    fixed = m.wall_s - r["read_s"] - r["groupby_s"] - r["write_s"]
    files = m.n
    m.wall_s = fixed + (r["read_s"] + r["groupby_s"] + r["write_s"]) * n / files
    m.n = n
    m.extrapolated = True
    m.note = f"extrapolated from {files} files; peak memory measured on those"
    return m


def until_tally(m: Measurement) -> float:
    """A run of ours without the JSON summary and the console summary written after the tally."""
    return m.wall_s - m.report.get("json_s", 0.0) - m.report.get("console_s", 0.0)


def refused(report: dict, expected: dict[str, str]) -> dict:
    """Whether a run of ours refused every hostile input with the pre-check's finding, and
    no reader crashed or overran (which a reader given an unchecked file would)."""
    seen = report.get("hostile", {})
    done = sorted(name for name, code in expected.items()
                  if seen.get(name, {}).get("status") == "rejected"
                  and code in seen[name]["codes"])  # fmt: skip
    crashed = sorted({"parse_crashed", "parse_timeout"} & set(report.get("finding_codes", [])))
    return {"ok": len(done) == len(expected) and not crashed, "refused": done,
            "expected": expected, "crashed": crashed}  # fmt: skip


def median_run(runs: list[Measurement]) -> Measurement:
    """The run of median wall time (the lower one of an even count), with every run's time."""
    m = sorted(runs, key=lambda r: r.wall_s)[(len(runs) - 1) // 2]
    m.walls = [r.wall_s for r in runs]
    if len(runs) > 1:
        spread = f"median of {len(runs)} runs ({min(m.walls):.1f}–{max(m.walls):.1f} s)"
        m.note = f"{m.note}; {spread}" if m.note else spread
    return m


def covered_roster(corpus, run_dir: Path) -> Path:
    """The roster a user at that scale would have: the provinces the corpus's files come from.

    N = 10,051 covers the whole country (the shared file itself); N = 700 covers Thanh Hóa
    and part of Hà Nội, whose units (all of them, reported or not) are written to
    ``run_dir`` in the shared format."""
    import csv

    with open(corpus.roster_path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    keep = {int(p) for _, _, p in _corpus.pick_communes(corpus.roster_path, corpus.n)}
    if keep >= {int(r["code"]) for r in rows if r["level"] == "province"}:
        return corpus.roster_path
    district_province = {r["code"]: r["parent_code"] for r in rows if r["level"] == "district"}

    def province_of(r: dict) -> int:
        if r["level"] == "province":
            return int(r["code"])
        if r["level"] == "district":
            return int(r["parent_code"])
        return int(district_province.get(r["parent_code"], r["parent_code"]))

    out = run_dir / f"roster-n{corpus.n}.csv"
    with open(out, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["code", "name", "level", "parent_code"])
        w.writeheader()
        w.writerows(r for r in rows if province_of(r) in keep)
    return out


def profile(corpus, run_dir: Path, roster: str, a: argparse.Namespace, log) -> dict:
    """cProfile of ours: the parent process of a full run, and the worker side in-process."""
    import pstats

    log(f"N={corpus.n}: profiling ours (parent process, no cache) …")
    prof = Path(a.workdir) / f"profile-ours-n{corpus.n}.prof"
    measure("profile", corpus.n, ["ours", "--inputs", str(corpus.folder), "--roster",
            roster, "--workers", str(a.workers), "--no-cache",
            "--out", str(run_dir / "profiled"), "--profile", str(prof)],
            run_dir / "stderr.log")  # fmt: skip
    parent = _top(pstats.Stats(str(prof)), "cumulative", 30)
    sample = corpus.paths[:: max(1, corpus.n // 300)]
    listing = run_dir / "profile-sample.txt"
    listing.write_text("\n".join(map(str, sample)), encoding="utf-8")
    log(f"N={corpus.n}: profiling the reader on {len(sample)} files …")
    worker_prof = Path(a.workdir) / f"profile-read-n{corpus.n}.prof"
    m = measure("profile-read", len(sample), ["profile-read", "--list", str(listing), "--roster",
                roster, "--out", str(worker_prof)], run_dir / "stderr.log")  # fmt: skip
    return {"parent_prof": str(prof), "parent_top": parent, "reader_prof": str(worker_prof),
            "reader_ms_per_file": m.report["ms_per_file"], "reader_top": m.report["top"]}  # fmt: skip


# --- reporting ----------------------------------------------------------------------------


def derived_rows(rows: list[Measurement]) -> list[Measurement]:
    """Add the parts of the first run the issue's targets name: "until the tally is
    written" (its end to end: read, check, roll up, write the tally; not the JSON summary
    and the console summary written after it) and "read, check, roll up" (not the tally)."""
    first = _find(rows, "ours, first run")
    if first is None:
        return rows
    r = first.report
    tally = until_tally(first)
    parts = [
        ("ours: until the tally is written", tally,
         "first run without writing the JSON summary and the console summary"),
        ("ours: read+check+roll-up", tally - r.get("tally_s", 0.0),
         "first run without writing the tally, the JSON summary and the console summary"),
    ]  # fmt: skip
    out = list(rows)
    at = out.index(first) + 1
    for contender, wall, note in reversed(parts):
        out.insert(at, Measurement(contender, first.n, wall, first.peak_rss_mb,
                                   first.peak_pss_mb, first.max_procs, {}, note=note,
                                   load=first.load))  # fmt: skip
    return out


def _find(rows: list[Measurement], contender: str) -> Measurement | None:
    return next((m for m in rows if m.contender == contender), None)


def table(rows: list[Measurement]) -> str:
    baseline = _find(rows, "baseline (pandas + openpyxl)")
    floor = _find(rows, "floor (calamine, 2 processes)")
    head = (f"{'contender':34} {'N':>6} {'wall s':>8} {'files/s':>8} {'peak MB':>8} "
            f"{'PSS MB':>7} {'×baseline':>10} {'×floor':>7}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for m in rows:
        speed = f"{baseline.wall_s / m.wall_s:.1f}×" if baseline and m.wall_s else "-"
        to_floor = f"{m.wall_s / floor.wall_s:.2f}" if floor and floor.wall_s else "-"
        star = "*" if m.extrapolated else " "
        lines.append(
            f"{m.contender:34} {m.n:>6} {m.wall_s:>7.1f}{star} {m.files_per_s:>8.0f} "
            f"{m.peak_rss_mb:>8.0f} {m.peak_pss_mb:>7.0f} {speed:>10} {to_floor:>7}"
        )
    notes = [f"  {m.contender}: {m.note}" for m in rows if m.note]
    return "\n".join(lines + notes)


def breakdown(rows: list[Measurement]) -> str:
    out = []
    for m in rows:
        r = m.report
        if "consolidate_s" in r:
            out.append(f"  {m.contender}: tree peak {m.peak_before_json_mb or 0:.0f} MB until the "
                       f"tally was written, {m.peak_rss_mb:.0f} MB with the JSON summary; "
                       f"imports {r['setup_s']:.1f} s, plan+roster {r['plan_s']:.1f} s, "
                       f"read+check+roll-up {r['consolidate_s']:.1f} s, tally {r['tally_s']:.1f} s "
                       f"({r['tally_bytes'] / _MB:.1f} MB), JSON summary {r['json_s']:.1f} s "
                       f"({r['json_bytes'] / _MB:.1f} MB), console {r['console_s']:.1f} s; "
                       f"accepted {r['accepted']}, rejected {r['rejected']}, findings "
                       f"{r['findings']} {r['finding_codes']}, results {r['results']}")  # fmt: skip
        elif "groupby_s" in r:
            out.append(f"  {m.contender}: read {r['read_s']:.1f} s for {r['files']} files, "
                       f"groupby {r['groupby_s']:.2f} s, write {r['write_s']:.2f} s, "
                       f"rows {r['rows']}, unplaced {r['unplaced']}")  # fmt: skip
        elif "cells" in r:
            out.append(f"  {m.contender}: read {r['read_s']:.1f} s, {r['cells']:,} cells")
        if any(m.cores_s):
            two, one, idle = m.cores_s
            out.append(f"    cores busy: ≥ 1.5 for {two:.1f} s, 0.5–1.5 for {one:.1f} s, "
                       f"< 0.5 for {idle:.1f} s; {_stolen_words(m)}")  # fmt: skip
    return "\n".join(out)


def _stolen_words(m: Measurement) -> str:
    cpus = os.cpu_count() or 1
    share = m.stolen_s / (m.wall_s * cpus) if m.wall_s else 0.0
    return (f"stolen by the hypervisor: {m.stolen_s:.1f} CPU s ({share:.0%} of {cpus} vCPUs); "
            f"polling it: {m.poller_cpu_s:.1f} CPU s")  # fmt: skip


def targets(
    all_rows: dict[int, list[Measurement]], prechecks: list[dict], rounds: list[dict]
) -> list[tuple[str, bool | None, str]]:
    """The issue's targets: (what, met, figures); judged on the largest N measured, the
    pre-checks on every run of ours (``prechecks``: :func:`refused` of each).

    With ``rounds`` (the largest N's, each with the baseline timed on a sample in the same
    round) the speed-up is judged on their median ratio: the full baseline runs once, for
    minutes in which the VM's speed drifts."""
    n = max(all_rows)
    rows = all_rows[n]
    first = _find(rows, "ours, first run")
    to_tally = _find(rows, "ours: until the tally is written")
    rcr = _find(rows, "ours: read+check+roll-up")
    rerun = _find(rows, "ours, re-run (1 file changed)")
    baseline = _find(rows, "baseline (pandas + openpyxl)")
    floor = _find(rows, "floor (calamine, 2 processes)")
    out: list[tuple[str, bool | None, str]] = []
    if first and to_tally and baseline:
        speed = baseline.wall_s / to_tally.wall_s
        label = " (baseline extrapolated)" if baseline.extrapolated else ""
        figures = (f"{speed:.1f}×{label} against the baseline run once ({to_tally.wall_s:.1f} s "
                   f"vs {baseline.wall_s:.1f} s); the whole command, with the JSON summary: "
                   f"{baseline.wall_s / first.wall_s:.1f}×")  # fmt: skip
        if rounds:
            ratios = sorted(r["baseline_s"] / r["ours_to_tally_s"] for r in rounds)
            speed = ratios[(len(ratios) - 1) // 2]
            figures = (f"{speed:.1f}×, the median round (ours against the baseline timed on "
                       f"{rounds[0]['baseline_files']} files in the same round, extrapolated: "
                       f"{', '.join(f'{x:.1f}×' for x in ratios)}); {figures}")  # fmt: skip
        out.append((f"end to end (read, check, roll up, write the tally) ≥ {TARGET_SPEEDUP:.0f}× "
                    f"faster than pandas at N={n}", speed >= TARGET_SPEEDUP, figures))  # fmt: skip
        if rounds and not baseline.extrapolated:  # what the judging by rounds rests on
            shares = ", ".join(f"{r['baseline_s'] / baseline.wall_s:.0%}" for r in rounds)
            out.append(("the rounds' sampled baselines against the full one (minutes apart)",
                        None, f"{shares} of {baseline.wall_s:.1f} s"))  # fmt: skip
    if rcr and floor:
        ratio = rcr.wall_s / floor.wall_s
        out.append((f"read+check+roll-up ≤ {TARGET_FLOOR_RATIO}× the read-only floor",
                    ratio <= TARGET_FLOOR_RATIO, f"{ratio:.2f}× ({rcr.wall_s:.1f} s vs "
                    f"{floor.wall_s:.1f} s)"))  # fmt: skip
    for size, rs in sorted(all_rows.items()):
        f1, r1 = _find(rs, "ours, first run"), _find(rs, "ours, re-run (1 file changed)")
        if f1 and r1:
            share = r1.wall_s / f1.wall_s
            out.append((f"re-run after 1 changed file < {TARGET_RERUN_SHARE:.0%} of the first "
                        f"(N={size})", share < TARGET_RERUN_SHARE,
                        f"{share:.1%} ({r1.wall_s:.1f} s vs {f1.wall_s:.1f} s)"))  # fmt: skip
    if prechecks:
        bad = [p for p in prechecks if not p["ok"]]
        codes = sorted(set(prechecks[0]["expected"].values()))
        files = len(prechecks[0]["expected"])
        out.append(("hostile-input pre-checks on in every measured run", not bad,
                    f"{files} hostile inputs in each of {len(prechecks)} runs of ours; in "
                    f"{len(prechecks) - len(bad)} of them all were refused by the pre-check's "
                    f"finding ({', '.join(codes)}) and no reader crashed"))  # fmt: skip
    if first:
        peak = max(m.peak_rss_mb for m in (first, rerun, _find(rows, SPAWNED)) if m)
        before = first.peak_before_json_mb or 0.0
        out.append((f"peak memory < {TARGET_PEAK_MB:.0f} MB at N={n}", peak < TARGET_PEAK_MB,
                    f"{peak:.0f} MB RSS (tree sum), PSS {first.peak_pss_mb:.0f} MB; "
                    f"{before:.0f} MB until the tally was written (before the JSON summary)"))  # fmt: skip
    sizes = sorted(all_rows)
    if len(sizes) > 1:
        a, b = (_find(all_rows[s], "ours, first run") for s in (sizes[0], sizes[-1]))
        if a and b:
            slope = (b.peak_rss_mb - a.peak_rss_mb) / (sizes[-1] - sizes[0]) * 1000
            out.append(("peak memory growth with N (judge against the results' size)", None,
                        f"{a.peak_rss_mb:.0f} MB at N={sizes[0]} → {b.peak_rss_mb:.0f} MB at "
                        f"N={sizes[-1]}: {slope:.1f} MB per 1,000 files"))  # fmt: skip
    return out


def _git_state() -> dict:
    """The commit measured, and the files that differed from it (others' work in progress)."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=30).stdout.strip()  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"head": git("rev-parse", "HEAD"),
            "modified": git("status", "--short", "--untracked-files=no").splitlines()}  # fmt: skip


def compile_bytecode(log) -> str:
    """Byte-compile what every contender imports, as an installed tool has it.

    An installation carries compiled modules: pip compiles them at install time, and Python
    writes them on first import. Where ``PYTHONDONTWRITEBYTECODE`` is set (it is on the
    machines these figures come from), a virtual environment never gets them, and every
    run compiled pandas, pydantic and this project from source again: 0.4 s in our parent,
    as much in the fork server, and more in the baseline's pandas. Compiled once here,
    every contender reads them (that variable only stops writing). Returns what was done,
    for the figures.
    """
    import compileall
    import sysconfig

    t0 = time.perf_counter()
    folders = [ROOT / name for name in ("logic", "workbooks", "addin", "benchmarks")]
    folders.append(Path(sysconfig.get_paths()["purelib"]))
    with contextlib.redirect_stdout(sys.stderr):
        for folder in folders:  # quiet=2: packages ship files for other Pythons; not ours
            compileall.compile_dir(folder, quiet=2, workers=0, legacy=False)
    took = time.perf_counter() - t0
    note = (f"compiled beforehand ({took:.1f} s); PYTHONDONTWRITEBYTECODE="
            f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}")  # fmt: skip
    log(f"bytecode {note}")
    return note


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        return _child(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, nargs="+", default=list(DEFAULT_N), help="corpus sizes")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                   help=f"corpora, runs and results (default {DEFAULT_WORKDIR})")  # fmt: skip
    p.add_argument("--keep", action="store_true",
                   help="keep each run's outputs (tallies, JSON summaries, read cache)")  # fmt: skip
    p.add_argument("--workers", type=int, default=2, help="processes for ours, floor, generation")
    p.add_argument("--repeat", type=int, default=1, metavar="K",
                   help="run the floor and ours K times, interleaved, and keep each one's "
                        "median run (the baseline runs once)")  # fmt: skip
    p.add_argument("--baseline-sample", type=int, metavar="K",
                   help="time the pandas baseline on K files and extrapolate to N")  # fmt: skip
    p.add_argument("--round-sample", type=int, default=500, metavar="K",
                   help="with --repeat: also time the baseline on K files in every round "
                        "(default 500), and judge the speed-up round by round")  # fmt: skip
    p.add_argument("--roster", type=Path, default=_corpus.NATIONAL_ROSTER,
                   help="3-level roster CSV (code,name,level,parent_code)")  # fmt: skip
    p.add_argument("--no-libreoffice", action="store_true",
                   help="no file saved by LibreOffice (quick runs, tests)")  # fmt: skip
    p.add_argument("--reuse-corpus", action="store_true",
                   help="reuse a cached corpus built by an older template (wording changes)")  # fmt: skip
    p.add_argument("--profile", action="store_true",
                   help="also profile ours (cProfile; parent process and reader)")  # fmt: skip
    a = p.parse_args(argv)
    if a.repeat < 1:
        p.error("--repeat must be at least 1")
    a.workdir.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now().isoformat(timespec="seconds")

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    bytecode = compile_bytecode(log)

    all_rows: dict[int, list[Measurement]] = {}
    infos = {}
    for n in a.n:
        rows, info = run_n(n, a, log)
        all_rows[n] = derived_rows(rows)
        infos[n] = info
    print()
    print(f"thidua consolidate at national scale — {platform.node()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, workers={a.workers}, plan {_corpus.PLAN_ID} "
          f"(scope none), phase {_corpus.PHASE} only, roster {Path(a.roster).name}")  # fmt: skip
    flat = [m for n in a.n for m in all_rows[n]]
    for n in a.n:
        print()
        print(f"N = {n} ({infos[n]['corpus_mb']:.0f} MB, {infos[n]['libreoffice_files']} files "
              f"saved by LibreOffice)")  # fmt: skip
        print(table(all_rows[n]))
        print(breakdown(all_rows[n]))
        for k, r in enumerate(infos[n]["rounds"], 1):
            print(f"  round {k}: baseline on {r['baseline_files']} files, extrapolated "
                  f"{r['baseline_s']:.1f} s; ours {r['ours_s']:.1f} s, until the tally was "
                  f"written {r['ours_to_tally_s']:.1f} s: "
                  f"{r['baseline_s'] / r['ours_to_tally_s']:.1f}×")  # fmt: skip
            if "ours_stolen" in r:
                print(f"    ours {r['ours_stolen']}; baseline {r['baseline_stolen']}")
        prof = infos[n].get("profile")
        if prof:
            print(f"  profile of ours, parent process ({prof['parent_prof']}), by cumulative time:")
            print("\n".join("    " + line for line in prof["parent_top"]))
            print(f"  profile of the reader, {prof['reader_ms_per_file']:.1f} ms per file "
                  f"({prof['reader_prof']}), by own time:")  # fmt: skip
            print("\n".join("    " + line for line in prof["reader_top"]))
    prechecks = [p for n in a.n for p in infos[n]["prechecks"]]
    checks = targets(all_rows, prechecks, infos[max(a.n)]["rounds"])
    print()
    print("Targets (issue “Speed at national scale”):")
    for what, met, figures in checks:
        mark = "info" if met is None else ("MET " if met else "MISS")
        print(f"  [{mark}] {what}: {figures}")
    result = {
        "started": started,
        "git": _git_state(),
        "host": {"node": platform.node(), "cpus": os.cpu_count(),
                 "python": platform.python_version(), "platform": platform.platform()},
        "workers": a.workers,
        "plan": _corpus.PLAN_ID,
        "phase": _corpus.PHASE,
        "roster": str(a.roster),
        "bytecode": bytecode,
        "corpora": infos,
        "rows": [asdict(m) | {"files_per_s": m.files_per_s} for m in flat],
        "targets": [{"what": w, "met": m, "figures": f} for w, m, f in checks],
    }  # fmt: skip
    text = json.dumps(result, ensure_ascii=False, indent=2, default=str)
    out = a.workdir / "national-results.json"
    out.write_text(text, encoding="utf-8")
    stamp = started.replace(":", "").replace("-", "")
    (a.workdir / f"national-results-{stamp}.json").write_text(text, encoding="utf-8")
    print(f"\nFigures: {out} (and national-results-{stamp}.json)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
