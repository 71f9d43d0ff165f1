"""xlwings Server settings of the Thi đua add-in: the one place to configure the server.

xlwings Server imports this module as ``config`` (``XLWINGS_PROJECT_DIR`` = this folder)
and uses its ``Settings`` instead of its own; a failure to import would silently fall
back to xlwings' defaults (no authentication), so ``asgi.py`` refuses to start then.

Precedence, highest first (pydantic-settings, inherited from xlwings Server):

1. environment variables ``XLWINGS_*`` (``addin.serve`` sets a few for the dev server),
2. ``addin/server/.env`` (not committed: deployment settings and the token),
3. the defaults below, then xlwings Server's own defaults.

Settings that matter for a deployment:

- ``THIDUA_ADDIN_TOKEN`` (env or ``.env``): the shared access token users paste into the
  task pane; required while authentication is on (the default).
- ``XLWINGS_AUTH_PROVIDERS``: ``["custom"]`` (default, the token above; see ``auth/``),
  ``["entraid"]`` with ``XLWINGS_AUTH_ENTRAID_CLIENT_ID``/``_TENANT_ID``, or ``[]`` for
  no authentication (only ``python -m addin.serve --dev-no-auth`` on 127.0.0.1).
- ``XLWINGS_ENVIRONMENT``: ``dev`` (add-in "Thi đua [dev]", functions
  ``THIDUA_DEV.*``) or ``prod``; each has its own manifest id below.
- ``XLWINGS_MAX_REQUEST_BYTES``: larger request bodies get 413 (default 5 MiB, Excel's
  own limit for a custom-function payload).
- ``XLWINGS_CORS_ALLOW_ORIGINS``: ``["*"]`` is needed for custom functions in Excel on
  the web; empty by default.
- ``XLWINGS_HOSTNAME``: the public host name if the manifest URLs come out wrong
  behind a reverse proxy.
"""

from __future__ import annotations

from pydantic import UUID4, Field, SecretStr
from xlwings_server.config import Settings as XlwingsSettings

MAX_REQUEST_BYTES = 5 * 1024 * 1024


class Settings(XlwingsSettings):
    """xlwings Server settings with this project's defaults and its own two fields."""

    project_name: str = "Thi đua"
    functions_namespace: str = "THIDUA"
    auth_providers: list[str] | None = Field(default_factory=lambda: ["custom"])
    enable_socketio: bool = False
    license_key: str | None = "noncommercial"
    # Own ids, so that the add-in never collides with another xlwings add-in.
    manifest_id_dev: UUID4 = "0bab7224-72b7-4f02-bfcd-436c38cdddc8"
    manifest_id_qa: UUID4 = "bc346795-9e4a-4626-ac5a-3264e9be3622"
    manifest_id_uat: UUID4 = "6f86811d-a773-4f8e-b75c-808fadfb6df3"
    manifest_id_staging: UUID4 = "5258b5b8-50c0-4d47-97c0-bc3748eba740"
    manifest_id_prod: UUID4 = "1c856e1a-dedc-4fdc-ba9f-dc99ce3a2d61"

    max_request_bytes: int = Field(default=MAX_REQUEST_BYTES, ge=1024)
    addin_token: SecretStr | None = Field(default=None, validation_alias="THIDUA_ADDIN_TOKEN")
