"""The ASGI app to serve: xlwings Server's ``main_app`` behind a request-size limit.

Development: ``python -m addin.serve``. Deployment (behind an HTTPS reverse proxy):
``XLWINGS_PROJECT_DIR=addin/server uvicorn --factory asgi:build_app --app-dir addin/server``
with the
settings in ``addin/server/.env`` (see ``config.py`` and ``.env.example``).

Refuses to start when ``config.py`` was not loaded or when authentication is on without a
token: both would otherwise fail silently.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MIN_TOKEN_LENGTH = 16


class RequestSizeLimit:
    """ASGI middleware: answer 413 to a request body larger than ``max_bytes``.

    xlwings Server has no such setting, and Excel itself caps a custom-function payload
    at 5 MB. A declared ``Content-Length`` is checked before reading; a chunked body is
    read up to the limit and then handed to the app in one piece (the app reads the whole
    JSON body anyway).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _plain(send, 400, "Invalid Content-Length")
                    return
        if declared is not None and declared > self.max_bytes:
            await _plain(send, 413, self._too_large())
            return
        if declared is not None:
            await self.app(scope, receive, send)  # the server enforces Content-Length
            return
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _plain(send, 413, self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        mb = self.max_bytes / (1024 * 1024)
        return (
            f"Dữ liệu gửi lên quá lớn (tối đa {mb:g} MB). "
            "Hãy chọn vùng ô nhỏ hơn hoặc chia thành nhiều lần."
        )


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def check_settings(settings: Any) -> None:
    """Raise ``RuntimeError`` for settings that would fail silently or leave the door open."""
    if not hasattr(settings, "max_request_bytes"):
        raise RuntimeError(
            "addin/server/config.py was not loaded: set XLWINGS_PROJECT_DIR to addin/server"
        )
    if "custom" in (settings.auth_providers or []):
        token = settings.addin_token.get_secret_value() if settings.addin_token else ""
        if len(token.strip()) < MIN_TOKEN_LENGTH:
            raise RuntimeError(
                f"authentication is on but THIDUA_ADDIN_TOKEN is unset or shorter than "
                f"{MIN_TOKEN_LENGTH} characters (or run `python -m addin.serve --dev-no-auth` "
                "for local development)"
            )


def build_app() -> ASGIApp:
    """Import xlwings Server (reading ``XLWINGS_PROJECT_DIR``) and wrap its app.

    An app factory (``uvicorn --factory asgi:build_app``), so that importing this module
    does not start xlwings Server.
    """
    from xlwings_server.config import settings
    from xlwings_server.main import main_app

    check_settings(settings)
    return RequestSizeLimit(main_app, settings.max_request_bytes)
