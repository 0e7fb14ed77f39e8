"""A public deployment (SUXI_SHARED=1): visitor B cannot see, follow, stop, delete, check, share
or download visitor A's jobs through any door — the Gradio API, the page's own routes, the file
routes — and a missing or forged token sees nothing at all."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import uuid
import zipfile
from urllib.parse import quote

import pytest

from suxi.simrelay import DEFAULT_VIDEO, Frame, SimRelay, TaskPlan

from .apprunner import AppProcess, inputs, new_prompt, video_url, wait_for

OPERATOR = "sk-operator-shared-0001"
ALICE, BOB = "alice-" + uuid.uuid4().hex, "bob-" + uuid.uuid4().hex
FORGED = "forged-" + uuid.uuid4().hex
SAMPLE = DEFAULT_VIDEO.read_bytes()
NOT_FOUND = "There is no such video in your list (it may have been deleted)."
NOTHING_TO_STOP = "This video is not being made any more; there is nothing to stop."


@pytest.fixture(scope="module")
def relay():
    with SimRelay(speed=200).start() as sim:
        yield sim


@pytest.fixture(scope="module")
def app(relay: SimRelay, tmp_path_factory: pytest.TempPathFactory):
    with AppProcess(
        tmp_path_factory.mktemp("shared"),
        api_key=OPERATOR,
        base_url=relay.base_url,
        SUXI_SHARED="1",
        SUXI_VISITOR_KEYS="1",
        SUXI_VISITOR_MAX_PER_HOUR="100",
        SUXI_VISITOR_MAX_RUNNING="10",
    ) as process:
        yield process


def generate(app: AppProcess, visitor: str, prompt: str | None = None) -> tuple:
    prompt = prompt or new_prompt("A shared video")
    return app.call(*inputs(prompt, visitor=visitor))


@pytest.fixture(scope="module")
def jobs(app: AppProcess, relay: SimRelay) -> dict[str, str]:
    """Alice's finished, shared and running jobs, and Bob's own."""
    done = generate(app, ALICE)[3]
    shared = generate(app, ALICE)[3]
    assert app.act(ALICE, "share", shared)["ok"]
    relay.push_task(TaskPlan((Frame(0, "running", 10),)))  # never finishes
    client = app.client()
    slow = inputs(new_prompt("Alice's slow video"), visitor=ALICE, model="veo3", fmt="unified")
    call, (_status, _video, _panel, running) = app.begin(client, *slow)
    call.cancel()
    app.close_later(client)
    bob = generate(app, BOB)[3]
    return {"done": done, "shared": shared, "running": running, "bob": bob}


def alice_unchanged(app: AppProcess, jobs: dict[str, str]) -> None:
    mine = {j["id"]: j for j in app.my_videos(ALICE)}
    assert mine[jobs["done"]]["state"] == mine[jobs["shared"]]["state"] == "done"
    assert mine[jobs["running"]]["state"] == "generating"
    for job_id in ("done", "shared"):
        (card,) = app.follow(ALICE, [jobs[job_id]])
        assert app.http.get(card["video"]).content == SAMPLE
    (card,) = app.follow(ALICE, [jobs["shared"]])
    assert card["shared"] and app.http.get(card["share_url"]).status_code == 200


# ── the Gradio API ─────────────────────────────────────────────────────────────────────────────


def test_the_api_shows_and_touches_only_ones_own_jobs(app: AppProcess, relay, jobs):
    alices = {jobs["done"], jobs["shared"], jobs["running"]}
    assert alices <= {j["id"] for j in app.my_videos(ALICE)}
    assert jobs["bob"] not in {j["id"] for j in app.my_videos(ALICE)}
    for someone in (BOB, FORGED, None):
        assert not alices & {j["id"] for j in app.my_videos(someone)}, someone

    for job_id in alices:
        status, video, prompt, shown_id = app.call(job_id, BOB, api_name="/open_job")
        assert (status, video, prompt, shown_id) == (NOT_FOUND, None, "", "")
        assert app.call(job_id, BOB, api_name="/delete_job") == NOT_FOUND
        assert tuple(app.call(job_id, BOB, "", api_name="/check_again")) == (NOT_FOUND, None)
        assert app.call(job_id, BOB, api_name="/stop") == NOTHING_TO_STOP
    before = len(relay.creates())
    status, video, _panel, job_id = app.call(
        jobs["done"], "Make it blue", 1000, True, BOB, "", "", "auto", "auto", api_name="/modify"
    )
    assert status.startswith("Only a finished video can be changed") and job_id == ""
    assert len(relay.creates()) == before
    alice_unchanged(app, jobs)


# ── the page's own routes ──────────────────────────────────────────────────────────────────────


def test_follow_answers_gone_for_jobs_of_others(app: AppProcess, jobs):
    alices = [jobs["done"], jobs["shared"], jobs["running"]]
    frames = app.follow(BOB, [*alices, jobs["bob"]])
    assert [f for f in frames if f.get("gone")] == [{"id": i, "gone": True} for i in alices]
    assert [f["id"] for f in frames if not f.get("gone")] == [jobs["bob"]]
    for someone in (None, FORGED, "short"):
        frames = app.follow(someone, alices)
        assert frames == [{"id": i, "gone": True} for i in alices], someone


@pytest.mark.parametrize(
    "action", ["stop", "delete", "check", "modify", "again", "share", "unshare", "stop_batch"]
)
def test_card_actions_refuse_jobs_of_others(app: AppProcess, relay, jobs, action: str):
    before = len(relay.creates())
    for job_id in (jobs["done"], jobs["shared"], jobs["running"]):
        answer = app.act(BOB, action, job_id, text="Make it blue")
        assert not answer.get("card") and not answer.get("started"), answer
        assert answer["ok"] is False or answer.get("message") == NOT_FOUND, answer
    assert len(relay.creates()) == before
    alice_unchanged(app, jobs)


def test_the_library_and_the_zip_hold_only_ones_own(app: AppProcess, jobs):
    alices = [jobs["done"], jobs["shared"], jobs["running"]]
    page = app.library(BOB)
    assert [c["id"] for c in page["cards"]] == [jobs["bob"]] and page["total"] == 1
    alice_prompt = app.job(jobs["done"], ALICE)["prompt"]
    for someone in (BOB, FORGED, None):
        assert app.library(someone, search=alice_prompt)["total"] == 0
    assert {c["id"] for c in app.library(ALICE)["cards"]} == set(alices)

    refused = app.post("/suxi/zip", {"visitor": BOB, "ids": alices})
    assert refused.status_code == 404 and SAMPLE[:64] not in refused.content
    own = app.post("/suxi/zip", {"visitor": BOB, "ids": [*alices, jobs["bob"]]})
    assert own.status_code == 200
    with zipfile.ZipFile(io.BytesIO(own.content)) as archive:
        assert len(archive.namelist()) == 1 and archive.read(archive.namelist()[0]) == SAMPLE


# ── files ──────────────────────────────────────────────────────────────────────────────────────


def raw_get(app: AppProcess, path: str) -> tuple[int, bytes]:
    """A GET with the path sent exactly as written (HTTP clients normalise ``..`` away)."""
    connection = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_media_paths_serve_only_the_named_file(app: AppProcess, jobs):
    (card,) = app.follow(ALICE, [jobs["done"]])
    _, _, token, name = card["video"].split("/")
    assert raw_get(app, card["video"]) == (200, SAMPLE)
    db = str(app.data_dir.resolve() / "jobs.sqlite3")
    attempts = [
        f"/media/{token}/..%2F..%2Fjobs.sqlite3",
        f"/media/{token}/%2e%2e%2f%2e%2e%2fjobs.sqlite3",
        f"/media/{token}/../../jobs.sqlite3",
        f"/media/{token}/..%5C..%5Cjobs.sqlite3",
        f"/media/{token}/jobs.sqlite3",
        f"/media/{token}/.env",
        f"/media/{token}/{quote(db, safe='')}",
        f"/media/{token}/{db}",
        f"/media/{token}//etc/passwd",
        f"/media/{token}/{name}%00.txt",
        f"/media/..%2F..%2Fjobs.sqlite3/{name}",
        f"/media/{'A' * 22}/{name}",
        f"/media/{token}.mp4/{name}",
    ]
    for path in attempts:
        status, body = raw_get(app, path)
        assert status == 404, (path, status)
        assert b"SQLite format" not in body and SAMPLE[:64] not in body, path


def test_the_gradio_file_route_refuses_the_database_and_guessed_videos(app: AppProcess, jobs):
    data = app.data_dir.resolve()
    targets = [
        data / "jobs.sqlite3",
        data / "jobs.sqlite3-wal",
        data / "videos",
        data / "videos" / f"{jobs['done']}.mp4",
        f"{data}/videos/../jobs.sqlite3",
        ".env",
        "app.py",
    ]
    for target in targets:
        response = app.http.get(f"/gradio_api/file={target}")
        assert response.status_code in (403, 404), (target, response.status_code)
        assert b"SQLite format" not in response.content and b"SUXI_" not in response.content


def test_a_deleted_video_and_a_revoked_share_answer_404(app: AppProcess):
    prompt = new_prompt('<script>alert("shared")</script> & a fox')
    status, video, _panel, job_id = generate(app, ALICE, prompt)
    assert status.startswith("Done in")
    (card,) = app.follow(ALICE, [job_id])
    shared = app.act(ALICE, "share", job_id)["card"]["share_url"]
    file_url = video_url(video)
    assert [app.http.get(u).status_code for u in (card["video"], file_url, shared)] == [200] * 3
    page = app.http.get(shared).text  # the prompt is shown as text, never as markup
    assert "&lt;script&gt;alert(&quot;shared&quot;)&lt;/script&gt; &amp; a fox" in page
    assert "<script>" not in page
    assert app.http.get(shared + "/video.mp4").content == SAMPLE
    assert app.act(BOB, "unshare", job_id)["ok"] is False
    assert app.http.get(shared).status_code == 200

    assert app.act(ALICE, "unshare", job_id)["ok"]
    assert app.http.get(shared).status_code == 404
    assert app.http.get(shared + "/video.mp4").status_code == 404
    assert app.act(ALICE, "share", job_id)["ok"]  # a new link; then the video goes
    (card,) = app.follow(ALICE, [job_id])
    assert app.call(job_id, ALICE, api_name="/delete_job").startswith("Deleted")
    for url in (card["video"], card["share_url"], card["share_url"] + "/video.mp4"):
        assert app.http.get(url).status_code == 404, url
    assert app.http.get(file_url).status_code in (403, 404)
    assert wait_for(lambda: app.job(job_id, ALICE) is None, 5)


# ── junk and floods on the page's routes ───────────────────────────────────────────────────────


def test_the_page_routes_answer_junk_without_a_traceback(app: AppProcess, jobs):
    junk = [
        ("/suxi/follow", {"visitor": ALICE, "ids": 5}),
        ("/suxi/follow", {"visitor": ALICE, "ids": jobs["done"]}),  # a string, not a list
        ("/suxi/zip", {"visitor": ALICE, "ids": 5}),
        ("/suxi/library", {"visitor": ALICE, "filter": []}),
        ("/suxi/library", {"visitor": ALICE, "offset": "1e999", "search": 5}),
        ("/suxi/act", {"visitor": ALICE, "action": [], "id": {"x": 1}}),
        ("/suxi/act", {"visitor": ALICE, "action": "modify", "id": jobs["done"], "text": 5}),
        ("/suxi/library", {"visitor": ALICE, "pad": "x" * 70_000}),
    ]
    for path, body in junk:
        response = app.http.post(path, json=body)
        assert response.status_code in (200, 404, 413), (path, body, response.status_code)
        assert not response.text.startswith('data: {"id": "'), "a string was read as ids"
    as_json = {"Content-Type": "application/json"}
    for raw in (b"[1, 2", b"\xff\xfe", b"null", b'{"offset": Infinity}', b'{"offset": NaN}'):
        assert app.http.post("/suxi/library", content=raw, headers=as_json).status_code == 200
    assert "Traceback" not in app.log()


def test_another_sites_simple_posts_are_refused(app: AppProcess, jobs):
    """A page elsewhere can make the browser send a form or text/plain POST without asking the
    app first; only JSON is read, so such a request can neither list nor delete anything."""
    body = json.dumps({"visitor": ALICE, "action": "delete", "id": jobs["done"]})
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""):
        for path in ("/suxi/act", "/suxi/library", "/suxi/follow", "/suxi/zip"):
            response = app.http.post(path, content=body, headers={"Content-Type": ctype})
            assert response.status_code == 415, (path, ctype, response.status_code)
    assert app.job(jobs["done"], ALICE)["state"] == "done"  # still there


def test_follow_streams_per_address_are_capped_and_given_back(app: AppProcess, jobs):
    body = {"visitor": ALICE, "ids": [jobs["running"]]}
    with contextlib.ExitStack() as streams:
        opened = [
            streams.enter_context(app.http.stream("POST", "/suxi/follow", json=body))
            for _ in range(32)
        ]
        assert all(r.status_code == 200 for r in opened)
        assert app.http.post("/suxi/follow", json=body).status_code == 429
    # Closed streams give their places back.
    wait_for(lambda: app.http.post("/suxi/follow", json={"ids": []}).status_code == 200, 5)
    with app.http.stream("POST", "/suxi/follow", json=body) as again:
        assert again.status_code == 200


def event_index(app: AppProcess, elem_id: str) -> int:
    """The Gradio event index of the click on the component with ``elem_id`` (the page's own,
    undocumented events: an attacker reads them from /config just the same)."""
    config = app.http.get("/config").json()
    ids = {c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id}
    return next(
        i
        for i, dep in enumerate(config["dependencies"])
        if any(target[0] in ids for target in dep.get("targets", []))
    )


def queue_call(app: AppProcess, fn_index: int, data: list) -> list[dict]:
    """One call through Gradio's queue protocol, as a browser makes it; every message back."""
    session = uuid.uuid4().hex
    joined = app.http.post(
        "/gradio_api/queue/join",
        json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None},
    )
    assert joined.status_code == 200, joined.text
    messages = []
    with app.http.stream("GET", f"/gradio_api/queue/data?session_hash={session}", timeout=30) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                message = json.loads(line[6:])
                messages.append(message)
                if message.get("msg") in ("process_completed", "close_stream"):
                    break
    return messages


def file_input(app: AppProcess, index: int, elem_id: str | None, path: str) -> list:
    """The event's inputs with its file input naming ``path`` (the others at their values)."""
    config = app.http.get("/config").json()
    components = {c["id"]: c for c in config["components"]}
    data = []
    for component in config["dependencies"][index]["inputs"]:
        props = components[component].get("props", {})
        is_file = components[component].get("type") == "file"
        if is_file and (elem_id is None or props.get("elem_id") == elem_id):
            data.append({"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": "x.txt"})
        else:
            data.append(props.get("value"))
    return data


def test_a_file_on_the_server_is_no_upload(app: AppProcess):
    """A batch "upload" that names the app's own requirements.txt must not turn its lines into
    prompts (the reply would show them)."""
    index = event_index(app, "batch-start")
    before = len(app.my_videos(None))
    final = queue_call(app, index, file_input(app, index, "batch-file", "requirements.txt"))[-1]
    assert final.get("msg") == "process_completed" and not final.get("success"), final
    assert "gradio==" not in json.dumps(final) and len(app.my_videos(None)) == before


def test_an_endless_server_file_named_as_a_picture_does_not_freeze_the_app(app: AppProcess):
    config = app.http.get("/config").json()
    index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "generate")
    data = file_input(app, index, None, "/dev/zero")
    data[0] = "a prompt with an endless picture"
    final = queue_call(app, index, data)[-1]
    assert not final.get("success"), final
    assert app.http.get("/", timeout=5).status_code == 200  # still answering at once
