"""UDF round-trip time through the add-in's xlwings Server, with and without the cell fix.

Starts ``addin.serve``'s uvicorn command twice on 127.0.0.1 (once with
``THIDUA_NO_CELL_FIX=1``), posts what Office.js posts when one formula covers a whole
column of ROWS rows, and prints the median time per call and the request size. Functions
(``--function``) and their arguments, the way a report sheet passes them:

- ``TD_DANH_GIA`` / ``TD_CON_THIEU``: indicator codes, the two value columns, the target
  column and the plan carried by a real template (``_thidua!A1:B5``), codes cycling over
  the plan's indicators, every kind of verdict present;
- ``TD_TY_LE``, ``TD_TANG_GIAM``: two number columns;
- ``TD_DOT``: a column of dates (serial numbers) and the carried plan.

Run: ``uv run python benchmarks/udf_roundtrip.py [--function TD_DANH_GIA] [--rows 1 10000]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from addin.serve import server_command, server_env  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(no_cell_fix: bool, token: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    base = {"THIDUA_ADDIN_TOKEN": token, "DOTENV_PATH": str(log.with_suffix(".env"))}
    if no_cell_fix:
        base["THIDUA_NO_CELL_FIX"] = "1"

    env = server_env(base={**os.environ, **base})
    with log.open("wb") as out:
        process = subprocess.Popen(
            server_command(port, log_level="warning"), cwd=ROOT, env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            if httpx.get(url + "/", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not start within 30 s")


PLAN_ID = "uong-bi-2024"


def carried_plan() -> list[list]:
    """``_thidua!A1:B5`` of a real template of ``PLAN_ID``, as Office.js sends it."""
    from openpyxl import load_workbook

    from workbooks.plans import load
    from workbooks.rosters import load_roster
    from workbooks.template import write_template

    plan = load(PLAN_ID)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_template(plan, load_roster(plan.roster), "06808", "1", Path(tmp) / "t.xlsx")
        ws = load_workbook(path)["_thidua"]
        return [[c.value for c in row] for row in ws.iter_rows()]


def arguments(function: str, rows: int, state: list[list]) -> list:
    """The arguments of one call covering ``rows`` rows (each a 2-D list)."""
    from workbooks.plans import load

    plan = load(PLAN_ID)
    inds = plan.reported_indicators
    if function in ("TD_DANH_GIA", "TD_CON_THIEU"):
        codes, v1, v2, target = [], [], [], []
        for r in range(rows):
            ind = inds[r % len(inds)]
            codes.append([ind.code])
            a = float(r % 13)
            v1.append([a])
            v2.append([a + r % 3 if len(ind.components) == 2 else None])
            target.append([None if ind.target.judgeable else float(r % 5)])
        args = [codes, v1, v2, target]
        return [*args, None, state] if function == "TD_CON_THIEU" else [*args, state]
    if function in ("TD_TY_LE", "TD_TANG_GIAM"):
        return [[[float(r % 7)] for r in range(rows)], [[float(r % 9)] for r in range(rows)]]
    if function == "TD_DOT":
        start = (plan.start - dt.date(1899, 12, 30)).days
        return [[[float(start + r % 400)] for r in range(rows)], state]
    raise SystemExit(f"unknown function {function!r}: {', '.join(FUNCTIONS)}")


FUNCTIONS = ("TD_DANH_GIA", "TD_CON_THIEU", "TD_TY_LE", "TD_TANG_GIAM", "TD_DOT")


def body(function: str, args: list) -> dict:
    return {
        "client": "Office.js",
        "func_name": function,
        "args": args,
        "caller_address": "[Book1.xlsx]Sheet1!A1",
        "culture_info_name": "vi-VN",
        "date_format": "dd/MM/yyyy",
        "version": "0.37.8",
        "runtime": "1.4",
    }


def measure(url: str, token: str, payload: dict, repeat: int) -> float:
    with httpx.Client(base_url=url, headers={"Authorization": token}, timeout=120) as client:
        client.post("/xlwings/custom-functions-call", json=payload).raise_for_status()  # warm-up
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            client.post("/xlwings/custom-functions-call", json=payload).raise_for_status()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--function", default="TD_DANH_GIA", choices=FUNCTIONS)
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 10_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    token = secrets.token_urlsafe(24)
    state = carried_plan()
    payloads = {
        rows: body(args.function, arguments(args.function, rows, state)) for rows in args.rows
    }
    results: dict[tuple[bool, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for no_fix in (False, True):
            process, url = start(no_fix, token, Path(tmp) / f"server-{no_fix}.log")
            try:
                for rows in args.rows:
                    results[no_fix, rows] = measure(url, token, payloads[rows], args.repeat)
            finally:
                process.terminate()
                process.wait(timeout=10)

    print(f"{args.function} round trip, median of {args.repeat}, one call per column")
    print(f"{'rows':>8} {'request':>9} {'with fix':>10} {'without':>10} {'speed-up':>9}")
    for rows in args.rows:
        fixed, unfixed = results[False, rows], results[True, rows]
        size = len(json.dumps(payloads[rows]).encode())
        print(
            f"{rows:>8} {size / 1024:>7.0f}KB {fixed * 1000:>8.1f}ms {unfixed * 1000:>8.1f}ms"
            f" {unfixed / fixed:>8.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
