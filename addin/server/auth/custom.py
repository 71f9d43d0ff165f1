"""The ``custom`` auth provider: one shared access token, ``THIDUA_ADDIN_TOKEN``.

The task pane stores the token the user pasted (``static/js/main.js``) and sends it in the
``Authorization`` header with every call (``static/js/auth.js``); a plain token and
``Bearer <token>`` are both accepted. No token configured means every request is refused.
"""

from __future__ import annotations

import secrets

from fastapi import HTTPException, status
from xlwings_server.config import settings
from xlwings_server.models import User


async def validate_token(token_string: str) -> User:
    """Return the add-in user for the right token; 401 with a Vietnamese message otherwise."""
    expected = settings.addin_token.get_secret_value() if settings.addin_token else ""
    token = token_string.strip().removeprefix("Bearer ").strip()
    if expected and token and secrets.compare_digest(token.encode(), expected.encode()):
        return User(id="thidua-addin", name="Người dùng add-in Thi đua")
    raise HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Mã truy cập add-in chưa nhập hoặc không đúng: nhập lại mã trong khung Thi đua.",
    )
