"""Configuration in one place: a frozen object built from the environment.

Nothing here runs at import time; :func:`load_settings` reads ``.env`` (without overriding real
environment variables) and the environment when the app starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_BASE_URL = "https://new.suxi.ai"


@dataclass(frozen=True)
class Settings:
    api_key: str = field(default="", repr=False)  # never printed
    base_url: str = DEFAULT_BASE_URL
    model: str = "sora-2"
    connect_timeout: float = 15.0
    read_timeout: float = 180.0  # longest silence between two chunks
    total_timeout: float = 30 * 60.0  # whole generation, queue included
    download_timeout: float = 300.0
    max_video_bytes: int = 500 * 1024 * 1024
    max_prompt_chars: int = 4000
    max_jobs: int = 16  # generations running at once in this process
    max_queue: int = 64  # generations waiting for a slot
    data_dir: Path = Path("data")
    shared: bool = False  # a public deployment: each visitor sees only their own jobs
    demo_speed: float = 1.0  # >1 makes the offline demo faster (tests)
    visitor_keys: bool = True  # visitors may use their own key (always when no operator key)
    visitor_max_running: int = 2  # per visitor, on a shared deployment with the operator's key
    visitor_max_per_hour: int = 10

    @property
    def demo(self) -> bool:
        """No key: the app runs against its built-in simulated relay."""
        return not self.api_key

    @property
    def relay_host(self) -> str:
        return (urlsplit(self.base_url).hostname or "").lower()

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as err:
        raise ValueError(f"{name} must be a number, got {raw!r}") from err
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


def _int(env: dict[str, str], name: str, default: int) -> int:
    return int(_float(env, name, default))


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


def default_data_dir(env: dict[str, str]) -> Path:
    # Hugging Face Spaces wipe the disk on restart; /data is the persistent volume when attached.
    if env.get("SPACE_ID") and Path("/data").is_dir() and os.access("/data", os.W_OK):
        return Path("/data/suxi")
    return Path("data")


def settings_from_env(env: dict[str, str]) -> Settings:
    base = env.get("SUXI_BASE_URL", "").strip() or DEFAULT_BASE_URL
    return Settings(
        api_key=env.get("SUXI_API_KEY", "").strip(),
        base_url=base.rstrip("/"),
        model=env.get("SUXI_MODEL", "").strip() or "sora-2",
        connect_timeout=_float(env, "SUXI_CONNECT_TIMEOUT", 15.0),
        read_timeout=_float(env, "SUXI_READ_TIMEOUT", 180.0),
        total_timeout=_float(env, "SUXI_TOTAL_TIMEOUT", 1800.0),
        download_timeout=_float(env, "SUXI_DOWNLOAD_TIMEOUT", 300.0),
        max_video_bytes=_int(env, "SUXI_MAX_VIDEO_MB", 500) * 1024 * 1024,
        max_prompt_chars=_int(env, "SUXI_MAX_PROMPT_CHARS", 4000),
        max_jobs=_int(env, "SUXI_MAX_JOBS", 16),
        max_queue=_int(env, "SUXI_MAX_QUEUE", 64),
        data_dir=Path(env.get("SUXI_DATA_DIR", "").strip() or default_data_dir(env)),
        shared=_bool(env, "SUXI_SHARED", bool(env.get("SPACE_ID"))),
        demo_speed=_float(env, "SUXI_DEMO_SPEED", 1.0),
        visitor_keys=_bool(env, "SUXI_VISITOR_KEYS", False)
        or not env.get("SUXI_API_KEY", "").strip(),
        visitor_max_running=_int(env, "SUXI_VISITOR_MAX_RUNNING", 2),
        visitor_max_per_hour=_int(env, "SUXI_VISITOR_MAX_PER_HOUR", 10),
    )


def load_settings(dotenv_path: str | os.PathLike | None = ".env") -> Settings:
    """Read ``.env`` and the environment (real environment variables win); ``os.environ`` is
    left untouched so no key is copied into it."""
    from dotenv import dotenv_values

    values: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        values = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None}
    return settings_from_env({**values, **os.environ})
