"""Settings: the limits that keep untrusted workbooks from hurting the process.

One pydantic-settings class holds every tunable value. Each field's ``description`` is the
Vietnamese name of the limit, shown to users in findings (``limit_name``).
"""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_MB = 1024 * 1024


class Settings(BaseSettings):
    """Limits for reading workbooks from outside.

    Precedence, highest first: explicit keyword arguments (``Settings(max_rows=10)``) >
    environment variables (``THIDUA_MAX_ROWS=10``) > the defaults below.
    """

    model_config = SettingsConfigDict(env_prefix="THIDUA_", frozen=True, extra="ignore")

    max_file_bytes: int = Field(50 * _MB, gt=0, description="dung lượng tệp (byte)")
    max_zip_members: int = Field(10_000, gt=0, description="số phần tử trong tệp nén")
    max_uncompressed_bytes: int = Field(
        200 * _MB, gt=0, description="tổng dung lượng sau giải nén (byte)"
    )
    max_member_bytes: int = Field(
        100 * _MB, gt=0, description="dung lượng một phần tử sau giải nén (byte)"
    )
    max_ratio: float = Field(
        200.0, gt=0, description="tỉ lệ nén của một phần tử (chỉ xét phần tử trên 1 MB)"
    )
    max_sheets: int = Field(500, gt=0, description="số trang tính")
    max_rows: int = Field(100_000, gt=0, description="số dòng của trang tính")
    max_cols: int = Field(1_000, gt=0, description="số cột của trang tính (cột ALL)")
    # Readers allocate the whole rectangle up to the farthest cell (python-calamine: 32 bytes
    # a cell), so A1 plus ALL100000 alone costs 3.2 GB although each bound above is met.
    max_cells: int = Field(5_000_000, gt=0, description="số ô của trang tính (số dòng × số cột)")
    parse_timeout_s: float = Field(60.0, gt=0, description="thời gian đọc tệp (giây)")
    parse_memory_mb: int = Field(1024, gt=0, description="bộ nhớ khi đọc tệp (MB)")


@cache
def get_settings() -> Settings:
    """The process-wide settings (environment read once, then cached)."""
    return Settings()


def limit_name(field: str) -> str:
    """The Vietnamese name of a limit, for findings."""
    return Settings.model_fields[field].description or field
