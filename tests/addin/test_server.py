"""The add-in through a real xlwings Server (``python -m addin.serve``) on 127.0.0.1.

The plumbing (manifest, auth, limits, errors) with one real function and one real button;
every function and button is exercised in ``test_udfs.py`` and ``test_buttons.py``.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import subprocess
import sys
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from openpyxl import Workbook
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[2]

UDF = "TD_TY_LE"
UDF_DOC = "Tỷ lệ tử số / mẫu số (0,8 là 80%); “Không phát sinh” khi cả hai bằng 0."
UDF_ARG_DOC = "Tử số: số đạt, số đã giải quyết… (một ô hoặc một cột)."
UDF_ARGS = ([[8], [0], [None]], [[10], [0], [5]])
UDF_RESULT = [[0.8], ["Không phát sinh"], [""]]
UDF_BAD_ARGS = ([[1], [2]], [[1], [2], [3]])
UDF_ERROR = (
    "Các vùng phải cùng kích thước (hoặc chỉ là một ô): vùng tử số có 2 dòng × 1 cột, "
    "vùng mẫu số có 3 dòng × 1 cột."
)
SCRIPT = "kiem_tra_bao_cao"
SCRIPT_LABEL = "Kiểm tra báo cáo"
SCRIPT_HELPER = "do_kiem_tra_bao_cao"  # a plain function of addin.buttons: must not be callable
MAX_BYTES = 5 * 1024 * 1024
DAY = dt.date(2025, 2, 3)


@pytest.fixture
def report_xlsx(tmp_path: Path, plan_and_roster) -> Path:
    """A commune's reporting workbook from the template, one figure typed as a word."""
    from workbooks.template import write_template

    plan, roster = plan_and_roster("uong-bi-2024")
    values = {i.code: dict.fromkeys(i.components, 1) for i in plan.reported_indicators}
    values["CT01"] = {"numerator": "tám", "denominator": 10}
    path = tmp_path / "bao-cao.xlsx"
    return write_template(plan, roster, "06808", "1", path, report_date=DAY, values=values)


@pytest.fixture
def toy_xlsx(tmp_path: Path) -> Path:
    """A two-sheet workbook as a commune might send it."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Báo cáo"
    ws["A1"] = "Chỉ tiêu"
    ws["B1"] = "Số liệu"
    ws["A2"] = "Tỷ lệ"
    ws["B2"] = 0.8
    wb.create_sheet("Ghi chú")["C3"] = "xã Đông Sơn"
    path = tmp_path / "bao-cao.xlsx"
    wb.save(path)
    return path


def test_root_and_manifest(server):
    response = server.request("GET", "/manifest")
    assert response.status_code == 200
    assert "Thi đua [dev]" in response.text
    assert "<Id>0bab7224-72b7-4f02-bfcd-436c38cdddc8</Id>" in response.text
    assert f"{server.base_url}/taskpane.html" in response.text
    assert '<bt:String id="Functions.Namespace" DefaultValue="THIDUA_DEV"' in response.text


def test_functions_meta_lists_udf_with_vietnamese_doc(server):
    meta = server.request("GET", "/xlwings/custom-functions-meta").json()
    functions = {f["name"]: f for f in meta["functions"]}
    assert functions[UDF]["description"] == UDF_DOC
    assert functions[UDF]["parameters"][0]["description"] == UDF_ARG_DOC
    assert unicodedata.is_normalized("NFC", functions[UDF]["description"])


def test_scripts_meta_lists_only_scripts(server):
    meta = server.request("GET", "/xlwings/custom-scripts-meta").json()
    names = [m["function_name"] for m in meta]
    assert SCRIPT in names
    assert SCRIPT_HELPER not in names
    assert f"{SCRIPT}_macro" not in names


def test_functions_code_registers_udf(server):
    js = server.request("GET", "/xlwings/custom-functions-code").text
    assert f'CustomFunctions.associate("{UDF}", {UDF});' in js


def test_taskpane_has_a_button_per_script_and_the_token_form(server):
    html = server.request("GET", "/taskpane.html").text
    scripts = server.request("GET", "/xlwings/custom-scripts-meta").json()
    assert html.count("xw-click=") == len(scripts)
    assert f'xw-click="{SCRIPT}"' in html
    assert SCRIPT_LABEL in html
    assert 'id="thidua-token-form"' in html


def test_udf_call_returns_value(call_udf):
    response = call_udf(UDF, *UDF_ARGS)
    assert response.status_code == 200, response.text
    assert response.json() == {"result": UDF_RESULT}


def test_udf_xlwings_error_is_400_with_vietnamese_message(call_udf):
    response = call_udf(UDF, *UDF_BAD_ARGS)
    assert response.status_code == 400
    assert response.text == UDF_ERROR


def test_script_returns_actions(call_script, book_payload, report_xlsx):
    response = call_script(SCRIPT, book_payload(report_xlsx))
    assert response.status_code == 200, response.text
    actions = response.json()["actions"]
    color, note, add = actions[:3]
    assert (color["func"], color["args"], color["start_row"], color["start_column"]) == (
        "setRangeColor",
        ["#FFC7CE"],
        16,
        5,
    )  # F17, 0-based
    assert note["func"] == "addNote" and note["args"][0] == "$F$17"
    assert note["args"][1].startswith("[Lỗi] Chỉ tiêu CT01: “tám”")
    assert (add["func"], add["args"]) == ("addSheet", [3, "Kết quả kiểm tra"])
    assert actions[-1]["func"] == "alert"
    assert "1 lỗi, 0 cảnh báo" in actions[-1]["args"][0]


def test_book_payload_matches_the_workbook(book_payload, toy_xlsx):
    payload = book_payload(toy_xlsx, include=["Báo cáo"])
    first, second = payload["sheets"]
    assert first["values"] == [["Chỉ tiêu", "Số liệu"], ["Tỷ lệ", 0.8]]
    assert first["used_range_address"] == "A1:B2"
    assert second["values"] == [[]]  # not included: sent without values
    assert second["used_range_address"] == "C3:C3"
    full = book_payload(toy_xlsx)["sheets"][1]["values"]
    assert full == [["", "", ""], ["", "", ""], ["", "", "xã Đông Sơn"]]


@pytest.mark.parametrize("name", ["NO_SUCH_FUNCTION", "xw", "runtime", "__class__", "__spec__"])
def test_unknown_function_is_4xx(call_udf, name):
    response = call_udf(name, [[1]])
    assert response.status_code == 400, response.text
    assert f"Không có hàm “{name}” trong add-in" in response.text


@pytest.mark.parametrize("name", ["no_such_script", SCRIPT_HELPER, "xw", "__class__"])
def test_unknown_script_is_4xx(call_script, book_payload, report_xlsx, name):
    response = call_script(name, book_payload(report_xlsx))
    assert response.status_code == 400, response.text
    assert f"Không có lệnh “{name}” trong add-in" in response.text


def test_malformed_body_is_4xx(server):
    response = server.request(
        "POST",
        "/xlwings/custom-functions-call",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize(
    "token", ["", "wrong-token", "Bearer wrong-token"], ids=["none", "wrong", "bearer-wrong"]
)
def test_missing_or_wrong_token_is_401(server, token):
    response = server.call_udf(UDF, *UDF_ARGS, token=token)  # "": no Authorization header
    assert response.status_code == 401
    assert "Mã truy cập add-in" in response.json()["detail"]


def test_bearer_token_is_accepted(server):
    response = server.call_udf(UDF, *UDF_ARGS, token=f"Bearer {server.token}")
    assert response.status_code == 200


def test_no_token_for_scripts_is_401(server, book_payload, report_xlsx):
    with httpx.Client(base_url=server.base_url) as client:
        response = client.post(
            f"/xlwings/custom-scripts-call/{SCRIPT}", json=book_payload(report_xlsx)
        )
    assert response.status_code == 401


def test_oversized_body_is_413(server):
    body = b'{"func_name": "' + b"x" * (MAX_BYTES + 1) + b'"}'
    response = server.request(
        "POST",
        "/xlwings/custom-functions-call",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "quá lớn" in response.text


def test_oversized_chunked_body_is_413(server):
    def chunks():
        for _ in range(6):
            yield b" " * (1024 * 1024)

    response = server.request(
        "POST",
        "/xlwings/custom-functions-call",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_just_under_the_limit_is_served(server, make_udf_body, chunked):
    body = json.dumps(make_udf_body(UDF, *UDF_ARGS)).encode()
    body += b" " * (MAX_BYTES - len(body))  # JSON allows trailing whitespace
    content = iter([body[: len(body) // 2], body[len(body) // 2 :]]) if chunked else body
    response = server.request(
        "POST",
        "/xlwings/custom-functions-call",
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"result": UDF_RESULT}


def test_dev_no_auth_serves_without_token(server_no_auth):
    response = server_no_auth.call_udf(UDF, *UDF_ARGS)
    assert response.status_code == 200
    assert response.json() == {"result": UDF_RESULT}


def _serve(clean_env, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "addin.serve", *args],
        cwd=ROOT,
        env=clean_env(DOTENV_PATH=str(ROOT / "no-such.env"), **env),
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ([], {}, "THIDUA_ADDIN_TOKEN"),
        (["--dev-no-auth", "--host", "0.0.0.0"], {}, "--dev-no-auth"),
        ([], {"XLWINGS_AUTH_PROVIDERS": "[]", "THIDUA_ADDIN_TOKEN": "x" * 20}, "--dev-no-auth"),
    ],
    ids=["no-token", "no-auth-on-public-host", "auth-off-by-env"],
)
def test_serve_refuses_to_start_without_authentication(clean_env, args, env, message):
    done = _serve(clean_env, ["--port", "1", *args], **env)
    assert done.returncode == 2
    assert message in done.stderr


@pytest.fixture(scope="module")
def asgi_module():
    """addin/server/asgi.py, loaded by path (importing it starts nothing)."""
    spec = importlib.util.spec_from_file_location("thidua_asgi", ROOT / "addin/server/asgi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("providers", "token", "problem"),
    [
        (["custom"], None, "THIDUA_ADDIN_TOKEN"),
        (["custom"], "short-token", "shorter than 16"),
        (["custom"], " " * 20, "shorter than 16"),
        (["custom"], "a-long-enough-token", None),
        ([], None, None),
    ],
)
def test_asgi_checks_the_token(asgi_module, providers, token, problem):
    settings = SimpleNamespace(
        auth_providers=providers,
        addin_token=SecretStr(token) if token is not None else None,
        max_request_bytes=MAX_BYTES,
    )
    if problem is None:
        asgi_module.check_settings(settings)
    else:
        with pytest.raises(RuntimeError, match=problem):
            asgi_module.check_settings(settings)


def test_asgi_refuses_xlwings_default_settings(asgi_module):
    with pytest.raises(RuntimeError, match=r"config\.py was not loaded"):
        asgi_module.check_settings(SimpleNamespace(auth_providers=[], addin_token=None))


def test_import_addin_is_runtime_neutral(python_runner):
    """Without XLWINGS_ON_SERVER: plain functions, no xlwings_server, environment untouched,
    and no file-format library (the classic-only module loads ``workbooks`` lazily)."""
    out = python_runner(
        "import json, os, sys\n"
        "import addin, addin.runtime, addin.udfs, addin.buttons, addin.lite, addin.serve\n"
        "import addin.classic, addin.sheets, addin.state, addin.report, addin.assess\n"
        f"print(json.dumps({{'server': 'xlwings_server' in sys.modules,"
        f" 'env': os.environ.get('XLWINGS_ON_SERVER'),"
        f" 'marked': hasattr(addin.udfs.{UDF}, '__xlfunc__'),"
        f" 'files': sorted(m for m in ('openpyxl', 'python_calamine', 'workbooks.reader',"
        f" 'workbooks.consolidate') if m in sys.modules),"
        f" 'value': addin.udfs.{UDF}(*{UDF_ARGS!r})}}))"
    )
    assert out == {
        "server": False,
        "env": None,
        "marked": False,
        "files": [],
        "value": UDF_RESULT,
    }


def test_cell_fix_is_applied_and_can_be_switched_off(python_runner, clean_env):
    code = (
        "import json\n"
        "from addin import runtime\n"
        "applied = runtime.prepare()\n"
        "import xlwings.utils, xlwings.conversion.standard as s\n"
        "print(json.dumps([applied, runtime.cell_fix_applied(), s.is_jsnull is xlwings.utils.is_jsnull,"
        " xlwings.utils.is_jsnull(None)]))"
    )
    assert python_runner(code) == [True, True, True, False]
    assert python_runner(code, env=clean_env(THIDUA_NO_CELL_FIX="1")) == [False, False, True, False]


def test_prepare_refuses_an_xlwings_imported_too_early(python_runner):
    out = python_runner(
        "import json, xlwings\n"
        "from addin import runtime\n"
        "try:\n"
        "    runtime.prepare()\n"
        "except RuntimeError as e:\n"
        "    print(json.dumps(str(e)))\n"
    )
    assert "imported before" in out
