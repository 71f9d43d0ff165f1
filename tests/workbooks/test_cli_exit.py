"""The ``thidua`` command as users run it: the console script, in its own process.

It ends without the interpreter's finalization (``cli.exit_now``): these tests check that
nothing is lost by that: the output printed to a pipe, the files written, the exit code,
and what the exit handlers clean up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest


def _thidua(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("thidua.exe" if os.name == "nt" else "thidua")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "workbooks.cli"]
    return subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        # as a user's shell has it: output to a pipe is block-buffered, not written at once
        env={**{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}, **(env or {})},
    )


def test_the_command_prints_and_writes_everything_before_it_exits(tmp_path):
    demo = _thidua("demo", "--out", str(tmp_path / "demo"))
    assert demo.returncode == 0, demo.stderr
    lines = demo.stdout.strip().splitlines()
    # stdout is a pipe here (block-buffered): its last lines were flushed before the exit
    assert lines[-1].startswith("Thư trả lời soạn sẵn:") and "tệp trong" in lines[-1]
    assert lines[-3] == f"Hộp thư mẫu: {tmp_path / 'demo' / 'hop-thu'}"
    summary = json.loads((tmp_path / "demo" / "tong-hop.json").read_text(encoding="utf-8"))
    assert summary["results"] and summary["inputs"]
    book = openpyxl.load_workbook(tmp_path / "demo" / "tong-hop.xlsx", read_only=True)
    assert "Tổng quan" in book.sheetnames
    # the demo's inbox holds rejected files: exit code 1, as the contract says
    inbox = tmp_path / "demo" / "hop-thu"
    out = tmp_path / "tong-hop.xlsx"
    env = {"THIDUA_CACHE_DIR": str(tmp_path / "cache"), "THIDUA_TIMINGS": str(tmp_path / "t.json")}
    run = _thidua(
        "consolidate", str(inbox), "--out", str(out), "--json", str(tmp_path / "t1.json"), env=env
    )
    assert run.returncode == 1, run.stderr
    assert any(
        r["status"] == "rejected"
        for r in json.loads((tmp_path / "t1.json").read_text(encoding="utf-8"))["inputs"]
    )
    assert f"Bảng tổng hợp: {out}" in run.stdout
    assert set(json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))) >= {
        "consolidate",
        "tally",
        "json",
    }


def test_workers_started_for_nothing_are_stopped_when_the_command_exits(tmp_path):
    """A re-run with everything cached, workers spawned as on Windows: the one started
    ahead is never used; the exit handlers still stop it and remove its log."""
    inbox = tmp_path / "demo" / "hop-thu"
    assert _thidua("demo", "--out", str(tmp_path / "demo")).returncode == 0
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {
        "THIDUA_START_METHOD": "spawn",
        "THIDUA_CACHE_DIR": str(tmp_path / "cache"),
        "TMPDIR": str(temp),
        "TEMP": str(temp),
        "TMP": str(temp),
    }
    for _ in range(2):  # a first run, then a re-run with nothing new to read
        run = _thidua("consolidate", str(inbox), "--out", str(tmp_path / "t.xlsx"), env=env)
        assert run.returncode == 1, run.stderr
        assert not list(temp.glob("thidua-worker-*")), "a worker's log outlived the command"


# Python runs ``sitecustomize`` at start-up in every process, workers too: this one ends a
# worker (spawned, or the fork server it would come from) before it can read anything, as
# a machine's policy or antivirus can.
_NO_WORKERS = """\
import os, sys
if "--multiprocessing-fork" in sys.argv or sys.argv[:1] == ["-c"]:
    os._exit(3)
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_machine_that_cannot_start_workers_gets_one_clear_error(tmp_path, method):
    """Not one report is blamed (nor a reply drafted asking its unit to send it again):
    the command says the machine could not start its readers, and writes nothing."""
    assert _thidua("demo", "--out", str(tmp_path / "demo")).returncode == 0
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_NO_WORKERS, encoding="utf-8")
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {
        "PYTHONPATH": str(site),
        "THIDUA_START_METHOD": method,
        "THIDUA_CACHE_DIR": str(tmp_path / "cache"),
        "TMPDIR": str(temp),
    }
    out, replies = tmp_path / "t.xlsx", tmp_path / "thu"
    args = ["--out", str(out), "--json", str(tmp_path / "t.json"), "--replies", str(replies)]
    run = _thidua("consolidate", str(tmp_path / "demo" / "hop-thu"), *args, env=env)
    assert run.returncode == 2
    assert "Lỗi: Không khởi động được tiến trình đọc tệp: 3 lần liên tiếp" in run.stderr
    assert not out.exists() and not (tmp_path / "t.json").exists() and not replies.exists()
    assert not list(temp.glob("thidua-worker-*"))
