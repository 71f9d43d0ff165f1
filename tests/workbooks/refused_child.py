"""A module workers cannot import: a machine where the reading workers cannot start.

Only the process named by ``$THIDUA_TEST_REFUSING_PARENT`` imports it; any other (the fork
server, a spawned or forked worker) raises, as a worker does when it cannot import what it
must run, for the first ``$THIDUA_TEST_REFUSE_FIRST`` tries (default: every try). Each
refusal appends a line to ``$THIDUA_TEST_REFUSALS``, so a test can count them.
"""

import os

if os.environ.get("THIDUA_TEST_REFUSING_PARENT") != str(os.getpid()):
    _path = os.environ["THIDUA_TEST_REFUSALS"]
    _first = int(os.environ.get("THIDUA_TEST_REFUSE_FIRST", "1000000"))
    _done = 0
    if os.path.exists(_path):
        with open(_path, encoding="utf-8") as fh:
            _done = len(fh.read().split())
    if _done < _first:
        with open(_path, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        raise ImportError("thidua test: workers may not import this module")


def double(x: int) -> int:
    return 2 * x
