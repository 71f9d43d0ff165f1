"""Benchmark (not collected by pytest): the tally of a national-scale consolidation.

Two cases:

- ``national`` (default): what ``benchmarks/national.py`` tallies at N = 10,051, without
  reading a file: the bundled plan ``thanh-hoa-2024`` without scope (phase 1 reported), the
  shared national roster (63 provinces, 696 districts, 10,051 communes), every commune's
  figures from the corpus generator (``_corpus.values_for``): about 195,000 results.
- ``province``: one synthetic province, 10,000 communes (500 districts × 20) × 15
  indicators × 3 phases, 95 % of reports in, plus the whole-campaign view: about 630,000
  result rows.

Run::

    uv run python benchmarks/tally.py /tmp/tong-hop.xlsx [--case national|province]
        [--trace] [--profile FILE] [--compare OTHER_TALLY.py] [--rounds K]

Times: wall, CPU of the process (every thread) and CPU of the calling thread. The writer
compresses on a second thread: on an idle 2-core machine its wall time is about the calling
thread's CPU; on a shared machine that CPU time is the steadier figure.
``--trace`` also reports the writer's peak Python allocation (tracemalloc; ~10× slower).
``--profile FILE`` writes a cProfile of the writer. ``--compare`` also times another version
of ``workbooks/tally.py`` (e.g. ``git show HEAD~3:workbooks/tally.py > /tmp/old.py``) on the
same consolidation, in the same run, alternating (``--rounds K`` times): before/after
figures on a shared machine.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import importlib.util
import random
import resource
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

from logic.aggregate import evaluate, phase_tree
from logic.plan import load_plan
from logic.roster import Roster, Unit
from workbooks.consolidate import Accepted, Consolidation, InputRecord
from workbooks.intake import Source
from workbooks.reader import SheetReport
from workbooks.tally import write_tally

D = dt.date
KINDS = ("ratio", "reduction", "count", "minimum", "yes_no")
TARGETS = {
    "ratio": {"op": ">=", "value": 0.8},
    "reduction": {"op": ">=", "value": 0.07},
    "count": {"op": ">=", "value": 3},
    "minimum": {"op": ">=", "value": 1},
    "yes_no": {"op": ">=", "value": 1},
}


def plan_data(indicators: int = 15) -> dict:
    return {
        "id": "bench",
        "name": "Phong trào thi đua thử nghiệm",
        "issuer": "Công an tỉnh Thử",
        "start": D(2024, 8, 19),
        "end": D(2025, 8, 19),
        "phases": [
            {"code": "1", "name": "Đợt 1", "start": D(2024, 8, 19), "end": D(2025, 2, 3)},
            {"code": "2", "name": "Đợt 2", "start": D(2025, 2, 4), "end": D(2025, 5, 19)},
            {"code": "3", "name": "Đợt 3", "start": D(2025, 5, 20), "end": D(2025, 8, 19)},
        ],
        "indicators": [
            {
                "code": f"CT{i + 1:02d}",
                "name": f"Chỉ tiêu số {i + 1} về bảo đảm an ninh trật tự ở cơ sở",
                "unit": "vụ",
                "kind": KINDS[i % 5],
                "target": TARGETS[KINDS[i % 5]],
            }
            for i in range(indicators)
        ],
    }


def _values(plan, rnd: random.Random) -> dict:
    out = {}
    for ind in plan.indicators:
        if ind.kind == "ratio":
            den = rnd.randint(0, 20)
            out[ind.code] = {"numerator": rnd.randint(0, den), "denominator": den}
        elif ind.kind == "reduction":
            out[ind.code] = {"current": rnd.randint(0, 12), "baseline": rnd.randint(0, 12)}
        elif ind.kind in ("count", "minimum"):
            out[ind.code] = {"count": rnd.randint(0, 5)}
        else:
            out[ind.code] = {"done": rnd.randint(0, 1)}
    return out


def build(districts: int = 500, per_district: int = 20, seed: int = 1) -> Consolidation:
    rnd = random.Random(seed)
    plan = load_plan(plan_data())
    units = [Unit("P", "Tỉnh Thử", "province")]
    for d in range(districts):
        units.append(Unit(f"D{d:03d}", f"Huyện {d}", "district", "P"))
        units += [
            Unit(f"X{d:03d}{k:02d}", f"Xã {d}-{k}", "commune", f"D{d:03d}")
            for k in range(per_district)
        ]
    roster = Roster(units)
    c = Consolidation(plan, roster)
    communes = [u.code for u in units if u.level == "commune"]
    for phase in ("1", "2", "3"):
        for code in communes:
            if rnd.random() < 0.05:
                continue
            path = f"hop-thu/{code}-dot-{phase}.xlsx"
            sheet = SheetReport(
                path=path, member=None, sheet=code, plan_id="bench", unit=code, unit_name=None,
                phase=phase, report_date=D(2025, 8, 25), prepared_by=None,
                values=_values(plan, rnd), cells={}, findings=[], empty=False, level="commune",
            )  # fmt: skip
            src = Source(path=path, member=None, sha256="0" * 64, size=1)
            rec = InputRecord(path, "0" * 64, None, "accepted", None, code, phase, sheet=code)
            c.inputs.append(rec)
            c.accepted.append(Accepted(sheet, src, rec))
    c.evaluation = evaluate(plan, roster, [a.sheet.to_report() for a in c.accepted])
    return c


def build_national(seed: int = 2025) -> Consolidation:
    """The consolidation ``benchmarks/national.py`` tallies at N = 10,051, without files."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _corpus

    plan = _corpus.national_plan()
    roster = _corpus.load_roster(_corpus.NATIONAL_ROSTER)
    c = Consolidation(plan, roster)
    phase = _corpus.PHASE
    tree = phase_tree(plan, roster, phase)
    yes_no = {"Có": 1, "Không": 0}
    for code, unit in tree.units.items():
        if unit.level != "commune":
            continue
        values, day = _corpus.values_for(plan, code, seed)
        values = {
            ind: {k: yes_no.get(v, v) for k, v in comps.items()} for ind, comps in values.items()
        }
        path = f"/tmp/corpus/files/{code}.xlsx"
        sha = code.ljust(64, "0")
        sheet = SheetReport(
            path=path, member=None, sheet="Báo cáo", plan_id=plan.id, unit=code,
            unit_name=unit.name, phase=phase, report_date=day, prepared_by=None,
            values=values, cells={}, findings=[], empty=False, level="commune",
        )  # fmt: skip
        src = Source(path=path, member=None, sha256=sha, size=1)
        rec = InputRecord(path, sha, None, "accepted", None, code, phase, sheet="Báo cáo",
                          report_date=day)  # fmt: skip
        c.inputs.append(rec)
        c.accepted.append(Accepted(sheet, src, rec))
    c.evaluation = evaluate(plan, roster, [a.sheet.to_report() for a in c.accepted])
    return c


def _load_writer(path: str):
    """``write_tally`` of another version of the module (relative imports from workbooks)."""
    spec = importlib.util.spec_from_file_location("workbooks._tally_compared", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.write_tally


def _opt(argv: list[str], name: str, default: str | None = None) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else default


def main(argv: list[str]) -> None:
    out = Path(argv[0])
    case = _opt(argv, "--case", "national")
    t0 = time.perf_counter()
    c = build_national() if case == "national" else build()
    t1 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{case}: {len(c.evaluation.results):,} results; build + evaluate {t1 - t0:.1f} s; "
          f"max RSS so far {rss:.0f} MB", flush=True)  # fmt: skip
    writers = [("this", write_tally)]
    other = _opt(argv, "--compare")
    if other:
        writers.append((Path(other).name, _load_writer(other)))
    profile = _opt(argv, "--profile")
    trace = "--trace" in argv
    rounds = int(_opt(argv, "--rounds", "1"))
    for _ in range(rounds):
        for label, write in writers:
            target = out.with_name(f"{out.stem}-{label.replace('.', '_')}{out.suffix}")
            if len(writers) == 1:
                target = out
            if trace:
                tracemalloc.start()
            profiler = None
            if profile and label == "this":
                profiler = cProfile.Profile()
                profiler.enable()
            wall, cpu, main = time.perf_counter(), time.process_time(), time.thread_time()
            write(c, target)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            main = time.thread_time() - main
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(profile)
            peak = "not traced"
            if trace:
                peak = f"{tracemalloc.get_traced_memory()[1] / 2**20:.0f} MB"
                tracemalloc.stop()
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            with zipfile.ZipFile(target) as z:
                sheets = sum(1 for n in z.namelist() if n.startswith("xl/worksheets/sheet"))
            size = target.stat().st_size / 2**20
            print(f"{label:>16}: {wall:5.2f} s wall, {cpu:5.2f} s CPU ({main:5.2f} s this "
                  f"thread); {sheets} sheets, "
                  f"{size:.1f} MB; peak allocation {peak}; max RSS {rss:.0f} MB",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
