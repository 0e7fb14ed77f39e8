"""``python -m suxi``: against a real simulated relay on loopback, as a real subprocess where a
person or a script meets it (cwd = tmp_path, so no ``.env`` of the repository is read) and
in-process (``cli.main``) otherwise."""

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
from suxi.errors import InputError
from suxi.simrelay import DEFAULT_VIDEO as SAMPLE
from suxi.simrelay import (
    Content,
    Done,
    Finish,
    Frame,
    Sleep,
    TaskPlan,
    error_body,
    error_reply,
    user_prompt,
)
from suxi.ui.batchfile import MAX_FILE, prompts_from

ROOT = Path(__file__).resolve().parent.parent
CLI_KEY = "sk-test-cli"
PROMPT = "a cat on a skateboard"
FAST = {  # polls and downloads at the pace of a relay running at speed 200
    "SUXI_POLL_INTERVAL": "0.02",
    "SUXI_POLL_MAX_INTERVAL": "0.2",
    "SUXI_MIN_FREE_MB": "0",
}
QUICK_TASK = TaskPlan((Frame(0, "running", 40), Frame(20, "done", 100)))
REFUSED = "> ❌ 生成失败: 内容违规\n\n"


# --------------------------------------------------------------------------------- helpers


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUXI_")}
    env.update(PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8", **FAST, **values)
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
        for name, value in {**FAST, **values, **env}.items():
            monkeypatch.setenv(name, value)
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def files_in(folder: Path) -> list[Path]:
    """Everything the command line left in ``folder`` (its data folder aside)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and "data" not in p.parts)


def picture(fmt: str) -> bytes:
    image = Image.new("RGB", (640, 360), (30, 90, 200))
    image.paste((250, 200, 0), (0, 0, 320, 360))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def last_user_content(relay):
    (post,) = relay.posts()
    return post.json()["messages"][-1]["content"]


def quick_script(relay):
    """A chat generation that finishes at once with the relay's sample video."""
    link = f"{relay.base_url}/files/sample.mp4"
    return [Content(f"> 生成完成 ✅\n\n[在线播放▶️]({link})\n\n"), Finish(), Done()]


def refused_script():
    return [Content("> ⌛️ 任务正在队列中\n\n"), Content(REFUSED), Done()]


def batch_lines(out: str) -> list[list[str]]:
    lines = out.splitlines()
    assert out == "".join(line + "\n" for line in lines)
    return [line.split("\t") for line in lines]


def post_paths(relay) -> list[str]:
    return [r.path for r in relay.requests if r.method == "POST"]


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
    assert files_in(tmp_path) == [saved]  # no .part, no thumbnail left behind

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
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {cli.describe('auth')} The relay said: “无效的令牌 {cli.HIDDEN} "
        "(request id: 20251125abc)”"
    ]
    assert "Traceback" not in done.stderr and "AuthError" not in done.stderr
    assert CLI_KEY not in done.stderr  # even though the relay echoed it
    assert files_in(tmp_path) == []
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
    assert files_in(tmp_path) == []


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
    # Progress redraws in place: many redraws share a line, a new line comes only with a note.
    redraws = len(re.findall(r"\r\[[#-]+\] +\d+%  generating", screen))
    lines_with_progress = [line for line in screen.split("\n") if "%  generating" in line]
    assert redraws > len(lines_with_progress) >= 1
    assert Path(out.decode().strip()).is_file()


def test_subprocess_batch_of_twelve_with_one_failure(relay, tmp_path):
    prompts = [f"scene {n}: a lantern festival" for n in range(1, 13)]
    (tmp_path / "prompts.txt").write_text("\n".join(prompts[:6]) + "\n\n" + "\n".join(prompts[6:]))
    relay.set_default(quick_script(relay))
    for _ in range(4):
        relay.push(quick_script(relay))
    relay.push(refused_script())  # the fifth prompt fails in the stream

    done = run_cli(["--batch", "prompts.txt", "--out", "out"], relay_env(relay, tmp_path), tmp_path)
    assert done.returncode == 1, done.stderr
    rows = batch_lines(done.stdout)
    assert [row[2] for row in rows] == prompts  # one line per prompt, in order
    assert [row[0] for row in rows] == ["ok"] * 4 + ["failed"] + ["ok"] * 7
    assert "内容违规" in rows[4][1]
    saved = [Path(row[1]) for row in rows if row[0] == "ok"]
    assert all(
        p.parent == tmp_path / "out" and p.read_bytes() == SAMPLE.read_bytes() for p in saved
    )
    assert files_in(tmp_path / "out") == sorted(saved)
    assert done.stderr.splitlines()[-1] == "11 of 12 made, 1 failed"
    assert "[5/12] scene 5: a lantern festival" in done.stderr
    assert [user_prompt(post) for post in relay.posts()] == prompts


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_subprocess_ctrl_c_in_a_batch_says_how_far_it_came(relay, tmp_path):
    (tmp_path / "three.txt").write_text("first\nsecond\nthird\n")
    relay.push(quick_script(relay))
    relay.push([Content("> 排队中\n\n"), Sleep(60 * relay.speed), Done()])
    proc = subprocess.Popen(
        [sys.executable, "-m", "suxi", "--batch", "three.txt", "--out", "out"],
        cwd=tmp_path,
        env=relay_env(relay, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding="utf-8",
    )
    try:
        deadline = time.monotonic() + 20
        while len(relay.posts()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(relay.posts()) == 2, "the CLI never sent the second prompt"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 130
    ((state, path, prompt),) = batch_lines(out)
    assert (state, prompt) == ("ok", "first")
    assert files_in(tmp_path / "out") == [Path(path)]
    assert "1 of 3 made, 0 failed, 2 not finished" in err
    assert err.rstrip().endswith("may still charge for a generation it had already started.")
    assert "Traceback" not in err
    assert len(relay.posts()) == 2


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
    assert relay.requests == []


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["p", "--max-tokens", "many"],
        ["p", "--bogus"],
        ["p", "--format", "fax"],
        ["p", "--batch", "list.txt"],
    ],
)
def test_argument_errors_exit_2_with_the_usage(invoke, relay, tmp_path, argv):
    (tmp_path / "list.txt").write_text("one\n")
    result = invoke(*argv)
    assert result.code == 2
    assert result.err.startswith("usage: python -m suxi")
    assert "error: " in result.err and "Traceback" not in result.err
    assert result.out == ""
    assert relay.requests == []


def test_a_model_name_with_a_space_is_refused(invoke, relay):
    result = invoke(PROMPT, "--model", "a b")
    assert result.code == 2
    assert f"error: {cli.describe('bad_model')}" in result.err
    assert relay.requests == []


def test_max_tokens_out_of_range_is_explained(invoke, relay):
    result = invoke(PROMPT, "--max-tokens", "0")
    assert result.code == 2
    assert cli.describe("bad_max_tokens", low=1, high=100_000) in result.err
    assert relay.requests == []


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
    assert url.startswith("data:image/jpeg;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.size == (640, 360)
    assert "starting frame: image/jpeg" in result.err


def test_image_file_is_the_input_reference_part_in_openai_format(invoke, relay, tmp_path):
    relay.set_default_task(QUICK_TASK)
    frame = tmp_path / "frame.png"
    frame.write_bytes(picture("PNG"))
    result = invoke(PROMPT, "--image", str(frame), "--format", "openai")
    assert result.code == 0, result.err
    (create,) = relay.creates("openai")
    assert create.path == "/v1/videos"
    assert create.form["prompt"] == PROMPT
    filename, ctype, data = create.files["input_reference"]
    assert ctype == "image/jpeg" and filename.endswith(".jpg")
    assert Image.open(io.BytesIO(data)).size == (640, 360)
    assert relay.posts() == []


def test_https_image_url_is_passed_on_unchanged(invoke, relay):
    url = "https://cdn.example.com/frames/cat.png?sig=a%2Fb"
    result = invoke(PROMPT, "--image", url)
    assert result.code == 0, result.err
    assert last_user_content(relay)[1] == {"type": "image_url", "image_url": {"url": url}}
    assert f"starting frame: {url}" in result.err


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
    assert f"error: {cli.describe(kind)} ({image})" in result.err
    assert "Traceback" not in result.err and "InputError" not in result.err
    assert relay.requests == []


def test_image_over_the_hard_cap_exits_2(invoke, relay, tmp_path):
    huge = tmp_path / "huge.jpg"
    with huge.open("wb") as f:
        f.truncate(31 * 1024 * 1024)
    result = invoke(PROMPT, "--image", str(huge))
    assert result.code == 2
    assert f"error: {cli.describe('image_too_large', mb=30)}" in result.err
    assert relay.requests == []


def test_failure_in_the_stream_exits_1_with_the_relays_words(invoke, relay, tmp_path):
    relay.push([Content("> ⌛️ 任务正在队列中\n\n"), Content(REFUSED), Done()])
    result = invoke(PROMPT)
    assert result.code == 1
    assert result.out == ""
    assert "error: " in result.err and "内容违规" in result.err
    assert files_in(tmp_path) == []


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
    assert result.out == ""
    assert cli.describe("download") in result.err
    assert f"video ready: {missing}" in result.err  # the address survives for a manual fetch
    assert files_in(tmp_path) == []


def test_no_stream_asks_for_one_reply(invoke, relay, tmp_path):
    result = invoke(PROMPT, "--no-stream", "--model", "sora-2-pro", "--max-tokens", "2000")
    assert result.code == 0, result.err
    body = relay.posts()[0].json()
    assert (body["stream"], body["model"], body["max_tokens"]) == (False, "sora-2-pro", 2000)
    assert Path(result.out.strip()).read_bytes() == SAMPLE.read_bytes()


@pytest.mark.parametrize("out", ["taken", "taken/inside"])
def test_out_must_be_a_writable_folder(invoke, relay, tmp_path, out):
    (tmp_path / "taken").write_text("a file")
    result = invoke(PROMPT, "--out", out)
    assert result.code == 2
    assert "error: cannot " in result.err and "--out" in result.err
    assert relay.requests == []


def test_bad_setting_exits_2(invoke, relay):
    result = invoke(PROMPT, SUXI_READ_TIMEOUT="soon")
    assert result.code == 2
    assert "SUXI_READ_TIMEOUT must be a number" in result.err
    assert relay.requests == []


def test_malformed_key_exits_2_without_printing_it(invoke, relay):
    result = invoke(PROMPT, key="sk-two words")
    assert result.code == 2
    assert cli.describe("bad_key") in result.err
    assert "sk-two" not in result.err
    assert relay.requests == []


# ------------------------------------------------------------------- formats and options


@pytest.mark.parametrize(
    ("argv", "env", "path"),
    [
        (["--format", "chat"], {}, "/v1/chat/completions"),
        (["--format", "unified"], {}, "/v1/video/create"),
        (["--format", "openai"], {}, "/v1/videos"),
        ([], {"SUXI_FORMAT": "openai"}, "/v1/videos"),
        (["--format", "unified"], {"SUXI_FORMAT": "openai"}, "/v1/video/create"),
    ],
)
def test_format_reaches_its_route(invoke, relay, argv, env, path):
    relay.set_default_task(QUICK_TASK)
    result = invoke(PROMPT, *argv, **env)
    assert result.code == 0, result.err
    assert post_paths(relay) == [path]
    assert Path(result.out.strip()).read_bytes() == SAMPLE.read_bytes()


def test_a_task_model_on_auto_uses_a_task_format(invoke, relay):
    relay.set_default_task(QUICK_TASK)
    result = invoke(PROMPT, "--model", "veo3.1-fast")
    assert result.code == 0, result.err
    assert relay.posts() == []
    (create,) = relay.creates()
    assert create.path == "/v1/video/create"
    assert create.json() == {"model": "veo3.1-fast", "prompt": PROMPT}
    (task_id,) = relay.made()
    assert f"task id: {task_id} (unified)" in result.err


def test_auto_moves_on_when_the_relay_does_not_know_a_route(invoke, relay):
    relay.formats = {"chat", "openai"}
    relay.set_default_task(QUICK_TASK)
    result = invoke(PROMPT, "--model", "veo3.1-fast")
    assert result.code == 0, result.err
    assert post_paths(relay) == ["/v1/video/create", "/v1/video/generations", "/v1/videos"]
    assert len(relay.made()) == 1


def test_duration_the_model_does_not_take_is_refused(invoke, relay):
    result = invoke(PROMPT, "--duration", "25")
    assert result.code == 2
    sentence = cli.describe("bad_option", model="sora-2", name="duration", value="25", allowed="")
    assert sentence.split("choose one of")[0] in result.err
    assert "choose one of: 10, 15." in result.err
    assert relay.requests == []


def test_duration_25_is_accepted_for_sora_2_pro(invoke, relay):
    relay.set_default_task(QUICK_TASK)
    result = invoke(PROMPT, "--model", "sora-2-pro", "--duration", "25s")
    assert result.code == 0, result.err
    assert "25秒" in last_user_content(relay)  # the chat format says it in words
    result = invoke(PROMPT, "--model", "sora-2-pro", "--duration", "25", "--format", "unified")
    assert result.code == 0, result.err
    assert relay.creates("unified")[0].json()["duration"] == 25


@pytest.mark.parametrize(
    ("argv", "word"),
    [(["--orientation", "square"], "orientation"), (["--size", "1080p"], "size")],
)
def test_orientation_and_size_the_model_does_not_take(invoke, relay, argv, word):
    result = invoke(PROMPT, *argv)
    assert result.code == 2
    assert f"sora-2 does not take {word}" in result.err
    assert relay.requests == []


def test_orientation_size_and_duration_go_into_the_request(invoke, relay):
    relay.set_default_task(QUICK_TASK)
    shape = ["--orientation", "portrait", "--duration", "6", "--size", "1080p"]
    assert invoke(PROMPT, "--model", "veo3.1-fast", *shape).code == 0
    body = relay.creates("unified")[0].json()
    assert body == {
        "model": "veo3.1-fast",
        "prompt": PROMPT,
        "orientation": "portrait",
        "size": "1080p",
        "duration": 6,
    }

    shape = ["--orientation", "portrait", "--duration", "15", "--size", "large"]
    assert invoke(PROMPT, "--format", "openai", *shape).code == 0
    form = relay.creates("openai")[0].form
    assert (form["seconds"], form["size"]) == ("15", "1024x1792")

    assert invoke(PROMPT, "--orientation", "landscape", "--duration", "15").code == 0
    assert last_user_content(relay) == f"{PROMPT}\n\n（横屏 16:9，15秒）"


def test_a_failed_task_names_its_id_and_masks_the_key(invoke, relay, tmp_path):
    reason = f"画面包含违规内容 (token {CLI_KEY})"
    relay.push_task(TaskPlan((Frame(0, "queued"), Frame(2, "failed", reason=reason))))
    result = invoke(PROMPT, "--model", "veo3.1-fast")
    assert result.code == 1
    assert result.out == ""
    (task_id,) = relay.made()
    assert "画面包含违规内容" in result.err
    assert f"the relay's task id was {task_id}; quote it" in result.err
    assert CLI_KEY not in result.err and cli.HIDDEN in result.err
    assert files_in(tmp_path) == []


# ---------------------------------------------------------------------------------- batches


def test_csv_batch_of_twelve_in_a_task_format_with_one_failure(invoke, relay, tmp_path):
    prompts = [f"shot {n}, wide angle" for n in range(1, 13)]  # commas: quoted in the CSV
    rows = ["prompt,notes"] + [f'"{p}",take {n}' for n, p in enumerate(prompts, 1)]
    (tmp_path / "shots.csv").write_text("\n".join(rows) + "\n", encoding="utf-8-sig")
    relay.set_default_task(QUICK_TASK)
    for _ in range(6):
        relay.push_task(QUICK_TASK)
    relay.push_task(TaskPlan((Frame(0, "running", 10), Frame(20, "failed", reason="上游超时"))))

    result = invoke("--batch", "shots.csv", "--out", "clips", "--model", "veo3.1-fast")
    assert result.code == 1, result.err
    lines = batch_lines(result.out)
    assert [line[2] for line in lines] == prompts
    assert [line[0] for line in lines] == ["ok"] * 6 + ["failed"] + ["ok"] * 5
    failed_id = relay.made()[6]
    assert "上游超时" in lines[6][1] and f"(task id {failed_id})" in lines[6][1]
    assert files_in(tmp_path / "clips") == sorted(
        Path(line[1]) for line in lines if line[0] == "ok"
    )
    assert result.err.splitlines()[-1] == "11 of 12 made, 1 failed"
    assert [c.json()["prompt"] for c in relay.creates()] == prompts
    # Each prompt's progress starts afresh: no "100%" carried over from the one before.
    assert "generating 100%" not in result.err
    assert "generating 40%" in result.err  # (how many polls saw it depends on the load)


def test_batch_where_every_prompt_succeeds_exits_0(invoke, relay, tmp_path):
    # Excel on a Chinese Windows saves CSV in GBK; a quoted prompt may span lines.
    text = '提示词\n一只猫在滑板上\n"长城上的日出,\n航拍"\n夜晚的上海外滩\n'
    (tmp_path / "list.csv").write_bytes(text.encode("gbk"))
    relay.set_default(quick_script(relay))
    result = invoke("--batch", "list.csv")
    assert result.code == 0, result.err
    lines = batch_lines(result.out)
    assert [line[0] for line in lines] == ["ok", "ok", "ok"]
    assert [line[2] for line in lines] == ["一只猫在滑板上", "长城上的日出, 航拍", "夜晚的上海外滩"]
    assert [user_prompt(p) for p in relay.posts()] == [
        "一只猫在滑板上",
        "长城上的日出,\n航拍",
        "夜晚的上海外滩",
    ]
    assert result.err.splitlines()[-1] == "3 of 3 made, 0 failed"


def test_batch_masks_the_key_on_stdout_too(invoke, relay, tmp_path):
    (tmp_path / "two.txt").write_text("first\nsecond\n")
    relay.push(error_reply(401, error_body(f"无效的令牌 {CLI_KEY}")))
    relay.set_default(quick_script(relay))
    result = invoke("--batch", "two.txt")
    assert result.code == 1
    (failed, made) = batch_lines(result.out)
    assert failed[0] == "failed" and cli.HIDDEN in failed[1] and failed[2] == "first"
    assert made[0] == "ok" and made[2] == "second"
    assert CLI_KEY not in result.out + result.err


@pytest.mark.parametrize(
    ("name", "content", "env", "kind"),
    [
        ("empty.txt", "\n  \n\n", {}, "batch_empty"),
        ("header.csv", "prompt\n", {}, "batch_empty"),
        ("many.txt", "a\nb\nc\nd\n", {"SUXI_MAX_BATCH": "3"}, "batch_too_long"),
    ],
)
def test_batch_files_that_cannot_be_sent_exit_2(invoke, relay, tmp_path, name, content, env, kind):
    (tmp_path / name).write_text(content)
    result = invoke("--batch", name, **env)
    assert result.code == 2
    assert f"error: {cli.describe(kind, count=4, limit=3)}" in result.err
    assert result.out == ""
    assert relay.requests == []


def test_batch_file_that_does_not_exist_exits_2(invoke, relay):
    result = invoke("--batch", "nowhere.txt")
    assert result.code == 2
    assert "error: no such file: nowhere.txt" in result.err
    assert relay.requests == []


def test_one_bad_prompt_stops_the_batch_before_anything_is_sent(invoke, relay, tmp_path):
    (tmp_path / "list.txt").write_text("fine\n" + "x" * 50 + "\n")
    result = invoke("--batch", "list.txt", SUXI_MAX_PROMPT_CHARS="20")
    assert result.code == 2
    assert cli.describe("prompt_too_long", length=50, limit=20) in result.err
    assert relay.requests == []


# ------------------------------------------------------------------------------ the pieces


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        ("一只猫\n两只狗\n".encode("utf-16"), "list.txt", ["一只猫", "两只狗"]),
        ("提示词,备注\n一只猫在滑板上,1\n".encode("gb18030"), "list.csv", ["一只猫在滑板上"]),
        ("\ufeffPrompt\r\na\r\n\r\nb\r\n".encode(), "list.csv", ["a", "b"]),
        (b"prompt\nsecond\n", "list.txt", ["prompt", "second"]),  # only a CSV header
    ],
)
def test_batch_files_are_read_in_the_encodings_people_save(tmp_path, data, name, expected):
    (tmp_path / name).write_bytes(data)
    assert prompts_from("", str(tmp_path / name), 50) == expected


def test_a_very_long_csv_field_is_a_prompt_not_a_crash(tmp_path):
    (tmp_path / "long.csv").write_text('"' + "x" * 200_000 + '"\nshort\n')
    prompts = prompts_from("", str(tmp_path / "long.csv"), 50)
    assert [len(p) for p in prompts] == [200_000, 5]


@pytest.mark.parametrize(
    ("line", "kind"),
    [("short prompt\n", "batch_too_long"), ("x" * 200_000 + "\n", "prompt_too_long")],
)
def test_a_file_over_a_megabyte_names_the_limit_it_passes(tmp_path, line, kind):
    path = tmp_path / "big.txt"
    path.write_text(line * (MAX_FILE // len(line) + 2))
    with pytest.raises(InputError) as caught:
        prompts_from("", str(path), 50, prompt_limit=4000)
    assert caught.value.kind == kind
    assert "Something unexpected" not in cli.describe(caught.value.kind, **caught.value.values)


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


def test_terminal_sink_leaves_only_a_saved_video(tmp_path):
    dest = tmp_path / "clip-abc123.mp4"
    sink = cli.TerminalSink(cli.Reporter(io.StringIO(), tty=False), dest)
    leftovers = [
        tmp_path / "clip-abc123.mp4.part",
        sink.thumbnail_path(),
        sink.thumbnail_path().with_name(sink.thumbnail_path().name + ".part"),
    ]
    for path in [dest, *leftovers]:
        path.write_bytes(b"x")
    sink.clean_up()  # what an interrupted download of the thumbnail leaves
    assert files_in(tmp_path) == [dest]


def test_piped_reporter_starts_each_generation_afresh():
    stream = io.StringIO()
    reporter = cli.Reporter(stream, tty=False, clock=lambda: 0.0)
    reporter.begin()
    reporter.update("generating", 93)
    reporter.update("done", 100)
    reporter.begin()
    reporter.update("queued")
    reporter.update("generating")
    assert stream.getvalue().splitlines() == [
        "[0:00] generating 93%",
        "[0:00] done 100%",
        "[0:00] queued",
        "[0:00] generating",  # not "generating 100%": the last video's percent is gone
    ]
