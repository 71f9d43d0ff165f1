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
    uv run python benchmarks/tally.py /tmp/tong-hop.xlsx --rerun

``--rerun`` (national): what a re-run after one corrected commune report changes in the
tally, the question behind reusing the previous tally's parts. It writes the tally of the
national consolidation, then of the same with one commune's report replaced by its
correction (``_corpus.values_for(…, variant=1)``, as ``benchmarks/national.py`` does),
and reports per sheet: rows whose XML differs at the same position (what today's writer
would have to render again: shared-string numbers shift), rows whose content differs at the
same position (strings resolved: what a writer keeping row numbers but with shared-string
numbers independent of other rows must render again), rows whose content (shared strings resolved, row and cell
references left out) is new (what a writer without row references must render again), the
first row that differs; and what computing a digest of the inputs costs.

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
import dataclasses
import datetime as dt
import gc
import hashlib
import importlib.util
import pickle
import random
import re
import resource
import sys
import time
import tracemalloc
import zipfile
from operator import attrgetter
from pathlib import Path

from logic.aggregate import evaluate, phase_tree
from logic.plan import load_plan
from logic.roster import Roster, Unit
from workbooks.consolidate import Accepted, Consolidation, InputRecord
from workbooks.intake import Source
from workbooks.reader import SheetReport
from workbooks.summary import missed_results, phase_overview
from workbooks.tally import ranking, write_tally

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


def corrected(c: Consolidation, unit: str, seed: int = 2025) -> Consolidation:
    """``c`` with ``unit``'s report replaced by its correction (other figures, other file)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _corpus

    out = Consolidation(c.plan, c.roster)
    yes_no = {"Có": 1, "Không": 0}
    for a in c.accepted:
        if a.sheet.unit == unit:
            values, day = _corpus.values_for(c.plan, unit, seed, variant=1)
            values = {i: {k: yes_no.get(v, v) for k, v in comps.items()}
                      for i, comps in values.items()}  # fmt: skip
            sha = "f" * 64
            a = Accepted(
                dataclasses.replace(a.sheet, values=values, report_date=day),
                dataclasses.replace(a.source, sha256=sha),
                dataclasses.replace(a.record, sha256=sha, report_date=day),
            )
        out.accepted.append(a)
        out.inputs.append(a.record)
    out.evaluation = evaluate(c.plan, c.roster, [a.sheet.to_report() for a in out.accepted])
    return out


_ROW = re.compile(r"<row[ >].*?</row>", re.S)
_REF = re.compile(r' r="[A-Z]*[0-9]+"')
_SHARED = re.compile(r'(<c[^>]*?) t="s"><v>([0-9]+)</v>')


def _sheet_rows(path: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Per sheet part: its rows' XML, and their content (strings resolved, no references)."""
    out = {}
    with zipfile.ZipFile(path) as z:
        sst = re.findall(r"<si><t[^>]*>(.*?)</t></si>", z.read("xl/sharedStrings.xml").decode(),
                         re.S)  # fmt: skip
        for name in z.namelist():
            if not name.startswith("xl/worksheets/sheet"):
                continue
            rows = _ROW.findall(z.read(name).decode())
            content = [_SHARED.sub(lambda m: f"{m[1]}>{sst[int(m[2])]}", _REF.sub("", r))
                       for r in rows]  # fmt: skip
            out[name] = (rows, content)
    return out


def rerun(out: Path) -> None:
    gc.disable()
    c = build_national()
    units = sorted(a.sheet.unit for a in c.accepted)
    c2 = corrected(c, units[len(units) // 2])
    first, second = (
        out.with_name(f"{out.stem}-1{out.suffix}"),
        out.with_name(f"{out.stem}-2{out.suffix}"),
    )
    write_tally(c, first)
    t = time.perf_counter()
    write_tally(c2, second)
    print(f"tally of the corrected consolidation, written whole: {time.perf_counter() - t:.2f} s")
    for label, f in (("missed_results", missed_results), ("phase_overview", phase_overview),
                     ("ranking", ranking)):  # fmt: skip
        c2.__dict__.pop("_derived", None)
        t = time.perf_counter()
        f(c2)
        print(f"  {label}: {time.perf_counter() - t:.3f} s (needed before any row is written)")
    communes = [r for r in c2.evaluation.results if r.level == "commune"]
    fields = attrgetter("unit", "level", "parent", "phase", "indicator", "kind", "components",
                        "value", "status", "reported", "expected", "interim", "gap", "note",
                        "name", "sources")  # fmt: skip
    t = time.perf_counter()
    for i in range(0, len(communes), 1000):
        hashlib.blake2b(pickle.dumps(list(map(fields, communes[i : i + 1000])), 5)).digest()
    print(f"  digest of the {len(communes):,} commune results (fields pickled, blake2b, "
          f"per 1,000): {time.perf_counter() - t:.3f} s")  # fmt: skip
    a, b = _sheet_rows(first), _sheet_rows(second)
    with zipfile.ZipFile(second) as z:
        titles = re.findall(r'<sheet name="([^"]*)"', z.read("xl/workbook.xml").decode())
    print(f"{'sheet':>22} {'rows':>8} {'XML in place':>13} {'content in place':>17} "
          f"{'new content':>12} {'first':>6}")  # fmt: skip
    for i, title in enumerate(titles, 1):
        name = f"xl/worksheets/sheet{i}.xml"
        (rows1, content1), (rows2, content2) = a[name], b[name]
        moved = sum(1 for j, r in enumerate(rows2) if j >= len(rows1) or rows1[j] != r)
        if not moved and len(rows1) == len(rows2):
            continue
        shifted = sum(1 for j, r in enumerate(content2) if j >= len(content1) or content1[j] != r)
        old = set(content1)
        new = sum(1 for r in content2 if r not in old)
        at = next((j for j, r in enumerate(rows2) if j >= len(rows1) or rows1[j] != r), None)
        print(f"{title:>22} {len(rows2):>8,} {moved:>13,} {shifted:>17,} {new:>12,} "
              f"{at if at is not None else '':>6}")  # fmt: skip
    unchanged = sum(1 for n in b if n in a and a[n][0] == b[n][0])
    print(
        f"sheets unchanged: {unchanged} of {len(b)}; shared strings: "
        f"{'same' if _same(first, second, 'xl/sharedStrings.xml') else 'differ'}"
    )


def _same(x: Path, y: Path, member: str) -> bool:
    with zipfile.ZipFile(x) as a, zipfile.ZipFile(y) as b:
        return a.read(member) == b.read(member)


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
    if "--rerun" in argv:
        rerun(out)
        return
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
