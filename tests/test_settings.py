"""Settings from the environment: the example file works as it is, and a bad value names the
setting instead of failing somewhere later."""

from __future__ import annotations

from pathlib import Path

import pytest

from suxi.settings import SettingsError, load_settings, settings_from_env

ROOT = Path(__file__).resolve().parent.parent


def test_the_example_file_gives_the_defaults(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("SUXI_") or name == "SPACE_ID":
            monkeypatch.delenv(name)
    s = load_settings(ROOT / ".env.example")
    assert s.demo and s.base_url == "https://new.suxi.ai" and s.format == "auto"
    assert s.relay_origin == "https://new.suxi.ai:443"
    assert s.max_jobs == 16 and s.poll_interval == 5 and s.keep_days == 0
    assert s.visitor_keys and not s.shared and s.trusted_proxies == ()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SUXI_READ_TIMEOUT", "soon"),
        ("SUXI_READ_TIMEOUT", "-1"),
        ("SUXI_MAX_JOBS", "0"),
        ("SUXI_TOTAL_TIMEOUT", "nan"),
        ("SUXI_TOTAL_TIMEOUT", "inf"),
        ("SUXI_FORMAT", "carrier-pigeon"),
        ("SUXI_BASE_URL", "ftp://relay.example"),
        ("SUXI_BASE_URL", "https://"),
    ],
)
def test_a_bad_value_names_its_setting(name, value):
    with pytest.raises(SettingsError, match=name):
        settings_from_env({name: value})


def test_a_space_trusts_its_platforms_proxy_and_shares(tmp_path):
    s = settings_from_env({"SPACE_ID": "someone/app"})
    assert s.shared and s.trusted_proxies == ("space",)
    s = settings_from_env({"SPACE_ID": "x", "SUXI_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1"})
    assert s.trusted_proxies == ("10.0.0.0/8", "192.168.1.1")


def test_the_key_is_never_printed():
    s = settings_from_env({"SUXI_API_KEY": "sk-secret-value-123"})
    assert "sk-secret-value-123" not in repr(s) and not s.demo
    assert not s.visitor_keys  # an operator key: visitors' own keys only when allowed
    assert settings_from_env({"SUXI_API_KEY": "k", "SUXI_VISITOR_KEYS": "1"}).visitor_keys


def test_lists_and_the_relay_origin():
    s = settings_from_env(
        {"SUXI_ALLOWED_MODELS": "veo3, sora-2 ,,", "SUXI_BASE_URL": "http://127.0.0.1:8080/"}
    )
    assert s.allowed_models == ("veo3", "sora-2")
    assert s.base_url == "http://127.0.0.1:8080" and s.relay_origin == "http://127.0.0.1:8080"


def test_the_app_refuses_a_bad_setting_with_one_line_not_a_traceback(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("SUXI_")}
    env.update(SUXI_READ_TIMEOUT="soon", SUXI_DATA_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "error: SUXI_READ_TIMEOUT must be a number, got 'soon'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
