"""Runtime setup for the add-in: one set of functions, three runtimes.

- **xlwings Server** (Office.js): the server's entry modules (``addin/server/
  custom_functions.py``, ``custom_scripts.py``) call :func:`prepare` and then
  :func:`expose_only`. ``addin.serve`` sets the environment before xlwings is imported.
- **xlwings Lite** (Pyodide): Lite imports xlwings itself; :func:`prepare` does nothing
  there (``sys.platform == "emscripten"``).
- **Classic Windows add-in** (COM): the UDF and button modules are imported directly and
  nothing here is needed.

Import only the standard library at module level: ``import addin`` must stay cheap and
runtime-neutral (no xlwings_server, no server-only environment variables).

Environment variables read here:

- ``THIDUA_NO_CELL_FIX=1`` leaves xlwings' per-cell Pyodide check in place (for measuring
  the fix, see ``benchmarks/udf_roundtrip.py``).
"""

from __future__ import annotations

import functools
import os
import sys
from types import ModuleType

LICENSE_KEY = "noncommercial"
"""xlwings' PRO parts (server, Office.js engine) are PolyForm Noncommercial."""

NO_CELL_FIX_ENV = "THIDUA_NO_CELL_FIX"


def on_pyodide() -> bool:
    """True inside Pyodide (xlwings Lite), where xlwings sets itself up."""
    return sys.platform == "emscripten"


def configure_environment(*, on_server: bool = True) -> None:
    """Set the variables xlwings reads once, at ``import xlwings``.

    Sets ``XLWINGS_LICENSE_KEY`` (if unset) and, with ``on_server``, ``XLWINGS_ON_SERVER``,
    which turns ``xw.func``/``xw.script`` into the Office.js decorators. Raises
    ``RuntimeError`` if xlwings was already imported without them: its decorators would
    then be no-ops and no function would be registered, silently.
    """
    if on_pyodide():
        return
    os.environ.setdefault("XLWINGS_LICENSE_KEY", LICENSE_KEY)
    if on_server:
        os.environ["XLWINGS_ON_SERVER"] = "true"
    xw = sys.modules.get("xlwings")
    if xw is None or not on_server:
        return
    if not getattr(xw, "on_server", False) or not getattr(xw, "__pro__", False):
        raise RuntimeError(
            "xlwings was imported before addin.runtime.configure_environment(): set "
            "XLWINGS_ON_SERVER=true and XLWINGS_LICENSE_KEY before `import xlwings` "
            "(addin.serve does this for the server)."
        )


def _never_jsnull(value: object) -> bool:
    """Stand-in for ``xlwings.utils.is_jsnull`` outside Pyodide: nothing is a JsNull there."""
    return False


def apply_cell_fix() -> bool:
    """Stop xlwings from retrying a failing ``pyodide`` import for every cell it converts.

    xlwings 0.37.8 calls ``utils.is_jsnull`` per cell of every custom-function argument
    and that function tries ``from pyodide.ffi import JsNull`` each time; on CPython the
    import fails every time and dominates large calls (through the server, 100,000
    cells: 10.6 s without, 0.11 s with this fix). Outside Pyodide no value can be a
    ``JsNull``, so the check is replaced by one that returns False. Inside Pyodide, or
    with ``THIDUA_NO_CELL_FIX=1``, nothing changes. Returns whether the fix is in place.
    Idempotent.
    """
    if on_pyodide():
        return False
    if os.environ.get(NO_CELL_FIX_ENV) == "1":
        return cell_fix_applied()
    import xlwings.conversion.standard as standard
    import xlwings.utils as utils

    # conversion.standard did `from ..utils import is_jsnull`: patch both names.
    for module in (utils, standard):
        if hasattr(module, "is_jsnull"):
            module.is_jsnull = _never_jsnull
    return True


def cell_fix_applied() -> bool:
    """Whether :func:`apply_cell_fix` replaced the per-cell check in this process."""
    import xlwings.utils as utils

    return utils.is_jsnull is _never_jsnull


def prepare(*, on_server: bool = True) -> bool:
    """Environment plus cell fix, in that order; call before importing the add-in modules.

    Returns whether the cell fix is in place (always False in Pyodide).
    """
    configure_environment(on_server=on_server)
    if on_pyodide():
        return False
    return apply_cell_fix()


def expose_only(module: ModuleType | str, marker: str) -> list[str]:
    """Publish in place of ``module`` only its public names carrying ``marker``; return them.

    xlwings Server looks up ``getattr(custom_functions, name)`` with the name from the
    request. On the module itself, a star-import would expose helpers and imported names
    (``xw``, a plain function) as callable scripts, and a name that is no entry (unknown,
    or ``__spec__``) would end in an ``AttributeError``: a 500, which the add-in retries.
    So ``sys.modules`` gets an :class:`EntryPoints` object instead of the module (the
    import statement then returns it): it has the entries as attributes and nothing
    else; any other name raises an :func:`unknown_entry_error` (HTTP 400).
    """
    if isinstance(module, str):
        module = sys.modules[module]
    entries = {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_") and hasattr(value, marker)
    }
    what = "hàm" if marker == "__xlfunc__" else "lệnh"
    sys.modules[module.__name__] = EntryPoints(module.__name__, entries, what)
    return sorted(entries)


class EntryPoints:
    """The functions or scripts a runtime may call by name, and no other attribute."""

    __slots__ = ("_entries", "_name", "_what")

    def __init__(self, name: str, entries: dict[str, object], what: str) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_entries", dict(entries))
        object.__setattr__(self, "_what", what)

    def __getattribute__(self, name: str) -> object:
        entries = object.__getattribute__(self, "_entries")
        if name in entries:
            return entries[name]
        raise unknown_entry_error(object.__getattribute__(self, "_what"), name)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("entry points are read-only")

    def __dir__(self) -> list[str]:
        return sorted(object.__getattribute__(self, "_entries"))

    def __repr__(self) -> str:
        name = object.__getattribute__(self, "_name")
        return f"<EntryPoints {name}: {', '.join(EntryPoints.__dir__(self))}>"


@functools.cache
def _unknown_entry_class() -> type[Exception]:
    import xlwings as xw

    class UnknownEntryError(xw.XlwingsError, AttributeError):
        """An unknown function or script name (the user's add-in is out of date)."""

    return UnknownEntryError


def unknown_entry_error(what: str, name: str) -> Exception:
    """The error for a function or script name the add-in does not have (Vietnamese)."""
    shown = name if len(name) <= 80 else name[:80] + "…"
    return _unknown_entry_class()(
        f"Không có {what} “{shown}” trong add-in. Hãy tải lại add-in (đóng và mở lại Excel)."
    )
