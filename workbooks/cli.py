"""The ``thidua`` command (contract: ``../shared/contract.md``).

Each verb calls the library and prints what it returns; messages for people are in
Vietnamese. Exit codes:

=================  ==================================================================
verb               exit status
=================  ==================================================================
demo               0
plan check         0 ok, 2 invalid plan
template           0 (2 bad arguments)
validate           0 no errors, 1 errors found, 2 bad arguments
consolidate        0 all inputs used, 1 some rejected, 2 nothing usable or bad arguments
addin serve/lite   0
=================  ==================================================================
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import NoReturn

from logic.errors import ThiduaError

EPILOG = "Tài liệu: README.md. Mã thoát: 0 thành công, 1 có lỗi trong dữ liệu, 2 tham số sai."


def main(argv: list[str] | None = None) -> int:
    _utf8_stdio()
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ThiduaError as e:
        print(f"Lỗi: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nĐã dừng theo yêu cầu.", file=sys.stderr)
        return 130


def run() -> NoReturn:
    """The ``thidua`` command: :func:`main`, then :func:`exit_now`."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` once the output is flushed and the exit handlers ran,
    without the interpreter's finalization: it frees every object of the run one by one,
    which nobody waits for (the end of a province's re-run took 54–187 ms with it, 11–21 ms
    without).

    The usual exit when a thread other than this one still runs (finalization waits for
    it) or the output cannot be flushed (a closed pipe: the usual exit says so)."""
    import atexit
    import threading

    if any(t is not threading.current_thread() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    atexit._run_exitfuncs()  # logging, the workers and temporary files left to clean up
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _utf8_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(encoding="utf-8", errors="replace")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="thidua",
        description="Kiểm tra, tổng hợp và đánh giá chỉ tiêu báo cáo phong trào thi đua "
        "(check, consolidate and judge emulation-movement reports).",
        epilog=EPILOG,
    )
    sub = p.add_subparsers(metavar="LỆNH")

    d = sub.add_parser(
        "demo", help="tạo hộp thư mẫu và tổng hợp thử (build a sample inbox and consolidate it)"
    )
    d.add_argument(
        "--out",
        type=Path,
        default=Path("thidua-demo"),
        help="thư mục kết quả (default: thidua-demo)",
    )
    d.add_argument("--plan", default="thanh-hoa-2024", help="kế hoạch mẫu (bundled plan id)")
    d.set_defaults(func=_demo)

    plan = sub.add_parser("plan", help="kế hoạch thi đua (plans)")
    plan_sub = plan.add_subparsers(metavar="LỆNH")
    pc = plan_sub.add_parser("check", help="kiểm tra và in kế hoạch (load and check a plan)")
    pc.add_argument("plan", metavar="PLAN", help="mã kế hoạch có sẵn hoặc đường dẫn .toml/.xlsx")
    pc.set_defaults(func=_plan_check)
    pl = plan_sub.add_parser("list", help="các kế hoạch có sẵn (bundled plans)")
    pl.set_defaults(func=_plan_list)
    pe = plan_sub.add_parser(
        "export", help="ghi kế hoạch ra tệp Excel để sửa (write a plan workbook)"
    )
    pe.add_argument("plan", metavar="PLAN")
    pe.add_argument("--out", type=Path, required=True)
    pe.set_defaults(func=_plan_export)

    t = sub.add_parser("template", help="tạo mẫu báo cáo trống (write blank report workbooks)")
    t.add_argument("--plan", required=True, metavar="PLAN")
    t.add_argument("--unit", metavar="CODE", help="mã đơn vị cấp xã")
    t.add_argument(
        "--all-units", action="store_true", help="mọi xã (hoặc mọi xã của một huyện với --district)"
    )
    t.add_argument("--district", metavar="CODE", help="chỉ các xã của huyện này (với --all-units)")
    t.add_argument("--phase", required=True, metavar="N", help="đợt thi đua (1, 2, 3…)")
    t.add_argument("--out", type=Path, help="tệp (một đơn vị) hoặc thư mục (--all-units)")
    t.add_argument(
        "--roster",
        metavar="ROSTER",
        help="danh mục đơn vị: mã có sẵn hoặc tệp .csv/.xlsx (mặc định: danh mục của kế hoạch)",
    )
    t.set_defaults(func=_template)

    v = sub.add_parser("validate", help="kiểm tra báo cáo (check workbooks)")
    v.add_argument("files", nargs="+", type=Path, metavar="FILE")
    v.add_argument("--plan", metavar="PLAN")
    v.add_argument(
        "--feedback", type=Path, metavar="DIR", help="ghi bản sao có đánh dấu lỗi vào thư mục này"
    )
    v.add_argument("--json", type=Path, metavar="PATH", help="ghi kết quả dạng JSON")
    v.set_defaults(func=_validate)

    c = sub.add_parser(
        "consolidate", help="tổng hợp báo cáo (consolidate workbooks, folders, emails)"
    )
    c.add_argument("inputs", nargs="+", metavar="INPUT", help="tệp Excel, thư mục, .eml, .mbox")
    c.add_argument("--plan", metavar="PLAN")
    c.add_argument("--out", type=Path, required=True, metavar="OUT.xlsx")
    c.add_argument("--json", type=Path, metavar="PATH")
    c.add_argument(
        "--replies", type=Path, metavar="DIR", help="soạn thư trả lời và nhắc nhở (.eml)"
    )
    c.add_argument(
        "--roster",
        metavar="ROSTER",
        help="danh mục đơn vị: mã có sẵn hoặc tệp .csv/.xlsx (mặc định: danh mục của kế hoạch)",
    )
    c.add_argument("--no-cache", action="store_true", help="không dùng bộ nhớ đệm")
    c.add_argument("--workers", type=int, help="số tiến trình đọc song song (mặc định: số lõi)")
    c.add_argument(
        "--password",
        action="append",
        default=[],
        metavar="PASS",
        help="mật khẩu thử cho tệp được bảo vệ (có thể lặp lại)",
    )
    c.add_argument(
        "--passwords",
        type=Path,
        metavar="FILE",
        help="tệp mật khẩu: mỗi dòng 'tên-tệp<TAB>mật-khẩu'",
    )
    c.set_defaults(func=_consolidate)

    a = sub.add_parser("addin", help="add-in Excel (xlwings)")
    a_sub = a.add_subparsers(metavar="LỆNH")
    al = a_sub.add_parser("lite", help="ghi main.py và requirements.txt cho xlwings Lite")
    al.add_argument("--out", type=Path, default=Path("thidua-lite"))
    al.set_defaults(func=_addin_lite)
    a_serve = a_sub.add_parser("serve", help="chạy xlwings Server trên 127.0.0.1 (phát triển)")
    a_serve.add_argument("--port", type=int, default=8000)
    a_serve.add_argument(
        "--dev-no-auth", action="store_true", help="tắt xác thực (chỉ khi phát triển)"
    )
    a_serve.set_defaults(func=_addin_serve)
    return p


# --- verbs ----------------------------------------------------------------------------


def _plan_check(args) -> int:
    from logic.errors import PlanError

    from .plans import describe, load
    from .rosters import load_roster

    try:
        plan = load(args.plan)
        roster = load_roster(plan.roster) if plan.roster else None
    except PlanError as e:
        print(str(e), file=sys.stderr)
        return 2
    print(describe(plan, roster))
    return 0


def _plan_list(args) -> int:
    from .plans import bundled_plans, load

    for pid in bundled_plans():
        print(f"{pid:28} {load(pid).name}")
    return 0


def _plan_export(args) -> int:
    from .plans import load, write_plan_workbook

    write_plan_workbook(load(args.plan), args.out)
    print(f"Đã ghi kế hoạch: {args.out}")
    return 0


def _template(args) -> int:
    from .plans import load
    from .template import write_all, write_template

    plan = load(args.plan)
    roster = _roster(plan, args.roster)
    if args.phase not in {p.code for p in plan.phases}:
        print(
            f"Lỗi: kế hoạch không có đợt “{args.phase}” (các đợt: "
            f"{', '.join(p.code for p in plan.phases)}).",
            file=sys.stderr,
        )
        return 2
    if args.all_units:
        out_dir = args.out or Path(f"mau-{plan.id}-dot-{args.phase}")
        paths = write_all(plan, roster, args.phase, out_dir, district=args.district)
        print(f"Đã tạo {len(paths)} mẫu báo cáo trong {out_dir}")
        return 0
    if not args.unit:
        print("Lỗi: cần --unit CODE hoặc --all-units.", file=sys.stderr)
        return 2
    out = args.out or Path(f"bao-cao-{args.unit}-dot-{args.phase}.xlsx")
    if out.is_dir():
        out = out / f"bao-cao-{args.unit}-dot-{args.phase}.xlsx"
    write_template(plan, roster, args.unit, args.phase, out)
    print(f"Đã tạo mẫu báo cáo: {out}")
    return 0


def _validate(args) -> int:
    from .validate import format_findings_table, validate_files

    result = validate_files(args.files, plan_ref=args.plan, feedback_dir=args.feedback)
    if result.message:
        print(result.message, file=sys.stderr if result.exit_code == 2 else sys.stdout)
    print(format_findings_table(result.findings))
    if args.json:
        _write_json(args.json, result.summary())
    return result.exit_code


def _consolidate(args) -> int:
    from .isolate import spawns_workers, warm_up

    # The workers' fork server (on Windows, the workers themselves) import the readers
    # (~0.6 s) while this process imports the rest, loads the plan and the roster and
    # collects the inputs.
    warm_up("workbooks.parallel", workers=_workers_ahead(args) if spawns_workers() else None)
    with _few_gc_passes():
        return _consolidate_in(args)


def _workers_ahead(args) -> int:
    """Workers to start before the inputs are known, where each imports the readers itself
    (Windows): all of them for a first run, one for a re-run (its reads are mostly cached,
    and a worker started for nothing still costs a core its import)."""
    from .cache import seen_before

    if not args.no_cache and seen_before(args.inputs):
        return 1
    return args.workers or os.cpu_count() or 1


@contextlib.contextmanager
def _few_gc_passes():
    """Fewer passes of the cyclic garbage collector while a batch builds its results.

    At national scale each full pass walks every read, finding and result kept so far,
    which hold next to no cycles: 1.3 s of an 18 s run. What exists before the batch
    (modules, plan, roster) is frozen out of the passes altogether.
    """
    import gc

    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def _consolidate_in(args) -> int:
    from .consolidate import console_status, consolidate
    from .plans import load
    from .summary import print_summary, resolve_plan

    clock = _Clock()
    missing = [i for i in args.inputs if not Path(i).exists()]
    if missing and len(missing) == len(args.inputs):
        print("Lỗi: không tìm thấy đầu vào: " + ", ".join(missing), file=sys.stderr)
        return 2
    plan = load(args.plan) if args.plan else resolve_plan(args.inputs)
    if plan is None:
        print("Lỗi: không xác định được kế hoạch; hãy chỉ rõ --plan.", file=sys.stderr)
        return 2
    roster = _roster(plan, args.roster)
    passwords = _passwords(args)
    clock.lap("plan")
    with console_status() as status:
        result = consolidate(
            args.inputs,
            plan,
            roster,
            use_cache=not args.no_cache,
            workers=args.workers,
            passwords=passwords,
            progress=status.progress,
        )
        clock.lap("consolidate")
        write_outputs(result, status, args.out, args.json, args.replies, clock.lap)
    print_summary(result, args.out)
    clock.lap("summary")
    clock.save()
    return result.exit_code


def write_outputs(result, status, tally, json=None, replies=None, lap=None) -> list[Path]:
    """The tally, then the JSON summary and the drafted replies when asked for, each step
    named on the status line (``lap(step)`` after each: the benchmarks' timings).

    Returns the replies written."""
    from .consolidate import write_summary
    from .tally import write_tally

    lap = lap or (lambda step: None)
    status.step("Đang ghi bảng tổng hợp")
    write_tally(result, tally)
    lap("tally")
    if json:
        status.step("Đang ghi tệp JSON")
        write_summary(result, json)
        lap("json")
    written: list[Path] = []
    if replies:
        from .replies import write_replies

        status.step("Đang soạn thư trả lời")
        written = write_replies(result, replies)
        lap("replies")
    return written


class _Clock:
    """Wall time of each step, for the benchmarks: written as JSON to ``$THIDUA_TIMINGS``."""

    def __init__(self) -> None:
        import time

        self.path = os.environ.get("THIDUA_TIMINGS")
        self.now = time.perf_counter
        self.last = self.now()
        self.laps: dict[str, float] = {}

    def lap(self, step: str) -> None:
        t = self.now()
        self.laps[step], self.last = t - self.last, t

    def save(self) -> None:
        if self.path:
            import json

            Path(self.path).write_text(json.dumps(self.laps), encoding="utf-8")


def _roster(plan, ref: str | None):
    """``--roster`` if given, else the plan's own roster; a plan without one needs the option."""
    from logic.errors import RosterError

    from .rosters import load_roster

    if ref is None and not plan.roster:
        raise RosterError(
            f"Kế hoạch “{plan.id}” không gắn với danh mục đơn vị nào: "
            "hãy chỉ rõ --roster (mã danh mục có sẵn hoặc tệp .csv/.xlsx)."
        )
    return load_roster(ref if ref is not None else plan.roster)


def _passwords(args) -> dict[str, str]:
    """File name → password; ``*N`` keys are tried on any encrypted file."""
    out: dict[str, str] = {}
    for i, p in enumerate(args.password):
        out[f"*{i}"] = p
    if args.passwords:
        # utf-8-sig: Notepad starts a UTF-8 file with a BOM, which would join the first name
        for line in args.passwords.read_text(encoding="utf-8-sig").splitlines():
            if "\t" in line:
                name, pw = line.split("\t", 1)
                out[name.strip()] = pw
    return out


def _demo(args) -> int:
    from .demo import run_demo

    return run_demo(args.out, args.plan)


def _addin_lite(args) -> int:
    from addin.lite import export_lite

    for path in export_lite(args.out):
        print(f"Đã ghi: {path}")
    return 0


def _addin_serve(args) -> int:
    from addin.serve import main as serve

    argv = ["--port", str(args.port)] + (["--dev-no-auth"] if args.dev_no_auth else [])
    return serve(argv) or 0


def _write_json(path: Path, data: dict) -> None:
    from .consolidate import summary_json
    from .save import save_bytes

    save_bytes(summary_json(data), path)


if __name__ == "__main__":
    run()
