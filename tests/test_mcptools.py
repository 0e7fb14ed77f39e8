"""Tools for AI assistants: generate with progress, my_videos and check_again, called in-process
against the simulated relay, and once through Gradio's MCP server with the ``mcp`` client over
HTTP (that one needs the ``mcp`` package, Gradio's ``mcp`` extra)."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import gradio as gr
import pytest

from suxi.cards import media_url
from suxi.mcptools import McpTools, add_tools, base_url
from suxi.runtime import Runtime
from suxi.settings import Settings
from suxi.simrelay import Content, Drop, RecordedRequest, demo_script
from suxi.studio import Studio

TOKEN = "visitor-token-0000000001"
OTHER = "visitor-token-0000000002"


class Progress:
    """Stands in for gr.Progress: records what the tool reports."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, int], str]] = []

    def __call__(self, progress, desc=None, **kw) -> None:
        self.calls.append((progress, desc))


async def tools_for(settings: Settings) -> McpTools:
    runtime = Runtime(settings)
    await runtime.start()
    return McpTools(Studio(runtime))


def dropped_after_the_task_id(request: RecordedRequest, base_url: str) -> list:
    """The demo stream, cut once the task id and the queue line were sent."""
    steps, text = [], ""
    for step in demo_script(request, base_url):
        steps.append(step)
        text += step.text if isinstance(step, Content) else ""
        if "排队中" in text:
            return [*steps, Drop()]
    raise AssertionError("the demo script never queued")


def kept_file(tools: McpTools, summary: dict, base: str = "") -> Path:
    """The file a tool's video_url points at (the /media route serves it)."""
    job = tools.studio.jobs.get(summary["job_id"])
    assert summary["video_url"] == f"{base}{media_url(job, job.file)}"
    return tools.studio.settings.data_dir / job.file


# — in-process —


async def test_generate_reports_progress_and_returns_the_video_and_a_new_token(settings, relay):
    tools = await tools_for(settings)
    progress = Progress()
    try:
        answer = await tools.generate("a red kite over a hill", progress=progress)
        summary = json.loads(answer)
        assert kept_file(tools, summary).stat().st_size > 1000
    finally:
        await tools.studio.runtime.close()
    assert summary["state"] == "done" and summary["prompt"] == "a red kite over a hill"
    assert summary["message"].startswith("Done in ")
    assert len(summary["visitor_token"]) >= 16
    percents = [p[0] for p, _ in progress.calls]
    assert percents == sorted(percents) and percents[-1] == 100
    assert all(total == 100 for _, total in (p for p, _ in progress.calls))
    assert any(desc.startswith("Generating") for _, desc in progress.calls)
    assert len(relay.posts()) == 1


async def test_generate_keeps_a_given_token_and_refuses_a_malformed_one(settings, relay):
    tools = await tools_for(settings)
    try:
        answer = await tools.generate("a kite", visitor_token=TOKEN, progress=Progress())
        assert json.loads(answer)["visitor_token"] == TOKEN
        bad = await tools.generate("a kite", visitor_token="short", progress=Progress())
    finally:
        await tools.studio.runtime.close()
    assert json.loads(bad)["error"] == "bad_token"
    assert len(relay.posts()) == 1


async def test_generate_explains_what_it_refused_and_sends_nothing(settings, relay):
    tools = await tools_for(settings)
    try:
        answer = await tools.generate("a kite", duration="7", progress=Progress())
        empty = await tools.generate("   ", progress=Progress())
    finally:
        await tools.studio.runtime.close()
    refused = json.loads(answer)
    assert refused["error"] == "bad_option"
    assert refused["message"] == "sora-2 does not take duration “7”; choose one of: 10, 15."
    assert json.loads(empty)["error"] == "empty_prompt"
    assert relay.posts() == []


async def test_my_videos_on_a_shared_site_needs_the_token(settings, relay):
    tools = await tools_for(settings.with_(shared=True))
    try:
        answer = await tools.generate("a kite", visitor_token=TOKEN, progress=Progress())
        job_id = json.loads(answer)["job_id"]
        anonymous = json.loads(tools.my_videos())
        mine = json.loads(tools.my_videos(TOKEN))
        theirs = json.loads(tools.my_videos(OTHER))
    finally:
        await tools.studio.runtime.close()
    assert anonymous["videos"] == [] and "visitor_token" in anonymous["message"]
    assert [v["id"] for v in mine["videos"]] == [job_id] and mine["total"] == 1
    assert mine["videos"][0]["video_url"] == json.loads(answer)["video_url"]
    assert "owner" not in mine["videos"][0]
    assert theirs["videos"] == []


async def test_my_videos_locally_lists_every_video(settings, relay):
    tools = await tools_for(settings)
    try:
        await tools.generate("a kite", visitor_token=TOKEN, progress=Progress())
        await tools.generate("a fox", visitor_token=OTHER, progress=Progress())
        listed = json.loads(tools.my_videos())
    finally:
        await tools.studio.runtime.close()
    assert sorted(v["prompt"] for v in listed["videos"]) == ["a fox", "a kite"]


async def test_check_again_finds_a_video_whose_stream_was_cut(settings, relay):
    relay.push(dropped_after_the_task_id)
    tools = await tools_for(settings.with_(shared=True))
    try:
        answer = await tools.generate("a kite", visitor_token=TOKEN, progress=Progress())
        failed = json.loads(answer)
        assert failed["state"] == "failed" and failed["video_url"] is None
        hidden = await tools.check_again(failed["job_id"])  # no token on a shared site
        assert json.loads(hidden)["error"] == "not_found_job"
        stranger = await tools.check_again(failed["job_id"], OTHER)
        assert json.loads(stranger)["found"] == "not_found_job"
        await asyncio.sleep(0.5)  # the relay finished the task meanwhile (44 s at speed 200)
        result = json.loads(await tools.check_again(failed["job_id"], TOKEN, progress=Progress()))
        assert kept_file(tools, result).is_file()
    finally:
        await tools.studio.runtime.close()
    assert result["found"] == "recovered" and result["state"] == "done"


async def test_check_again_waits_for_a_video_still_being_made(settings, relay):
    relay.push(dropped_after_the_task_id)
    tools = await tools_for(settings)
    progress = Progress()
    try:
        answer = await tools.generate("a kite", visitor_token=TOKEN, progress=Progress())
        relay.speed = 40  # the task's timeline now lasts about a second
        result = json.loads(
            await tools.check_again(json.loads(answer)["job_id"], progress=progress)
        )
        assert kept_file(tools, result).is_file()
    finally:
        await tools.studio.runtime.close()
    assert result["found"] == "still_running" and result["state"] == "done"
    assert any(desc.startswith("Generating") for _, desc in progress.calls)


async def test_check_again_on_a_finished_video_has_nothing_to_do(settings, relay):
    tools = await tools_for(settings)
    try:
        answer = await tools.generate("a kite", visitor_token=TOKEN, progress=Progress())
        found = json.loads(await tools.check_again(json.loads(answer)["job_id"], TOKEN))
    finally:
        await tools.studio.runtime.close()
    assert found["found"] == "not_applicable" and found["state"] == "done"
    assert found["video_url"] == json.loads(answer)["video_url"]


class FakeRequest:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers
        self.client = None


def test_links_go_back_to_the_address_the_caller_used():
    assert base_url(None) == ""
    assert base_url(FakeRequest({"host": "127.0.0.1:7860"})) == "http://127.0.0.1:7860"
    behind_proxy = {
        "host": "10.0.0.5:7860",
        "X-Forwarded-Host": "videos.example.com, inner",
        "X-Forwarded-Proto": "https,http",
    }
    assert base_url(FakeRequest(behind_proxy)) == "https://videos.example.com"


# — through Gradio's MCP server, over HTTP —


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_the_tools_through_gradios_mcp_server(settings, relay):
    pytest.importorskip(
        "mcp",
        reason="the `mcp` package (Gradio's `mcp` extra) is not installed; this test drives "
        "the MCP server over HTTP with its client",
    )
    import uvicorn
    from fastapi import FastAPI
    from mcp import ClientSession
    from mcp.client import streamable_http

    # the newer name (mcp ≥ 1.24); the older one is deprecated there
    connect = getattr(streamable_http, "streamable_http_client", None)
    connect = connect or streamable_http.streamablehttp_client

    tools = await tools_for(settings.with_(shared=True))
    with gr.Blocks() as blocks:
        add_tools(tools)
    port = free_port()
    app = gr.mount_gradio_app(
        FastAPI(),
        blocks,
        path="/",
        mcp_server=True,
        server_port=port,
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    notes: list[str] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        notes.append(message or "")

    try:
        while not server.started:
            await asyncio.sleep(0.02)
        url = f"http://127.0.0.1:{port}/gradio_api/mcp/"
        async with (
            connect(url) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            listed = {t.name: t for t in (await session.list_tools()).tools}
            assert set(listed) == {"generate", "my_videos", "check_again"}
            schema = listed["generate"].inputSchema
            assert schema["required"] == ["prompt"]
            assert "visitor_token" in schema["properties"]
            assert "paid request" in listed["generate"].description
            made, other = await asyncio.wait_for(
                asyncio.gather(
                    session.call_tool(
                        "generate", {"prompt": "a kite over a hill"}, progress_callback=progress
                    ),
                    session.call_tool("generate", {"prompt": "a fox", "visitor_token": OTHER}),
                ),
                60,
            )
            assert not made.isError and not other.isError, (made.content, other.content)
            # both were made at once, not one after the other
            first, second = (
                tools.studio.jobs.get(json.loads(m.content[0].text)["job_id"])
                for m in (made, other)
            )
            assert first.created < second.finished and second.created < first.finished
            summary = json.loads(made.content[0].text)
            assert summary["state"] == "done"
            assert len(made.content) == 1 and len(other.content) == 1
            assert summary["video_url"].startswith(f"http://127.0.0.1:{port}/media/")
            assert kept_file(tools, summary, f"http://127.0.0.1:{port}").is_file()
            steps = [int(n.split("Step ")[1].split(" ")[0]) for n in notes if "Step " in n]
            assert steps == sorted(steps) and steps[-1] > 50, notes
            assert any(n.startswith("Progress Generating") for n in notes), notes
            mine = await session.call_tool("my_videos", {"visitor_token": summary["visitor_token"]})
            assert [v["id"] for v in json.loads(mine.content[0].text)["videos"]] == [
                summary["job_id"]
            ]
    finally:
        server.should_exit = True
        await serving
        await tools.studio.runtime.close()
