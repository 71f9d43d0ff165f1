"""Entry module xlwings Server imports for scripts: every ``@xw.script`` of
``addin.buttons`` and nothing else (see ``addin.runtime.expose_only``).

Also hands the script list to the task pane template, which shows one button per script,
labelled with the first line of its docstring.
"""

try:
    from addin import runtime
except ModuleNotFoundError as e:
    # xlwings Server would swallow a ModuleNotFoundError and serve its own examples.
    raise RuntimeError("cannot import the thidua package `addin`: install the project") from e

runtime.prepare()

from addin.buttons import *  # noqa: E402, F403

_names = runtime.expose_only(__name__, "__xlscript__")


def _task_pane_buttons() -> list[dict[str, str]]:
    buttons = []
    for name in _names:
        doc = (globals()[name].__doc__ or "").strip()
        buttons.append({"name": name, "label": doc.splitlines()[0] if doc else name})
    return buttons


def _register_buttons() -> None:
    from xlwings_server.templates import templates

    templates.env.globals["thidua_scripts"] = _task_pane_buttons()


_register_buttons()
