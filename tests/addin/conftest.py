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
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
XLWINGS_VERSION = "0.37.8"
TEST_TOKEN = "thidua-test-token-5f0c2a7e9b"
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without XLWINGS_*/THIDUA_* settings, plus ``extra``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("XLWINGS_", "THIDUA_", "DOTENV_"))
    }
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


@pytest.fixture
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
