"""Isolated reading: a reader that hangs, dies or eats memory gives a finding, never a crash
of the caller; a batch goes on past a dead worker; a refused file never reaches calamine."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest

from logic.findings import flatten
from tests import hostile
from workbooks.isolate import map_isolated, run_isolated
from workbooks.precheck import precheck

# --- functions the children run (module level: they travel by name) ----------------------


def square(x: int) -> int:
    return x * x


def sleep_then(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def fail(message: str) -> None:
    raise ValueError(message)


def eat_memory(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def abort(_: object = None) -> None:
    os.abort()


def pid(_: object = None) -> int:
    return os.getpid()


def calamine_heights(path: str) -> dict[str, int]:
    """What a careless reader does: python-calamine straight on the bytes."""
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(path)
    return {name: book.get_sheet_by_name(name).height for name in book.sheet_names}


def checked_heights(path: str):
    """What readers do: pre-check first; calamine only ever sees a CheckedWorkbook."""
    result = precheck(Path(path).read_bytes(), Path(path).name)
    if not result.ok:
        return flatten(result.findings)
    book = result.workbook.open_calamine()
    return {name: book.get_sheet_by_name(name).height for name in book.sheet_names}


def mixed(item: tuple[str, object]):
    kind, arg = item
    return {"square": square, "sleep": sleep_then, "fail": fail, "abort": abort}[kind](arg)


# --- one call ------------------------------------------------------------------------------


def test_value_comes_back():
    result = run_isolated(square, 7)
    assert (result.ok, result.value, result.findings) == (True, 49, [])


def test_exception_becomes_parse_crashed():
    result = run_isolated(fail, "hỏng")
    assert flatten(result.findings) == [("parse_crashed", None, None)]
    assert result.findings[0].message == "Trình đọc gặp lỗi khi đọc tệp: ValueError: hỏng."


def test_overrun_is_killed_and_becomes_parse_timeout():
    start = time.perf_counter()
    result = run_isolated(sleep_then, 30, timeout_s=0.5)
    assert time.perf_counter() - start < 5
    assert flatten(result.findings) == [("parse_timeout", None, None)]
    assert result.findings[0].message == "Đọc tệp quá 0,50 giây nên đã dừng."


def test_memory_budget_holds():
    result = run_isolated(eat_memory, 400, memory_mb=200)
    assert flatten(result.findings) == [("parse_crashed", None, None)]
    assert "hết bộ nhớ (giới hạn 200 MB)" in result.findings[0].message
    assert run_isolated(eat_memory, 50, memory_mb=200).value == 50 * 1024 * 1024


def test_death_becomes_parse_crashed():
    result = run_isolated(abort)
    assert flatten(result.findings) == [("parse_crashed", None, None)]
    assert "SIGABRT" in result.findings[0].message


def test_calamine_on_a_far_cell_dies_in_the_child_not_here(tmp_path):
    # the hazard is real: calamine asks for 512 GB and aborts; only the child goes down
    path = hostile.make_far_cell(tmp_path)
    result = run_isolated(calamine_heights, str(path))
    assert flatten(result.findings) == [("parse_crashed", None, None)]


def test_refused_file_never_reaches_calamine(tmp_path):
    # had calamine been given the far cell, the child would have died as above
    far = run_isolated(checked_heights, str(hostile.make_far_cell(tmp_path)))
    assert far.ok
    assert far.value == [("sheet_too_large", "Báo cáo", "XFD1048576")]
    valid = run_isolated(checked_heights, str(hostile.make_valid(tmp_path)))
    assert valid.value == {"Báo cáo": 30}


# --- batches -------------------------------------------------------------------------------


def test_batch_survives_deaths_timeouts_and_failures():
    items = [
        ("square", 2),
        ("abort", None),
        ("square", 3),
        ("sleep", 30),
        ("fail", "x"),
        ("square", 4),
        ("abort", None),
        ("square", 5),
    ]
    # generous budget: a worker's start-up on a loaded machine must not look like an overrun
    results = dict(map_isolated(mixed, items, workers=2, timeout_s=8.0))
    assert sorted(results) == list(range(len(items)))
    codes = {i: [f.code for f in r.findings] for i, r in results.items()}
    assert codes == {
        0: [],
        1: ["parse_crashed"],
        2: [],
        3: ["parse_timeout"],
        4: ["parse_crashed"],
        5: [],
        6: ["parse_crashed"],
        7: [],
    }
    assert [results[i].value for i in (0, 2, 5, 7)] == [4, 9, 16, 25]


def test_workers_are_reused_then_recycled():
    pids = [r.value for _i, r in map_isolated(pid, range(6), workers=1, max_tasks_per_worker=2)]
    assert len(pids) == 6
    assert len(set(pids)) == 3


def test_items_are_consumed_lazily_and_closing_stops_the_workers():
    taken = []

    def items():
        for i in range(1000):
            taken.append(i)
            yield i

    batch = map_isolated(pid, items(), workers=2)
    first = next(batch)
    # a batch or two at a time per worker (one item each at first), not the whole iterator
    assert len(taken) <= 24
    batch.close()
    deadline = time.monotonic() + 5
    while not gone(first[1].value) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(first[1].value), "a worker still runs after close()"


def gone(process_id: int) -> bool:
    try:
        return psutil.Process(process_id).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_slow_consumer_does_not_time_out_finished_work():
    results = []
    for _index, result in map_isolated(sleep_then, [0.05, 0.2], workers=2, timeout_s=4.0):
        if not results:
            time.sleep(5.0)  # past the budget, spent by the consumer while item 1 finished
        results.append(result)
    assert [r.findings for r in results] == [[], []]


def test_unpicklable_function_is_the_callers_mistake():
    with pytest.raises(TypeError, match="picklable"):
        list(map_isolated(lambda x: x, [1], workers=1))


def test_a_thousand_items_all_come_back():
    # the per-item overhead is measured by benchmarks/national.py, not asserted here
    list(map_isolated(square, range(10), workers=2))  # warm the fork server
    results = dict(map_isolated(square, range(1000), workers=2))
    assert [results[i].value for i in range(1000)] == [i * i for i in range(1000)]


# --- batches of many items: one bad item costs only itself --------------------------------


def tagged(item: tuple[str, object]):
    """``mixed`` plus the worker's pid, to see which worker ran what."""
    return mixed(item), os.getpid()


_kept: list[bytes] = []


def leak(megabytes: int) -> int:
    """A reader that keeps memory it allocated (touched: resident, not just reserved)."""
    _kept.append(b"x" * (megabytes * 1024 * 1024))
    return os.getpid()


def squares_with(bad: dict[int, tuple[str, object]], n: int = 100) -> list[tuple[str, object]]:
    return [bad.get(i, ("square", i)) for i in range(n)]


# One worker and batches that grow fast, two queued at a time: 1, 1, 4, 4, 16 (items 10 to
# 25), 16 (26 to 41), then at most half of what is left.
ONE_BATCH = {"workers": 1, "batch_s": 60.0}


def test_a_death_inside_a_batch_costs_only_that_item():
    items = squares_with({25: ("abort", None), 40: ("abort", None)})
    results = dict(map_isolated(tagged, items, timeout_s=30.0, **ONE_BATCH))
    assert sorted(results) == list(range(100))
    failed = {i: flatten(r.findings) for i, r in results.items() if not r.ok}
    assert failed == {25: [("parse_crashed", None, None)], 40: [("parse_crashed", None, None)]}
    assert "SIGABRT" in results[25].findings[0].message
    assert all(results[i].value[0] == i * i for i in results if i not in failed)
    # the batch's items done before the death were lost with the worker and run again
    first_pid = results[0].value[1]
    again = [i for i in range(25) if results[i].value[1] != first_pid]
    assert len(again) > 1, "item 25 was in a batch with the items before it"
    assert again == list(range(again[0], 25))


def test_an_overrun_inside_a_batch_costs_only_that_item():
    items = squares_with({30: ("sleep", 60)})
    start = time.perf_counter()
    # a budget a worker's start-up on a loaded machine stays well within (it counts)
    results = dict(map_isolated(tagged, items, timeout_s=3.0, **ONE_BATCH))
    assert time.perf_counter() - start < 30
    failed = {i: flatten(r.findings) for i, r in results.items() if not r.ok}
    assert failed == {30: [("parse_timeout", None, None)]}
    assert all(results[i].value[0] == i * i for i in results if i != 30)


def test_an_exception_inside_a_batch_is_that_items_finding_and_the_worker_goes_on():
    items = squares_with({30: ("fail", "hỏng")})
    results = dict(map_isolated(tagged, items, **ONE_BATCH))
    assert results[30].findings[0].message == "Trình đọc gặp lỗi khi đọc tệp: ValueError: hỏng."
    pids = {r.value[1] for i, r in results.items() if i != 30}
    assert len(pids) == 1, "an exception is the item's result, not a reason to replace the worker"


def test_memory_exhausted_inside_a_batch_costs_only_that_item():
    items = [("square", i) for i in range(60)]
    items[30] = ("eat", 400)

    results = dict(map_isolated(eat_or_square, items, memory_mb=200, **ONE_BATCH))
    assert sorted(results) == list(range(60))
    failed = {i: r.findings[0].message for i, r in results.items() if not r.ok}
    assert list(failed) == [30] and "hết bộ nhớ (giới hạn 200 MB)" in failed[30]
    assert all(results[i].value == i * i for i in results if i != 30)


def eat_or_square(item: tuple[str, int]) -> int:
    kind, arg = item
    return eat_memory(arg) if kind == "eat" else square(arg)


def test_a_worker_whose_memory_grew_is_replaced():
    pids = [r.value for _i, r in sorted(map_isolated(leak, [1, 250, 1, 1, 1, 1], workers=1))]
    assert pids[0] == pids[1], "the first two calls share a worker"
    assert pids[-1] != pids[1], "the worker that kept 250 MB was not reused"


def test_batches_under_spawn_as_on_windows(monkeypatch):
    """Windows has no fork server: workers are spawned, the batch mark is shared memory
    handed over at start. A death, an overrun and an exception still cost one item each."""
    monkeypatch.setenv("THIDUA_START_METHOD", "spawn")
    items = squares_with({25: ("abort", None), 30: ("sleep", 60), 40: ("fail", "hỏng")})
    results = dict(map_isolated(tagged, items, timeout_s=10.0, **ONE_BATCH))
    assert sorted(results) == list(range(100))
    failed = {i: flatten(r.findings) for i, r in results.items() if not r.ok}
    assert failed == {
        25: [("parse_crashed", None, None)],
        30: [("parse_timeout", None, None)],
        40: [("parse_crashed", None, None)],
    }
    assert all(results[i].value[0] == i * i for i in results if i not in failed)


def test_the_server_can_be_started_by_module_name_before_the_readers_are_imported():
    import subprocess
    import sys

    code = (
        "import sys; from workbooks.isolate import warm_up, map_isolated; "
        "heavy = [m for m in ('pydantic', 'workbooks.reader') if m in sys.modules]; "
        "warm_up('tests.workbooks.test_isolate'); "
        "from tests.workbooks.test_isolate import square; "
        "print(heavy, sorted(r.value for _i, r in map_isolated(square, [1, 2, 3], workers=2)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[] [1, 4, 9]"


def _spawned(code: str, tmp_path: Path, **env: str) -> list:
    """Run ``code`` in a new interpreter that spawns its workers, as on Windows; the last
    line it prints, as Python values."""
    import ast
    import subprocess
    import sys

    env = {**os.environ, "THIDUA_START_METHOD": "spawn", **env}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


def test_spawned_workers_start_ahead_import_the_readers_and_are_the_ones_used(tmp_path):
    """Windows: the workers warm_up starts import the caller's module while the caller
    goes on (collecting the inputs), then map_isolated uses them, not new ones."""
    marker = tmp_path / "imports.txt"
    code = (
        "import time\n"
        "from pathlib import Path\n"
        "from workbooks.isolate import _STANDBY, map_isolated, warm_up\n"
        "warm_up('tests.workbooks.import_marker', workers=2)\n"
        "ahead = sorted(w.process.pid for w in _STANDBY.workers)\n"
        f"marker = Path({str(marker)!r})\n"
        "deadline = time.monotonic() + 30\n"
        "while time.monotonic() < deadline:  # the caller's own work, meanwhile\n"
        "    seen = marker.read_text().split() if marker.exists() else []\n"
        "    if len(seen) == 2:\n"
        "        break\n"
        "    time.sleep(0.05)\n"
        "imported = sorted(map(int, seen))\n"
        "from tests.workbooks.import_marker import pid\n"
        "used = sorted({r.value for _i, r in map_isolated(pid, range(50), workers=2)})\n"
        "print([ahead, imported, used, len(_STANDBY.workers)])\n"
    )
    ahead, imported, used, left = _spawned(code, tmp_path, THIDUA_TEST_IMPORT_MARKER=str(marker))
    assert len(ahead) == 2
    assert imported == ahead, "each worker imported the module before any batch was sent"
    assert used == ahead and left == 0


def test_spawned_workers_nobody_took_are_stopped_at_exit(tmp_path):
    code = (
        "from workbooks.isolate import _STANDBY, warm_up\n"
        "warm_up('tests.workbooks.import_marker', workers=2)\n"
        "warm_up('tests.workbooks.import_marker', workers=2)  # once per process\n"
        "print([[w.process.pid for w in _STANDBY.workers], [w.errpath for w in _STANDBY.workers]])\n"
    )
    pids, logs = _spawned(code, tmp_path)
    assert len(pids) == 2
    assert all(gone(p) for p in pids)
    assert not any(Path(p).exists() for p in logs), "their log files are removed too"


def test_a_spawned_worker_started_ahead_keeps_the_memory_budget(tmp_path):
    code = (
        "from workbooks.isolate import _STANDBY, map_isolated, warm_up\n"
        "warm_up('tests.workbooks.import_marker', workers=1)\n"
        "from tests.workbooks.import_marker import eat_memory\n"
        "out = dict(map_isolated(eat_memory, [400, 50], workers=1))\n"
        "print([[f.message for f in out[0].findings], out[1].value, len(_STANDBY.workers)])\n"
    )
    messages, value, left = _spawned(code, tmp_path, THIDUA_PARSE_MEMORY_MB="200")
    assert left == 0, "the run took the worker started ahead"
    assert len(messages) == 1 and "hết bộ nhớ (giới hạn 200 MB)" in messages[0]
    assert value == 50 * 1024 * 1024


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_workers_that_cannot_start_stop_the_run_with_one_error_and_blame_no_file(tmp_path, method):
    """Every worker dies before its first call (it cannot import the function): no file
    is at fault, so none gets a finding; the run stops after a few tries, not one worker
    started per file, and says why."""
    refusals = tmp_path / "refusals.txt"
    code = (
        "import os\n"
        "os.environ['THIDUA_TEST_REFUSING_PARENT'] = str(os.getpid())\n"
        "from workbooks.isolate import WorkerStartError, map_isolated\n"
        "from tests.workbooks.refused_child import double\n"
        "got = []\n"
        "try:\n"
        "    got += [(i, r.ok) for i, r in map_isolated(double, range(50), workers=2)]\n"
        "    print(['finished', got, ''])\n"
        "except WorkerStartError as e:\n"
        "    print(['stopped', got, str(e)])\n"
    )
    env = {"THIDUA_START_METHOD": method, "THIDUA_TEST_REFUSALS": str(refusals)}
    outcome, got, message = _spawned(code, tmp_path, **env)
    assert (outcome, got) == ("stopped", [])
    assert message.startswith("Không khởi động được tiến trình đọc tệp: 3 lần liên tiếp")
    assert "(ImportError: thidua test: workers may not import this module)" in message
    tries = len(refusals.read_text().split())
    assert 3 <= tries <= 5, f"{tries} workers started for 50 items"


def test_workers_lost_before_their_first_call_cost_no_item(tmp_path):
    """Two workers in a row cannot start, the third can: the run goes on, and no item
    gets a finding for the workers lost (the first item was blamed for them before)."""
    refusals = tmp_path / "refusals.txt"
    code = (
        "import os\n"
        "os.environ['THIDUA_TEST_REFUSING_PARENT'] = str(os.getpid())\n"
        "from workbooks.isolate import map_isolated\n"
        "from tests.workbooks.refused_child import double\n"
        "out = dict(map_isolated(double, range(20), workers=1))\n"
        "rows = [(i, out[i].value, [f.code for f in out[i].findings]) for i in sorted(out)]\n"
        "print(rows)\n"
    )
    env = {"THIDUA_TEST_REFUSALS": str(refusals), "THIDUA_TEST_REFUSE_FIRST": "2"}
    rows = _spawned(code, tmp_path, **env)
    assert len(refusals.read_text().split()) == 2
    assert rows == [(i, 2 * i, []) for i in range(20)]


def test_logs_a_killed_run_left_behind_are_removed_by_the_next(tmp_path):
    """A run killed outright (a console closed mid-run) leaves its workers' logs in the
    temporary folder; the next run that starts a worker removes those a day old, and
    touches nothing else there."""
    temp = tmp_path / "temp"
    temp.mkdir()
    left = [temp / f"thidua-worker-{n}.log" for n in ("a1b2c3", "d4e5f6")]
    fresh, other = temp / "thidua-worker-x9y8z7.log", temp / "thidua-worker-notes.txt"
    for path in [*left, fresh, other]:
        path.write_text("")
    two_days_ago = time.time() - 2 * 86400
    for path in [*left, other]:
        os.utime(path, (two_days_ago, two_days_ago))
    code = (
        "from workbooks.isolate import map_isolated\n"
        "from tests.workbooks.import_marker import pid\n"
        "print(len(list(map_isolated(pid, range(3), workers=1))))\n"
    )
    assert _spawned(code, tmp_path, TMPDIR=str(temp), TEMP=str(temp), TMP=str(temp)) == 3
    assert sorted(p.name for p in temp.iterdir()) == sorted([fresh.name, other.name])
