"""``python -m suxi``: against a real simulated relay on loopback, in-process and as a real
subprocess (cwd = tmp_path, so no ``.env`` of the repository is read)."""

from __future__ import annotations

import base64
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from suxi import cli
from suxi.simrelay import DEFAULT_VIDEO as SAMPLE
from suxi.simrelay import Content, Done, Finish, Sleep, error_body, error_reply

ROOT = Path(__file__).resolve().parent.parent
CLI_KEY = "sk-test-cli"
PROMPT = "a cat on a skateboard"


# --------------------------------------------------------------------------------- helpers


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUXI_")}
    env.update(PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8", **values)
    return env


def relay_env(relay, tmp_path: Path) -> dict[str, str]:
    return clean_env(
        SUXI_API_KEY=CLI_KEY,
        SUXI_BASE_URL=relay.base_url,
        SUXI_DATA_DIR=str(tmp_path / "data"),
    )


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "suxi", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        encoding="utf-8",
        timeout=60,
    )


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def invoke(monkeypatch, capsys, tmp_path, relay):
    """Run ``cli.main(argv)`` in this process with the environment a user would have."""

    def run(*argv: str, key: str | None = CLI_KEY, **env: str) -> Result:
        monkeypatch.chdir(tmp_path)
        for name in [n for n in os.environ if n.startswith("SUXI_")]:
            monkeypatch.delenv(name)
        values = {"SUXI_BASE_URL": relay.base_url, "SUXI_DATA_DIR": str(tmp_path / "data")}
        if key is not None:
            values["SUXI_API_KEY"] = key
        for name, value in {**values, **env}.items():
            monkeypatch.setenv(name, value)
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def videos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".mp4", ".part"))


def picture(fmt: str) -> bytes:
    image = Image.new("RGB", (640, 360), (30, 90, 200))
    image.paste((250, 200, 0), (0, 0, 320, 360))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def last_user_content(relay):
    (post,) = relay.posts()
    return post.json()["messages"][-1]["content"]


# --------------------------------------------------------------------------- subprocesses


def test_subprocess_saves_the_video_and_prints_only_its_path(relay, tmp_path):
    done = run_cli([PROMPT, "--out", "videos"], relay_env(relay, tmp_path), tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and done.stdout == lines[0] + "\n"
    saved = Path(lines[0])
    assert saved.is_absolute() and saved.parent == tmp_path / "videos"
    assert re.fullmatch(r"a-cat-on-a-skateboard-[0-9a-f]{6}\.mp4", saved.name)
    assert saved.read_bytes() == SAMPLE.read_bytes()
    assert videos(tmp_path) == [saved]  # no .part left behind

    # Piped stderr: plain lines, progress among them, what the relay understood.
    assert "\r" not in done.stderr
    assert "the relay understood: prompt “a cat on a skateboard”" in done.stderr
    percents = [int(p) for p in re.findall(r"^\[\d+:\d\d\] generating (\d+)%$", done.stderr, re.M)]
    assert percents == sorted(percents) and percents[-1] == 93
    assert "Traceback" not in done.stderr
    assert CLI_KEY not in done.stdout + done.stderr

    (post,) = relay.posts()
    assert post.headers["authorization"] == f"Bearer {CLI_KEY}"
    assert post.json() == {
        "model": "sora-2",
        "max_tokens": 1000,
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": True,
    }


def test_subprocess_401_is_one_readable_sentence(relay, tmp_path):
    text = f"无效的令牌 {CLI_KEY} (request id: 20251125abc)"
    relay.push(error_reply(401, error_body(text)))
    done = run_cli([PROMPT], relay_env(relay, tmp_path), tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert cli.describe("auth") in done.stderr
    assert "The relay said: 无效的令牌" in done.stderr
    assert "Traceback" not in done.stderr and "AuthError" not in done.stderr
    assert CLI_KEY not in done.stderr and cli.HIDDEN in done.stderr  # even when the relay echoes it
    assert videos(tmp_path) == []
    assert len(relay.posts()) == 1


def test_subprocess_offline_demo_without_a_key(tmp_path):
    env = clean_env(SUXI_DEMO_SPEED="200", SUXI_DATA_DIR=str(tmp_path / "data"))
    done = run_cli([PROMPT], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "offline demo" in done.stderr
    assert Path(done.stdout.strip()).read_bytes() == SAMPLE.read_bytes()
    assert cli.DEMO_KEY not in done.stderr + done.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_subprocess_ctrl_c_exits_130_with_a_note(relay, tmp_path):
    relay.push([Content("> 排队中\n\n"), Sleep(60 * relay.speed), Done()])
    proc = subprocess.Popen(
        [sys.executable, "-m", "suxi", PROMPT],
        cwd=tmp_path,
        env=relay_env(relay, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding="utf-8",
    )
    try:
        deadline = time.monotonic() + 20
        while not relay.posts() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert relay.posts(), "the CLI never sent its request"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert out == ""
    assert "interrupted" in err and "may still charge" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert videos(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_subprocess_on_a_terminal_draws_one_updating_line(relay, tmp_path):
    import pty

    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "suxi", PROMPT],
        cwd=tmp_path,
        env=relay_env(relay, tmp_path),
        stdout=subprocess.PIPE,
        stderr=secondary,
    )
    os.close(secondary)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(primary, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    reader.join(timeout=5)
    os.close(primary)
    screen = b"".join(chunks).decode("utf-8", errors="replace")
    assert proc.returncode == 0, screen
    assert re.search(r"\r\[#+-*\]  \d\d%  generating  0:\d\d", screen)
    assert "\r[####################] 100%  done" in screen
    assert "the relay understood" in screen
    assert Path(out.decode().strip()).is_file()


# ------------------------------------------------------------------------------ in-process


def test_piped_output_has_one_plain_line_per_change(invoke, relay, tmp_path):
    result = invoke(PROMPT)
    assert result.code == 0, result.err
    assert "\r" not in result.err
    lines = result.err.splitlines()
    assert all(line.strip() for line in lines)
    states = [line for line in lines if line.startswith("[")]
    assert len(states) == len(set(states))  # nothing repeated
    assert states[-1].endswith("done 100%")
    assert Path(result.out.strip()).parent == tmp_path


def test_empty_prompt_exits_2_and_sends_nothing(invoke, relay):
    result = invoke("   ")
    assert result.code == 2
    assert result.out == ""
    assert cli.describe("empty_prompt") in result.err
    assert relay.posts() == []


@pytest.mark.parametrize(
    "argv",
    [[], ["p", "--max-tokens", "many"], ["p", "--bogus"], ["p", "--model", "a b"]],
)
def test_argument_errors_exit_2(invoke, relay, argv):
    result = invoke(*argv)
    assert result.code == 2
    assert "usage: python -m suxi" in result.err
    assert "Traceback" not in result.err
    assert relay.posts() == []


def test_max_tokens_out_of_range_is_explained(invoke, relay):
    result = invoke(PROMPT, "--max-tokens", "0")
    assert result.code == 2
    assert cli.describe("bad_max_tokens", low=1, high=100_000) in result.err
    assert relay.posts() == []


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_image_file_is_sent_as_a_data_url_part(invoke, relay, tmp_path, fmt):
    frame = tmp_path / f"frame.{fmt.lower()}"
    frame.write_bytes(picture(fmt))
    result = invoke(PROMPT, "--image", str(frame))
    assert result.code == 0, result.err
    content = last_user_content(relay)
    assert isinstance(content, list) and len(content) == 2
    assert content[0] == {"type": "text", "text": PROMPT}
    assert content[1]["type"] == "image_url"
    url = content[1]["image_url"]["url"]
    assert url.startswith("data:image/")
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.size == (640, 360)
    assert "starting frame: image/jpeg" in result.err


def test_https_image_url_is_passed_on_unchanged(invoke, relay):
    url = "https://cdn.example.com/frames/cat.png?sig=a%2Fb"
    result = invoke(PROMPT, "--image", url)
    assert result.code == 0, result.err
    assert last_user_content(relay)[1] == {"type": "image_url", "image_url": {"url": url}}


@pytest.mark.parametrize(
    ("image", "kind"),
    [
        ("missing.png", "image_unreadable"),
        ("notes.png", "image_unreadable"),
        ("http://cdn.example.com/cat.png", "image_url"),
        ("javascript:alert(1)", "image_url"),
        ("https://user:pw@cdn.example.com/cat.png", "image_url"),
    ],
)
def test_bad_images_exit_2_before_anything_is_sent(invoke, relay, tmp_path, image, kind):
    (tmp_path / "notes.png").write_text("not a picture, whatever the name says")
    result = invoke(PROMPT, "--image", image)
    assert result.code == 2
    assert cli.describe(kind) in result.err
    assert "Traceback" not in result.err and "InputError" not in result.err
    assert relay.posts() == []


def test_image_over_the_hard_cap_exits_2(invoke, relay, tmp_path):
    huge = tmp_path / "huge.jpg"
    with huge.open("wb") as f:
        f.truncate(31 * 1024 * 1024)
    result = invoke(PROMPT, "--image", str(huge))
    assert result.code == 2
    assert cli.describe("image_too_large") in result.err
    assert relay.posts() == []


def test_failure_in_the_stream_exits_1_with_the_relays_words(invoke, relay, tmp_path):
    relay.push([Content("> ⌛️ 任务正在队列中\n\n"), Content("> ❌ 生成失败: 内容违规\n\n"), Done()])
    result = invoke(PROMPT)
    assert result.code == 1
    assert result.out == ""
    assert "error: " in result.err and "内容违规" in result.err
    assert videos(tmp_path) == []


def test_rate_limit_says_how_long_to_wait(invoke, relay):
    relay.push(error_reply(429, error_body("您已达到请求数限制"), headers=(("Retry-After", "17"),)))
    result = invoke(PROMPT)
    assert result.code == 1
    assert "wait 17 seconds" in result.err and "您已达到请求数限制" in result.err


def test_download_failure_exits_1_and_leaves_no_file(invoke, relay, tmp_path):
    missing = f"{relay.base_url}/files/missing.mp4"
    relay.push([Content(f"> 生成完成 ✅\n\n[在线播放▶️]({missing})\n\n"), Finish(), Done()])
    result = invoke(PROMPT)
    assert result.code == 1
    assert cli.describe("download") in result.err
    assert f"video ready: {missing}" in result.err  # the address survives for a manual fetch
    assert videos(tmp_path) == []


def test_no_stream_asks_for_one_reply(invoke, relay, tmp_path):
    result = invoke(PROMPT, "--no-stream", "--model", "sora-2-pro", "--max-tokens", "2000")
    assert result.code == 0, result.err
    body = relay.posts()[0].json()
    assert (body["stream"], body["model"], body["max_tokens"]) == (False, "sora-2-pro", 2000)
    assert Path(result.out.strip()).read_bytes() == SAMPLE.read_bytes()


def test_out_must_be_a_folder(invoke, relay, tmp_path):
    (tmp_path / "taken").write_text("a file")
    result = invoke(PROMPT, "--out", "taken")
    assert result.code == 2
    assert "--out" in result.err
    assert relay.posts() == []


def test_bad_setting_exits_2(invoke, relay):
    result = invoke(PROMPT, SUXI_READ_TIMEOUT="soon")
    assert result.code == 2
    assert "SUXI_READ_TIMEOUT must be a number" in result.err
    assert relay.posts() == []


def test_malformed_key_exits_2_without_printing_it(invoke, relay):
    result = invoke(PROMPT, key="sk-two words")
    assert result.code == 2
    assert cli.describe("bad_key") in result.err
    assert "sk-two" not in result.err
    assert relay.posts() == []


# ------------------------------------------------------------------------------ the pieces


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("A cat on a skateboard!", "a-cat-on-a-skateboard"),
        ("武汉文旅视频，横屏 16:9", "武汉文旅视频-横屏-16-9"),
        ("../../etc/passwd", "etc-passwd"),
        ("???", "video"),
        ("x" * 100, "x" * cli.SLUG_CHARS),
    ],
)
def test_slug(prompt, expected):
    assert cli.slug(prompt) == expected


def test_terminal_reporter_redraws_in_place_and_masks_the_key():
    stream = io.StringIO()
    clock = iter(range(0, 1000, 7))
    reporter = cli.Reporter(stream, tty=True, secret=CLI_KEY, clock=lambda: next(clock))
    reporter.note("before any state")
    assert stream.getvalue() == "before any state\n"  # no bar until something is happening
    reporter.update("queued")
    reporter.update("generating", 42)
    reporter.note(f"relay text with {CLI_KEY}")
    reporter.update("done", 100)
    reporter.stop()
    text = stream.getvalue()
    assert text.count("\n") == 3  # the notes and the final line; progress only used \r
    assert "\r[########------------]  42%  generating  0:" in text
    assert CLI_KEY not in text and f"relay text with {cli.HIDDEN}\n" in text
    assert text.endswith("100%  done  0:35\n")
