"""Start the add-in's xlwings Server for development: ``python -m addin.serve``.

Serves ``addin/server`` (``XLWINGS_PROJECT_DIR``) on 127.0.0.1 with authentication on:
every call needs the token from ``THIDUA_ADDIN_TOKEN`` (environment or
``addin/server/.env``). ``--dev-no-auth`` turns authentication off and is refused on a
non-loopback host. Settings: ``addin/server/config.py``. Load the add-in into Excel from
``http://127.0.0.1:PORT/manifest`` (Excel needs HTTPS for anything but local tests).

Exit status: 0 after a normal stop, 2 for bad arguments or a missing token.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

SERVER_DIR = Path(__file__).resolve().parent / "server"
APP = "asgi:build_app"  # an app factory
TOKEN_ENV = "THIDUA_ADDIN_TOKEN"
DEFAULT_PORT = 8000


def server_env(*, no_auth: bool = False, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the server process needs, built on ``base`` (default ``os.environ``).

    Raises ``ValueError`` if ``base`` switches authentication off without ``no_auth``.
    """
    env = dict(os.environ if base is None else base)
    env["XLWINGS_PROJECT_DIR"] = str(SERVER_DIR)
    env.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
    env.setdefault("XLWINGS_ENVIRONMENT", "dev")
    env.setdefault("XLWINGS_ENABLE_SOCKETIO", "false")
    if no_auth:
        env["XLWINGS_AUTH_PROVIDERS"] = "[]"
    else:
        providers = env.setdefault("XLWINGS_AUTH_PROVIDERS", '["custom"]')
        try:
            empty = not json.loads(providers)
        except ValueError:
            empty = False  # let xlwings Server report its own parse error
        if empty:
            raise ValueError(
                "XLWINGS_AUTH_PROVIDERS is empty: use --dev-no-auth to serve without authentication"
            )
    return env


def server_command(port: int, host: str = "127.0.0.1", *, log_level: str = "info") -> list[str]:
    """The uvicorn command line that serves the add-in (run it with :func:`server_env`)."""
    return [
        sys.executable, "-m", "uvicorn", "--factory", APP,
        "--app-dir", str(SERVER_DIR),
        "--host", host, "--port", str(port),
        "--log-level", log_level,
        "--no-server-header",
    ]  # fmt: skip


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the server until it is stopped."""
    parser = argparse.ArgumentParser(
        prog="python -m addin.serve",
        description="Chạy xlwings Server của add-in Thi đua (phát triển) / run the add-in's dev server.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--dev-no-auth",
        action="store_true",
        help="no authentication (only on 127.0.0.1, only for development)",
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    if args.dev_no_auth and not _is_loopback(args.host):
        print("--dev-no-auth chỉ dùng với --host 127.0.0.1.", file=sys.stderr)
        return 2
    try:
        env = server_env(no_auth=args.dev_no_auth)
    except ValueError as e:
        print(str(e), file=sys.stderr)
        return 2
    if not args.dev_no_auth and not env.get(TOKEN_ENV) and not _token_in_dotenv():
        print(
            f"Chưa đặt mã truy cập: đặt biến môi trường {TOKEN_ENV} (hoặc ghi vào "
            f"{SERVER_DIR / '.env'}), hoặc chạy với --dev-no-auth khi phát triển.",
            file=sys.stderr,
        )
        return 2

    # xlwings reads these once, at import: set them before uvicorn imports the app.
    os.environ.update(env)
    import uvicorn

    uvicorn.run(
        APP,
        factory=True,
        app_dir=str(SERVER_DIR),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        server_header=False,
    )
    return 0


def _token_in_dotenv() -> bool:
    # The same file xlwings Server reads: DOTENV_PATH or addin/server/.env.
    dotenv = Path(os.environ.get("DOTENV_PATH", SERVER_DIR / ".env"))
    if not dotenv.is_file():
        return False
    for line in dotenv.read_text("utf-8").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == TOKEN_ENV and value.strip().strip("\"'"):
            return True
    return False


if __name__ == "__main__":
    sys.exit(main())
