"""Export the add-in for xlwings Lite: a self-contained ``main.py`` and a ``requirements.txt``.

xlwings Lite installs packages from PyPI only and runs one ``main.py``; this project is not
on PyPI. So ``main.py`` carries the source of every pure module the add-in needs (all of
``logic``, the ``addin`` modules reachable from the UDF and button modules) as text,
serves them through an import hook, and star-imports the UDF and button modules. Modules
keep their own names and namespaces and import lazily in their natural order, exactly as
from files; tracebacks show ``<thidua>/logic/….py`` with the source line.

Of ``workbooks`` (files, readers, writers) only the pure modules the add-in shares with
the batch command are embedded: ``workbooks.layout`` (the report sheet as data) and
``workbooks.locate`` (finding the report in a grid), with the empty package module. Any
other ``workbooks`` import, or one of theirs beyond ``logic`` and the standard library, is
refused. ``addin.classic`` (the classic-only folder consolidation) is not reachable from
the entry modules and never embedded.

``requirements.txt`` lists xlwings (pinned) and the third-party packages those modules
import: pinned to the installed version, except packages Pyodide builds itself (pydantic,
pandas, numpy…), whose version Pyodide decides.

Use: ``python -m addin.lite OUT_DIR`` or :func:`export_lite`.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRY_MODULES = ("addin.udfs", "addin.buttons")
ALWAYS_PACKAGES = ("logic",)
LOCAL_PACKAGES = ("logic", "addin", "workbooks")
#: The only ``workbooks`` modules that may be embedded (pure: logic and stdlib only).
ALLOWED_WORKBOOKS = frozenset({"workbooks", "workbooks.layout", "workbooks.locate"})
FORBIDDEN = ("xlwings_server", "openpyxl", "python_calamine", "uvicorn")
# Built by Pyodide (compiled or tied to compiled parts): never pin.
PYODIDE_PROVIDED = frozenset(
    {"pydantic", "pydantic-core", "numpy", "pandas", "python-dateutil", "pytz", "tzdata"}
)
IMPORTER_NAME = "_ThiduaEmbeddedModules"


class LiteExportError(Exception):
    """The add-in cannot be exported for xlwings Lite (names the module and the import)."""


@dataclass(frozen=True)
class EmbeddedModule:
    """One module's source, as it goes into ``main.py``."""

    name: str
    is_package: bool
    path: Path
    source: str


def export_lite(out_dir: Path | str, *, root: Path = ROOT) -> list[Path]:
    """Write ``main.py`` and ``requirements.txt`` for xlwings Lite into ``out_dir``.

    ``root`` holds the ``logic`` and ``addin`` packages (default: this project). Returns
    the two paths. Raises :class:`LiteExportError` if an embedded module imports
    something that cannot run in xlwings Lite (``workbooks``, ``xlwings_server``, …).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    modules = collect_modules(root=root)
    main_py = out / "main.py"
    requirements = out / "requirements.txt"
    main_py.write_text(render_main(modules), encoding="utf-8", newline="\n")
    requirements.write_text(render_requirements(modules), encoding="utf-8", newline="\n")
    return [main_py, requirements]


def collect_modules(
    entries: tuple[str, ...] = ENTRY_MODULES, root: Path = ROOT
) -> list[EmbeddedModule]:
    """The modules to embed, each after the local modules it imports (when no cycle)."""
    names: list[str] = []
    for package in ALWAYS_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                names.append(_module_name(path, root))
    names.extend(entries)
    modules: dict[str, EmbeddedModule] = {}
    imports: dict[str, list[str]] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in modules:
            continue
        module = _load(name, root)
        modules[name] = module
        imports[name] = [dep for dep in _local_imports(module, root) if dep != name]
        pending.extend(imports[name])
        pending.extend(_parents(name))

    ordered: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str) -> None:
        if state.get(name):
            return  # done, or a cycle: the import hook copes with any order
        state[name] = "visiting"
        for dep in sorted(set(_parents(name)) | set(imports[name])):
            visit(dep)
        state[name] = "done"
        ordered.append(name)

    for name in [*names, *sorted(modules)]:
        visit(name)
    return [modules[name] for name in ordered]


def third_party_imports(modules: list[EmbeddedModule]) -> set[str]:
    """Top-level names of non-standard, non-local modules the embedded modules import."""
    found = set()
    for module in modules:
        for name, level in _imports(module):
            top = name.split(".")[0]
            if level or not top or top in LOCAL_PACKAGES or top == "__future__":
                continue
            if top in sys.stdlib_module_names:
                continue
            found.add(top)
    return found


def render_requirements(modules: list[EmbeddedModule]) -> str:
    """``requirements.txt`` for xlwings Lite."""
    import_to_dists = metadata.packages_distributions()
    lines = [
        "# xlwings Lite: paste into the requirements.txt tab (generated by `python -m addin.lite`).",
        f"xlwings=={metadata.version('xlwings')}",
    ]
    dists: set[str] = set()
    for top in sorted(third_party_imports(modules) - {"xlwings"}):
        candidates = import_to_dists.get(top)
        if not candidates:
            raise LiteExportError(f"no installed distribution provides the module {top!r}")
        dists.update(candidates)
    for dist in sorted(dists, key=str.lower):
        if _canonical(dist) in PYODIDE_PROVIDED:
            lines.append(_canonical(dist))
        else:
            lines.append(f"{_canonical(dist)}=={metadata.version(dist)}")
    return "\n".join(lines) + "\n"


def render_main(modules: list[EmbeddedModule]) -> str:
    """The self-contained ``main.py``."""
    parts = [_MAIN_HEADER.format(modules=", ".join(m.name for m in modules))]
    parts.append("_THIDUA_SOURCES = {\n")
    for module in modules:
        parts.append(f"    {module.name!r}: ({module.is_package!r}, (\n")
        lines = module.source.splitlines(keepends=True) or [""]
        parts.extend(f"        {line!r}\n" for line in lines)
        parts.append("    )),\n")
    parts.append("}\n")
    parts.append(_MAIN_LOADER.replace("IMPORTER_NAME", IMPORTER_NAME))
    parts.append("\n# The add-in: xlwings Lite registers every @func and @script found here.\n")
    parts.extend(f"from {entry} import *  # noqa: F403\n" for entry in ENTRY_MODULES)
    return "".join(parts)


_MAIN_HEADER = '''\
"""Thi đua add-in for xlwings Lite. Generated by `python -m addin.lite`: do not edit here.

Paste this file into the main.py tab of xlwings Lite and requirements.txt into its tab.
It carries the source of these modules of the thidua project and imports them through
an import hook: {modules}.
"""

import importlib.abc
import importlib.util
import sys

'''

_MAIN_LOADER = '''

class IMPORTER_NAME(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the modules embedded above, as if they were files."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _THIDUA_SOURCES:
            return None
        is_package = _THIDUA_SOURCES[fullname][0]
        return importlib.util.spec_from_loader(fullname, self, is_package=is_package)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        code = compile(self.get_source(module.__name__), self._filename(module.__name__), "exec",
                       dont_inherit=True)
        module.__file__ = self._filename(module.__name__)
        exec(code, module.__dict__)

    def get_source(self, fullname):
        return "".join(_THIDUA_SOURCES[fullname][1])

    def _filename(self, fullname):
        suffix = "/__init__.py" if _THIDUA_SOURCES[fullname][0] else ".py"
        return "<thidua>/" + fullname.replace(".", "/") + suffix


def _thidua_install():
    # Running main.py again (after an edit) must not keep modules from the previous run.
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "IMPORTER_NAME"]
    for name in list(sys.modules):
        loader = getattr(getattr(sys.modules[name], "__spec__", None), "loader", None)
        if type(loader).__name__ == "IMPORTER_NAME":
            del sys.modules[name]
    sys.meta_path.insert(0, IMPORTER_NAME())


_thidua_install()
'''


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _module_path(name: str, root: Path) -> tuple[Path, bool] | None:
    base = root.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py", True
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py"), False
    return None


def _load(name: str, root: Path) -> EmbeddedModule:
    found = _module_path(name, root)
    if found is None:
        raise LiteExportError(f"module {name!r} not found under {root}")
    path, is_package = found
    return EmbeddedModule(name, is_package, path, path.read_text(encoding="utf-8"))


class _ImportCollector(ast.NodeVisitor):
    """Every import in a module, also inside functions, except under ``TYPE_CHECKING``."""

    def __init__(self) -> None:
        self.found: list[tuple[str, int, list[str]]] = []

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append((alias.name, 0, []))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.found.append((node.module or "", node.level, [a.name for a in node.names]))


def _imports(module: EmbeddedModule) -> list[tuple[str, int]]:
    """(absolute or relative module name, level) of each import in ``module``."""
    collector = _ImportCollector()
    collector.visit(ast.parse(module.source, filename=str(module.path)))
    return [(name, level) for name, level, _ in collector.found]


def _local_imports(module: EmbeddedModule, root: Path) -> list[str]:
    """Local modules ``module`` imports (``from pkg import sub`` counts ``pkg.sub``)."""
    collector = _ImportCollector()
    collector.visit(ast.parse(module.source, filename=str(module.path)))
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    result = []
    for name, level, names in collector.found:
        if level:
            base = package.split(".")[: len(package.split(".")) - (level - 1)]
            absolute = ".".join([*base, name] if name else base)
        else:
            absolute = name
        top = absolute.split(".")[0]
        if top in FORBIDDEN:
            raise LiteExportError(
                f"{module.name} imports {absolute}, which cannot run in xlwings Lite"
            )
        if top not in LOCAL_PACKAGES:
            continue
        if _module_path(absolute, root) is None:
            raise LiteExportError(f"{module.name} imports {absolute}, which does not exist")
        found = [absolute]
        for alias in names:
            if alias != "*" and _module_path(f"{absolute}.{alias}", root) is not None:
                found.append(f"{absolute}.{alias}")
        for name in found:
            if name.split(".")[0] == "workbooks" and name not in ALLOWED_WORKBOOKS:
                raise LiteExportError(
                    f"{module.name} imports {name}, which cannot run in xlwings Lite (of "
                    f"workbooks only {', '.join(sorted(ALLOWED_WORKBOOKS - {'workbooks'}))} "
                    "are pure)"
                )
        result.extend(found)
    return result


def _canonical(dist: str) -> str:
    return dist.lower().replace("_", "-").replace(".", "-")


def main(argv: list[str] | None = None) -> int:
    """``python -m addin.lite OUT_DIR``: write the two files and print their paths."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m addin.lite OUT_DIR", file=sys.stderr)
        return 2
    try:
        paths = export_lite(args[0])
    except LiteExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
