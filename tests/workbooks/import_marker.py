"""Imported by a worker started ahead of need (``isolate.warm_up``): says so in a file.

``$THIDUA_TEST_IMPORT_MARKER`` names the file; each process that imports this module
appends its process id, so a test can tell that the import happened before any batch.
Its functions repeat two of ``test_isolate``'s on purpose: a spawned child that unpickles
them imports only this module, not pytest and the rest, within its memory budget.
"""

import os

_PATH = os.environ.get("THIDUA_TEST_IMPORT_MARKER")
if _PATH:
    with open(_PATH, "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")


def pid(_: object = None) -> int:
    return os.getpid()


def eat_memory(megabytes: int) -> int:
    block = bytearray(megabytes * 1024 * 1024)
    return len(block)
