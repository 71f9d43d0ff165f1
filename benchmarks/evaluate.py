"""Benchmark (not collected by pytest): ``logic.aggregate.evaluate`` at national scale.

The national case of ``benchmarks/national.py`` without the files: the shared 3-level
roster (63 provinces, 696 districts, 10,051 communes), the bundled plan ``thanh-hoa-2024``
over the whole country and one phase-1 report per commune, synthesized with the corpus's
own seeded figures (``_corpus.values_for``, the reader's yes/no reading). Run::

    uv run python benchmarks/evaluate.py [--phases 1 2 3] [--repeat 3] [--profile]
                                         [--reference] [--save FILE | --compare FILE]

It prints the time of a full ``evaluate``, the number of results, the memory the results
hold (tracemalloc, in a separate run: tracing slows everything) and the time of an
incremental re-evaluation after one commune's report changed (a correction), checked
against a full evaluation of the same reports.

``--phases 1 2 3``: every commune reports each phase (same figures re-seeded per phase),
so the whole-campaign view is judged too. ``--reference`` also times the implementation
before it was made fast (``tests/logic/aggregate_reference.py``) in the same run (the
machine is shared: compare within one run) and checks both agree. ``--save`` pickles the results (as ``repr``
strings, which tell 1 from 1.0) and ``--compare`` checks a later run against them: the
same list in the same order.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import inspect
import pickle
import pstats
import random
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(ROOT), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import _corpus  # noqa: E402

from logic.aggregate import Evaluation, Report, evaluate  # noqa: E402
from logic.numbers import parse_yes_no  # noqa: E402


def _reading(values: dict) -> dict[str, dict[str, float | None]]:
    """Figures as the reader hands them over: numbers as floats, "Có"/"Không" as 1/0."""
    out = {}
    for code, comps in values.items():
        row = {}
        for k, v in comps.items():
            row[k] = (1.0 if parse_yes_no(v).value else 0.0) if k == "done" else float(v)
        out[code] = row
    return out


def national_case(phases: tuple[str, ...] = ("1",)):
    """(plan, roster, reports): one report per commune of the country and phase."""
    plan = _corpus.national_plan()
    roster = _corpus.load_roster(_corpus.NATIONAL_ROSTER)
    communes = _corpus.pick_communes(_corpus.NATIONAL_ROSTER, 10_051)
    reports = []
    for phase in phases:
        seed = _corpus.SEED if phase == _corpus.PHASE else f"{_corpus.SEED}/{phase}"
        end = plan.phase(phase).end
        for code, _district, _province in communes:
            values, day = _corpus.values_for(plan, code, seed)
            day = min(day, end) if phase == _corpus.PHASE else end
            reports.append(Report(code, phase, _reading(values), day, f"{code}-dot-{phase}.xlsx"))
    return plan, roster, reports


def fingerprint(ev: Evaluation) -> list[str]:
    """Everything a consumer sees, type-exact (``repr`` tells 1 from 1.0)."""
    return (
        [repr(r) for r in ev.results]
        + [repr(m) for m in ev.missing]
        + [repr((r.unit, r.phase)) for r in ev.unplaced]
        + [repr(sorted(ev.trees))]
    )


def _timed(fn, repeat: int) -> tuple[float, object]:
    """(best wall time, last result); ``_cpu[0]`` gets the CPU time of that best run."""
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best, _cpu[0] = wall, time.process_time() - c0
    return best, out


_cpu = [0.0]


def _results_memory(plan, roster, reports) -> tuple[int, int, int]:
    """(bytes held by the evaluation, peak bytes while evaluating, number of results)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    ev = evaluate(plan, roster, reports)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return held - before, peak - before, len(ev.results)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phases", nargs="+", default=["1"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--save", type=Path)
    ap.add_argument("--compare", type=Path)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--reference", action="store_true", help="time the code before, compare")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    plan, roster, reports = national_case(tuple(args.phases))
    print(f"case: {len(reports):,} reports, phases {' '.join(args.phases)}; "
          f"built in {time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip
    evaluate(plan, roster, reports[:1])  # the roster's trees are cached: not ours to time

    full_s, ev = _timed(lambda: evaluate(plan, roster, reports), args.repeat)
    print(f"evaluate (full): {full_s:.3f} s ({_cpu[0]:.3f} s CPU), {len(ev.results):,} results",
          flush=True)  # fmt: skip
    if args.reference:
        from tests.logic.aggregate_reference import evaluate as reference

        ref_s, ref = _timed(lambda: reference(plan, roster, reports), args.repeat)
        same = fingerprint(ref) == fingerprint(ev)
        print(f"reference (before): {ref_s:.3f} s ({_cpu[0]:.3f} s CPU): "
              f"{ref_s / full_s:.1f}x the time; identical results: {same}", flush=True)  # fmt: skip
        del ref
        if not same:
            sys.exit(1)

    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(evaluate, plan, roster, reports)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)

    if args.save:
        args.save.write_bytes(pickle.dumps(fingerprint(ev)))
        print(f"saved {len(ev.results):,} results to {args.save}")
    if args.compare:
        want = pickle.loads(args.compare.read_bytes())
        got = fingerprint(ev)
        if got == want:
            print(f"identical to {args.compare} ({len(ev.results):,} results, same order)")
        else:
            bad = next(i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b)
            print(f"DIFFERENT from {args.compare}: {len(got)} vs {len(want)} lines; "
                  f"first at {bad}:\n  now  {got[bad]}\n  was  {want[bad]}")  # fmt: skip
            sys.exit(1)

    if not args.no_memory:
        held, peak, n = _results_memory(plan, roster, reports)
        print(f"memory: evaluation holds {held / 2**20:.1f} MB ({held / n:.0f} B per result); "
              f"peak while evaluating {peak / 2**20:.1f} MB", flush=True)  # fmt: skip

    _incremental(plan, roster, reports, ev, args.repeat)


def _incremental(plan, roster, reports, ev: Evaluation, repeat: int) -> None:
    """One commune sends a correction: re-evaluate only what it touches."""
    if "previous" not in inspect.signature(evaluate).parameters:
        print("incremental: not available")
        return
    rnd = random.Random(7)
    i = rnd.randrange(len(reports))
    old = reports[i]
    values, _day = _corpus.values_for(plan, old.unit, _corpus.SEED, variant=1)
    changed = list(reports)
    changed[i] = Report(old.unit, old.phase, _reading(values), old.report_date, old.source)
    inc_s, inc = _timed(
        lambda: evaluate(plan, roster, changed, previous=ev, changed={(old.unit, old.phase)}),
        repeat,
    )
    full = evaluate(plan, roster, changed)
    same = fingerprint(inc) == fingerprint(full)
    print(f"incremental (1 changed commune, {old.unit}): {inc_s * 1000:.1f} ms "
          f"({inc_s / max(_full_time(plan, roster, changed), 1e-9):.1%} of a full run); "
          f"identical to a full evaluation: {same}", flush=True)  # fmt: skip
    if not same:
        sys.exit(1)
    # a re-run in another process: the previous evaluation pickled (the cyclic collector
    # off while unpickling, as workbooks.cache does)
    gc.collect()
    gc.disable()
    try:
        dump_s, blob = _timed(lambda: pickle.dumps(ev, protocol=5), repeat)
        load_s, loaded = _timed(lambda: pickle.loads(blob), repeat)
    finally:
        gc.enable()
    again_s, again = _timed(
        lambda: evaluate(plan, roster, changed, previous=loaded, changed={(old.unit, old.phase)}),
        repeat,
    )
    same = fingerprint(again) == fingerprint(full)
    print(f"pickled evaluation: {len(blob) / 2**20:.1f} MB, dump {dump_s:.2f} s, "
          f"load {load_s:.2f} s; re-run from it {again_s * 1000:.1f} ms, identical: {same}",
          flush=True)  # fmt: skip
    if not same:
        sys.exit(1)


def _full_time(plan, roster, reports) -> float:
    return _timed(lambda: evaluate(plan, roster, reports), 1)[0]


if __name__ == "__main__":
    main()
