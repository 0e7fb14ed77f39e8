"""Configuration in one place: a frozen object built from the environment.

Nothing here runs at import time; :func:`load_settings` reads ``.env`` (without overriding real
environment variables) and the environment when the app starts. Every setting is listed, with
its meaning, in ``.env.example`` and the README.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from .errors import SuxiError
from .urlgate import origin_of

DEFAULT_BASE_URL = "https://new.suxi.ai"
FORMATS = ("auto", "chat", "unified", "openai")
FormatChoice = Literal["auto", "chat", "unified", "openai"]


@dataclass(frozen=True)
class Settings:
    api_key: str = field(default="", repr=False)  # never printed
    base_url: str = DEFAULT_BASE_URL
    model: str = "sora-2"
    format: FormatChoice = "auto"
    connect_timeout: float = 15.0
    read_timeout: float = 180.0  # longest silence between two chunks; one poll's bound
    total_timeout: float = 30 * 60.0  # whole generation, queue included
    download_timeout: float = 300.0
    poll_interval: float = 5.0  # task formats: seconds between status calls…
    poll_max_interval: float = 15.0  # …backing off towards this while the task is queued
    max_video_bytes: int = 500 * 1024 * 1024
    max_upload_bytes: int = 30 * 1024 * 1024  # the largest file the page accepts at all
    min_free_bytes: int = 200 * 1024 * 1024  # a download needs this much free disk besides
    max_prompt_chars: int = 4000
    max_batch: int = 50  # prompts in one batch
    max_jobs: int = 16  # chat streams followed at once in this process
    max_queue: int = 64  # chat jobs waiting for a free stream slot
    data_dir: Path = Path("data")
    keep_days: float = 0.0  # 0: keep video files forever; records are never removed
    shared: bool = False  # a public deployment: each visitor sees only their own jobs
    demo_speed: float = 1.0  # >1 makes the offline demo faster (tests)
    demo_port: int = 0  # the demo relay's fixed loopback port; 0: chosen once, remembered
    visitor_keys: bool = True  # visitors may use their own key (always when no operator key)
    visitor_max_running: int = 2  # per visitor, on a shared deployment with the operator's key
    visitor_max_per_hour: int = 10
    operator_max_running: int = 0  # whole app, on the operator's key; 0: no cap of its own
    operator_max_per_hour: int = 0
    own_key_reserved: int = 4  # stream slots kept free for visitors with their own key
    operator_max_tokens: int = 4000
    allowed_models: tuple[str, ...] = ()  # on the operator's key; () = the relay's video models
    trusted_proxies: tuple[str, ...] = ()  # addresses/networks whose X-Forwarded-For is believed
    secret: str = field(default="", repr=False)  # salts address hashes; made once if empty
    low_balance: float = 0.0  # warn before Generate below this balance (0: never)
    balance_unit: str = ""  # what the relay's balance counts in ("" = the relay's quota)
    show_balance: bool = False  # show the operator's balance on a shared deployment
    prompt_model: str = ""  # chat model for "Improve my prompt" ("" = picked from the list)
    visitor_prompt_help_per_hour: int = 20
    presets_path: str = ""  # a JSON file replacing the built-in style presets
    mcp: bool = False  # also serve Gradio's MCP server

    @property
    def demo(self) -> bool:
        """No key: the app runs against its built-in simulated relay."""
        return not self.api_key

    @property
    def relay_origin(self) -> str:
        """``scheme://host:port`` of the relay: the only origin the key is ever sent to."""
        return origin_of(self.base_url)

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)


class SettingsError(ValueError):
    """A setting has a value the app cannot use (the message names it)."""


def _float(env: dict[str, str], name: str, default: float, *, zero: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as err:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from err
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        raise SettingsError(f"{name} must be a positive number, got {raw!r}")
    if value == 0 and not zero:
        raise SettingsError(f"{name} must be positive, got {raw!r}")
    return value


def _int(env: dict[str, str], name: str, default: int, *, zero: bool = False) -> int:
    return int(_float(env, name, default, zero=zero))


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


def _list(env: dict[str, str], name: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in env.get(name, "").split(",") if p.strip())


def default_data_dir(env: dict[str, str]) -> Path:
    # Hugging Face Spaces wipe the disk on restart; /data is the persistent volume when attached.
    if env.get("SPACE_ID") and Path("/data").is_dir() and os.access("/data", os.W_OK):
        return Path("/data/suxi")
    return Path("data")


def _format(env: dict[str, str]) -> FormatChoice:
    raw = env.get("SUXI_FORMAT", "").strip().lower() or "auto"
    if raw not in FORMATS:
        raise SettingsError(f"SUXI_FORMAT must be one of {', '.join(FORMATS)}, got {raw!r}")
    return raw  # type: ignore[return-value]


def _proxies(env: dict[str, str]) -> tuple[str, ...]:
    # On a Hugging Face Space the platform's proxy appends the visitor's address as the
    # rightmost X-Forwarded-For entry (docs/deployment.md).
    default = ("space",) if env.get("SPACE_ID") else ()
    return _list(env, "SUXI_TRUSTED_PROXIES") or default


def settings_from_env(env: dict[str, str]) -> Settings:
    base = env.get("SUXI_BASE_URL", "").strip() or DEFAULT_BASE_URL
    key = env.get("SUXI_API_KEY", "").strip()
    settings = Settings(
        api_key=key,
        base_url=base.rstrip("/"),
        model=env.get("SUXI_MODEL", "").strip() or "sora-2",
        format=_format(env),
        connect_timeout=_float(env, "SUXI_CONNECT_TIMEOUT", 15.0),
        read_timeout=_float(env, "SUXI_READ_TIMEOUT", 180.0),
        total_timeout=_float(env, "SUXI_TOTAL_TIMEOUT", 1800.0),
        download_timeout=_float(env, "SUXI_DOWNLOAD_TIMEOUT", 300.0),
        poll_interval=_float(env, "SUXI_POLL_INTERVAL", 5.0),
        poll_max_interval=_float(env, "SUXI_POLL_MAX_INTERVAL", 15.0),
        max_video_bytes=_int(env, "SUXI_MAX_VIDEO_MB", 500) * 1024 * 1024,
        max_upload_bytes=_int(env, "SUXI_MAX_UPLOAD_MB", 30) * 1024 * 1024,
        min_free_bytes=_int(env, "SUXI_MIN_FREE_MB", 200, zero=True) * 1024 * 1024,
        max_prompt_chars=_int(env, "SUXI_MAX_PROMPT_CHARS", 4000),
        max_batch=_int(env, "SUXI_MAX_BATCH", 50),
        max_jobs=_int(env, "SUXI_MAX_JOBS", 16),
        max_queue=_int(env, "SUXI_MAX_QUEUE", 64),
        data_dir=Path(env.get("SUXI_DATA_DIR", "").strip() or default_data_dir(env)),
        keep_days=_float(env, "SUXI_KEEP_DAYS", 0.0, zero=True),
        shared=_bool(env, "SUXI_SHARED", bool(env.get("SPACE_ID"))),
        demo_speed=_float(env, "SUXI_DEMO_SPEED", 1.0),
        demo_port=_int(env, "SUXI_DEMO_PORT", 0, zero=True),
        visitor_keys=_bool(env, "SUXI_VISITOR_KEYS", False) or not key,
        visitor_max_running=_int(env, "SUXI_VISITOR_MAX_RUNNING", 2),
        visitor_max_per_hour=_int(env, "SUXI_VISITOR_MAX_PER_HOUR", 10),
        operator_max_running=_int(env, "SUXI_OPERATOR_MAX_RUNNING", 0, zero=True),
        operator_max_per_hour=_int(env, "SUXI_OPERATOR_MAX_PER_HOUR", 0, zero=True),
        own_key_reserved=_int(env, "SUXI_OWN_KEY_RESERVED", 4, zero=True),
        operator_max_tokens=_int(env, "SUXI_OPERATOR_MAX_TOKENS", 4000),
        allowed_models=_list(env, "SUXI_ALLOWED_MODELS"),
        trusted_proxies=_proxies(env),
        secret=env.get("SUXI_SECRET", "").strip(),
        low_balance=_float(env, "SUXI_LOW_BALANCE", 0.0, zero=True),
        balance_unit=env.get("SUXI_BALANCE_UNIT", "").strip(),
        show_balance=_bool(env, "SUXI_SHOW_BALANCE", False),
        prompt_model=env.get("SUXI_PROMPT_MODEL", "").strip(),
        visitor_prompt_help_per_hour=_int(env, "SUXI_VISITOR_PROMPT_HELP_PER_HOUR", 20, zero=True),
        presets_path=env.get("SUXI_PRESETS", "").strip(),
        mcp=_bool(env, "SUXI_MCP", False),
    )
    try:
        settings.relay_origin  # noqa: B018 — refuse an unusable relay address at start
    except (ValueError, SuxiError) as err:
        raise SettingsError(f"SUXI_BASE_URL is not a valid http(s) address: {base!r}") from err
    return settings


def load_settings(dotenv_path: str | os.PathLike | None = ".env") -> Settings:
    """Read ``.env`` and the environment (real environment variables win); ``os.environ`` is
    left untouched so no key is copied into it."""
    from dotenv import dotenv_values

    values: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        values = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None}
    return settings_from_env({**values, **os.environ})
