"""UDF round-trip time through the add-in's xlwings Server, with and without the cell fix.

Starts ``addin.serve``'s uvicorn command twice on 127.0.0.1 (once with
``THIDUA_NO_CELL_FIX=1``), posts what Office.js posts for a ROWS × COLS range, and prints
the median time per call. Run: ``uv run python benchmarks/udf_roundtrip.py``.
"""

from __future__ import annotations

import argparse
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


def body(function: str, rows: int, cols: int) -> dict:
    values = [[float(r * cols + c) for c in range(cols)] for r in range(rows)]
    return {
        "client": "Office.js",
        "func_name": function,
        "args": [values],
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
    parser.add_argument("--function", default="TD_ECHO_SUM", help="a UDF taking one range")
    parser.add_argument("--cols", type=int, default=10)
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 10_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    token = secrets.token_urlsafe(24)
    results: dict[tuple[bool, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for no_fix in (False, True):
            process, url = start(no_fix, token, Path(tmp) / f"server-{no_fix}.log")
            try:
                for rows in args.rows:
                    payload = body(args.function, rows, args.cols)
                    results[no_fix, rows] = measure(url, token, payload, args.repeat)
            finally:
                process.terminate()
                process.wait(timeout=10)

    print(f"{args.function} round trip, median of {args.repeat}, {args.cols} columns per row")
    print(f"{'rows':>8} {'cells':>9} {'with fix':>10} {'without':>10} {'speed-up':>9}")
    for rows in args.rows:
        fixed, unfixed = results[False, rows], results[True, rows]
        print(
            f"{rows:>8} {rows * args.cols:>9} {fixed * 1000:>8.1f}ms {unfixed * 1000:>8.1f}ms"
            f" {unfixed / fixed:>8.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
