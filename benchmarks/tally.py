"""Benchmark (not collected by pytest): the tally of a national-scale consolidation.

10,000 communes (500 districts × 20) × 15 indicators × 3 phases, 95 % of reports in, plus
the whole-campaign view: about 630,000 result rows. Run::

    uv run python benchmarks/tally.py /tmp/tong-hop.xlsx [--trace]

``--trace`` also reports the writer's peak Python allocation (tracemalloc; ~10× slower).
"""

from __future__ import annotations

import datetime as dt
import random
import resource
import sys
import time
import tracemalloc

from logic.aggregate import evaluate
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


def main(argv: list[str]) -> None:
    out = argv[0]
    t0 = time.perf_counter()
    c = build()
    t1 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{len(c.evaluation.results):,} results; build + evaluate {t1 - t0:.1f} s; "
          f"max RSS so far {rss:.0f} MB", flush=True)  # fmt: skip
    trace = "--trace" in argv
    if trace:
        tracemalloc.start()
    wall, cpu = time.perf_counter(), time.process_time()
    write_tally(c, out)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = f"{tracemalloc.get_traced_memory()[1] / 2**20:.0f} MB" if trace else "not traced"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"write_tally: {wall:.1f} s wall, {cpu:.1f} s CPU; peak allocation {peak}; "
          f"max RSS {rss:.0f} MB", flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
