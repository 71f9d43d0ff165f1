"""Entry module xlwings Server imports for custom functions: every ``@xw.func`` of
``addin.udfs`` and nothing else (see ``addin.runtime.expose_only``)."""

try:
    from addin import runtime
except ModuleNotFoundError as e:
    # xlwings Server would swallow a ModuleNotFoundError and serve its own examples.
    raise RuntimeError("cannot import the thidua package `addin`: install the project") from e

runtime.prepare()

from addin.udfs import *  # noqa: E402, F403

runtime.expose_only(__name__, "__xlfunc__")
