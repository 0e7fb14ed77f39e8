"""The documented API — ``/generate``, ``/modify``, ``/my_videos``, ``/open_job``,
``/check_again``, ``/delete_job``, ``/stop`` — on hidden components (the README lists the
contract). The page itself uses its form and its own routes."""

from __future__ import annotations

import gradio as gr

from .handlers import Handlers


def add_api(h: Handlers) -> None:
    """The documented API (``/generate``, ``/modify``, ``/my_videos`` …) on hidden components:
    the page itself uses the form above and its own routes."""
    with gr.Column(visible=False):
        status, video, panel, job_id = gr.Textbox(), gr.Video(), gr.HTML(), gr.Textbox()
        picked_prompt, instruction = gr.Textbox(), gr.Textbox()
        i = {
            "prompt": gr.Textbox(),
            "max_tokens": gr.Number(1000),
            "stream": gr.Checkbox(True),
            "visitor": gr.Textbox(),
            "api_key": gr.Textbox(""),
            "model": gr.Textbox(""),
            "orientation": gr.Textbox("auto"),
            "duration": gr.Textbox("auto"),
            "image": gr.File(type="filepath"),
            "image_url": gr.Textbox(""),
            "format": gr.Textbox("auto"),
            "size": gr.Textbox("auto"),
            "watermark": gr.Checkbox(True),
            "private": gr.Checkbox(False),
            "count": gr.Number(1),
        }
        outputs = [status, video, panel, job_id]
        streamed = {"show_progress": "hidden", "concurrency_limit": None}
        gr.Button().click(
            h.generate, inputs=list(i.values()), outputs=outputs, api_name="generate", **streamed
        )
        modify_inputs = [
            job_id,
            instruction,
            *(
                i[k]
                for k in (
                    "max_tokens",
                    "stream",
                    "visitor",
                    "api_key",
                    "model",
                    "orientation",
                    "duration",
                )
            ),
        ]
        gr.Button().click(
            h.modify, inputs=modify_inputs, outputs=outputs, api_name="modify", **streamed
        )
        gr.api(h.my_videos, api_name="my_videos")
        one = [job_id, i["visitor"]]
        gr.Button().click(
            h.open_job,
            inputs=one,
            outputs=[status, video, picked_prompt, job_id],
            api_name="open_job",
        )
        gr.Button().click(
            h.check_again,
            inputs=[*one, i["api_key"]],
            outputs=[status, video],
            api_name="check_again",
        )
        gr.Button().click(h.delete_job, inputs=one, outputs=[status], api_name="delete_job")
        gr.Button().click(h.stop, inputs=one, outputs=[status], api_name="stop", queue=False)
