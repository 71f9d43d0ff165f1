"""Fixtures for the add-in: a real xlwings Server on 127.0.0.1 and the Office.js protocol.

- ``server`` (session): ``python -m addin.serve`` with authentication on and a test token;
  ``server_no_auth`` (session, started on first use): the same with ``--dev-no-auth``.
- ``call_udf(name, *args2d)`` / ``call_script(name, book_payload)``: POST what the Office.js
  add-in posts, with the token, one fresh httpx client per request (uvicorn drops the
  connection after a 500); they return the ``httpx.Response``.
- ``book_payload(path, include=None)``: the ``book`` body a script receives, built from a
  real ``.xlsx`` with openpyxl (values as Office.js sends them), to feed template workbooks.
- ``run_python(code, env=None)``: run code in a fresh interpreter (for anything that must
  import xlwings with another environment than this test process).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

# Tests here build xlwings' remote books in-process (xw.Book(json=…)), a part of xlwings
# under the PolyForm Noncommercial licence: the key must be set before `import xlwings`.
# Subprocesses get a clean environment (clean_env).
os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")

ROOT = Path(__file__).resolve().parents[2]
XLWINGS_VERSION = "0.37.8"
TEST_TOKEN = "thidua-test-token-5f0c2a7e9b"
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0


#: Compiled modules of the fresh interpreters (server, runners), outside the source tree
#: and the venv: with bytecode writing off and no .pyc in site-packages, every interpreter
#: would compile pandas (imported by xlwings) again, 6 s instead of 2 s per interpreter.
PYCACHE = Path(tempfile.gettempdir()) / f"thidua-test-pycache-{getpass.getuser()}"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without XLWINGS_*/THIDUA_* settings, plus ``extra``;
    bytecode is cached in :data:`PYCACHE`."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("XLWINGS_", "THIDUA_", "DOTENV_"))
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.update(extra)
    return env


def udf_body(name: str, *args: Any) -> dict[str, Any]:
    """The body Office.js posts to /xlwings/custom-functions-call (each arg a 2-D list)."""
    return {
        "client": "Office.js",
        "func_name": name,
        "args": list(args),
        "caller_address": "[Book1.xlsx]Sheet1!D1",
        "culture_info_name": "vi-VN",
        "date_format": "dd/MM/yyyy",
        "version": XLWINGS_VERSION,
        "runtime": "1.4",
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running add-in server."""

    base_url: str
    token: str | None
    process: subprocess.Popen[bytes]
    log: Path

    def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One request with a fresh client; ``token`` defaults to the server's token."""
        headers = dict(kwargs.pop("headers", {}))
        token = self.token if token is None else token
        if token:
            headers["Authorization"] = token
        with httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT) as client:
            return client.request(method, path, headers=headers, **kwargs)

    def call_udf(self, name: str, *args: Any, token: str | None = None) -> httpx.Response:
        return self.request(
            "POST", "/xlwings/custom-functions-call", json=udf_body(name, *args), token=token
        )

    def call_script(
        self, name: str, payload: dict[str, Any], *, token: str | None = None
    ) -> httpx.Response:
        return self.request(
            "POST", f"/xlwings/custom-scripts-call/{name}", json=payload, token=token
        )

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])


def start_server(
    log_dir: Path, *, no_auth: bool = False, extra_env: dict[str, str] | None = None
) -> Server:
    """Start ``python -m addin.serve`` on a free port and wait (bounded) until it answers."""
    port = _free_port()
    empty_dotenv = log_dir / "empty.env"
    empty_dotenv.write_text("")
    # DOTENV_PATH: a developer's addin/server/.env must not change what the tests see.
    env = clean_env(DOTENV_PATH=str(empty_dotenv), **(extra_env or {}))
    command = [sys.executable, "-m", "addin.serve", "--port", str(port), "--log-level", "warning"]
    if no_auth:
        command.append("--dev-no-auth")
    else:
        env["THIDUA_ADDIN_TOKEN"] = TEST_TOKEN
    log = log_dir / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", None if no_auth else TEST_TOKEN, process, log)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.base_url}/", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"server not ready after {START_TIMEOUT} s:\n{server.log_tail()}")
        time.sleep(0.05)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The add-in server with authentication on (token ``TEST_TOKEN``)."""
    running = start_server(tmp_path_factory.mktemp("server"))
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def server_no_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The add-in server started with ``--dev-no-auth``."""
    running = start_server(tmp_path_factory.mktemp("server-no-auth"), no_auth=True)
    yield running
    stop_server(running)


@pytest.fixture
def call_udf(server: Server) -> Callable[..., httpx.Response]:
    return server.call_udf


@pytest.fixture
def call_script(server: Server) -> Callable[..., httpx.Response]:
    return server.call_script


# --- the book payload of a script, from a real .xlsx -----------------------------------


def _js_value(value: Any) -> Any:
    """A cell value as Office.js puts it into the book payload."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat() + "T00:00:00.000Z"
    if isinstance(value, dt.time):
        return "1899-12-30T" + value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 86400
    return value


def book_payload_from_xlsx(
    path: Path,
    *,
    include: list[str] | None = None,
    active: int | None = None,
    selection: str = "A1",
) -> dict[str, Any]:
    """The body Office.js posts to /xlwings/custom-scripts-call for the book at ``path``.

    Like the add-in: each sheet's values run from A1 to the last cell holding a value
    (empty cells ``""``, dates as ISO strings), notes are listed by address only, and
    sheets outside ``include`` are sent without values. Formula cells come with their
    cached value (none in files written by openpyxl: then ``""``). Defined names, tables
    and pictures are not sent (empty lists).
    """
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    wb = load_workbook(path, data_only=True)
    sheets = []
    for ws in wb.worksheets:
        cells = [
            (c.row, c.column)
            for row in ws.iter_rows()
            for c in row
            if c.value is not None and c.value != ""
        ]
        notes = [{"address": c.coordinate} for row in ws.iter_rows() for c in row if c.comment]
        excluded = include is not None and ws.title not in include
        if cells:
            last_row = max(r for r, _ in cells)
            last_col = max(c for _, c in cells)
            first_row = min(r for r, _ in cells)
            first_col = min(c for _, c in cells)
            used = (
                f"{get_column_letter(first_col)}{first_row}:{get_column_letter(last_col)}{last_row}"
            )
            rows, cols = last_row - first_row + 1, last_col - first_col + 1
        else:
            last_row = last_col = 1
            used, rows, cols = None, 0, 0
        if excluded:
            values: list[list[Any]] = [[]]
        else:
            values = [
                [_js_value(ws.cell(r, c).value) for c in range(1, last_col + 1)]
                for r in range(1, last_row + 1)
            ]
        sheets.append(
            {
                "name": ws.title,
                "visibility": {"visible": "Visible", "hidden": "Hidden"}.get(
                    ws.sheet_state, "VeryHidden"
                ),
                "show_gridlines": bool(ws.sheet_view.showGridLines is not False),
                "print_area": None,
                "notes": notes,
                "notes_supported": True,
                "used_range_address": used,
                "used_range_row_count": rows,
                "used_range_column_count": cols,
                "values": values,
                "pictures": [],
                "shapes": [],
                "charts": [],
                "tables": [],
                "pivot_tables": [],
            }
        )
    return {
        "client": "Office.js",
        "version": XLWINGS_VERSION,
        "book": {
            "name": path.name,
            "active_sheet_index": wb.index(wb.active) if active is None else active,
            "selection": selection,
            "calculation": "Automatic",
        },
        "names": [],
        "args": [],
        "sheets": sheets,
    }


@pytest.fixture(scope="session")
def book_payload() -> Callable[..., dict[str, Any]]:
    """``book_payload(path, include=None, active=None, selection="A1")`` → a fresh payload."""
    return book_payload_from_xlsx


# --- fresh interpreters ----------------------------------------------------------------


def run_python(code: str, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
    """Run ``code`` in a fresh interpreter at the project root; return the JSON it prints last."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(f"subprocess failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session", name="clean_env")
def clean_env_fixture() -> Callable[..., dict[str, str]]:
    """``clean_env(**extra)`` → this environment without XLWINGS_*/THIDUA_* settings."""
    return clean_env


@pytest.fixture(scope="session")
def python_runner() -> Callable[..., Any]:
    return run_python


@pytest.fixture(scope="session")
def make_udf_body() -> Callable[..., dict[str, Any]]:
    """``make_udf_body(name, *args2d)`` → the custom-function call body Office.js posts."""
    return udf_body


# --- reporting workbooks made by the project's own template ------------------------------


@pytest.fixture(scope="session")
def plan_and_roster() -> Callable[[str], tuple[Any, Any]]:
    """``plan_and_roster(plan_id)`` → (bundled plan, its bundled roster), loaded once."""
    from workbooks.plans import load
    from workbooks.rosters import load_roster

    cache: dict[str, tuple[Any, Any]] = {}

    def get(plan_id: str) -> tuple[Any, Any]:
        if plan_id not in cache:
            plan = load(plan_id)
            cache[plan_id] = (plan, load_roster(plan.roster) if plan.roster else None)
        return cache[plan_id]

    return get


def combine_reports(
    paths: list[Path], out: Path, *, edit: Callable[[Any], None] | None = None
) -> Path:
    """One workbook holding the report sheet of each template in ``paths`` (values and
    formulas, as a district clerk pastes them), the first template's other sheets
    ("Hướng dẫn", the hidden "_thidua") kept. ``edit(workbook)`` may change it before saving.
    """
    from openpyxl import load_workbook

    wb = load_workbook(paths[0])
    for i, path in enumerate(paths[1:], start=1):
        src = load_workbook(path).worksheets[0]
        ws = wb.create_sheet(src.title, i)
        for row in src.iter_rows():
            for c in row:
                if c.value is not None:
                    ws.cell(c.row, c.column, c.value)
    if edit is not None:
        edit(wb)
    wb.save(out)
    return out


@pytest.fixture(scope="session", name="combine_reports")
def combine_reports_fixture() -> Callable[..., Path]:
    """``combine_reports(paths, out, edit=None)``: see :func:`combine_reports`."""
    return combine_reports


def grid_of(path: Path, sheet: str | int = 0) -> list[list[Any]]:
    """A sheet's values from A1 as Office.js sends a range argument (empty cells None)."""
    from openpyxl import load_workbook

    wb = load_workbook(path, data_only=True)
    ws = wb.worksheets[sheet] if isinstance(sheet, int) else wb[sheet]
    rows = []
    for row in ws.iter_rows():
        rows.append([_udf_value(c.value) for c in row])
    return rows


def _udf_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        day = value.date() if isinstance(value, dt.datetime) else value
        return float((day - dt.date(1899, 12, 30)).days)
    return value


@pytest.fixture(scope="session", name="grid_of")
def grid_of_fixture() -> Callable[..., list[list[Any]]]:
    """``grid_of(path, sheet=0)`` → the sheet's values as a custom function receives them."""
    return grid_of


# --- the same calls without HTTP: in-process (modules) and xlwings Lite (main.py) --------

RUN_CASES = r"""
import asyncio, copy, json, sys
from pathlib import Path
MODE, CASES, MAIN, ROOT = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
if MODE == "lite":
    import importlib.util
    root = Path(ROOT).resolve()
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != root]
    sys.path_importer_cache.clear()
    assert importlib.util.find_spec("addin") is None, "the project is still importable"
    spec = importlib.util.spec_from_file_location("main", MAIN)
    main = importlib.util.module_from_spec(spec)
    sys.modules["main"] = main
    spec.loader.exec_module(main)
    funcs = scripts = main
else:
    from addin import runtime
    runtime.prepare()
    import addin.udfs as funcs, addin.buttons as scripts
import xlwings as xw
import xlwings.server
out = []
for case in json.loads(Path(CASES).read_text("utf-8")):
    try:
        if case["kind"] == "udf":
            result = asyncio.run(xlwings.server.custom_functions_call(case["body"], funcs))
            out.append({"status": 200, "json": {"result": result}})
        else:
            book = xw.Book(json=copy.deepcopy(case["body"]))
            book = asyncio.run(xlwings.server.custom_scripts_call(
                scripts, case["name"], typehint_to_value={xw.Book: book}))
            out.append({"status": 200, "json": book.json()})
    except xw.XlwingsError as e:
        out.append({"status": 400, "text": str(e)})
print(json.dumps({
    "answers": out,
    "functions": sorted(f["name"] for f in xlwings.server.custom_functions_meta(funcs)["functions"]),
    "scripts": sorted(m["function_name"] for m in xlwings.server.custom_scripts_meta(scripts)),
}))
"""


def run_cases(
    cases: list[dict[str, Any]], tmp: Path, *, lite_main: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run UDF and script cases without HTTP, in-process and as xlwings Lite; one answer
    per case from each.

    A case is ``{"kind": "udf", "body": …}`` or ``{"kind": "script", "name": …, "body":
    book payload}``. Two fresh interpreters run side by side: the project's modules after
    ``addin.runtime.prepare()`` (what xlwings Server runs), and ``lite_main`` in an
    interpreter that cannot import the project, in server mode (what xlwings Lite runs).
    Each gives ``{"answers": [one per case, shaped as by http_answer], "functions":
    [names it registers], "scripts": [names]}``.
    """
    cases_file = tmp / "cases.json"
    cases_file.write_text(json.dumps(cases), encoding="utf-8")
    procs = []
    for mode in ("modules", "lite"):
        env = clean_env()
        if mode == "lite":
            env.update(XLWINGS_ON_SERVER="true", XLWINGS_LICENSE_KEY="noncommercial")
        command = [
            sys.executable,
            "-c",
            RUN_CASES,
            mode,
            str(cases_file),
            str(lite_main),
            str(ROOT),
        ]
        procs.append(
            subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, encoding="utf-8",
            )
        )  # fmt: skip
    answers = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        if proc.returncode != 0:
            raise AssertionError(f"subprocess failed ({proc.returncode}):\n{err[-4000:]}")
        answers.append(json.loads(out.strip().splitlines()[-1]))
    return answers[0], answers[1]


def http_answer(response: httpx.Response) -> dict[str, Any]:
    """A server response in the shape :func:`run_cases` answers."""
    if response.status_code == 200:
        return {"status": 200, "json": response.json()}
    return {"status": response.status_code, "text": response.text}


@pytest.fixture(scope="session", name="run_cases")
def run_cases_fixture() -> Callable[..., tuple[dict[str, Any], dict[str, Any]]]:
    return run_cases


@pytest.fixture(scope="session", name="http_answer")
def http_answer_fixture() -> Callable[[httpx.Response], dict[str, Any]]:
    return http_answer
