"""A relay simulator: a real HTTP/1.1 server on loopback that answers like the video relays.

Three callers use it:

* **the offline demo** (the app runs without an API key): ``SimRelay(speed=…, port=…).start()``
  and point the client at ``relay.base_url``. A chat generation plays :func:`demo_script`
  (~45 s, family A); a task in any task format follows the default timeline (~45 s) and its
  state is derived from its id, so polls keep working after the app (and the relay) restart;
* **the pytest suite**: ``relay.push(script)`` decides what the next chat completion gets,
  ``relay.push_create(reply)`` / ``relay.push_task(TaskPlan(...))`` what the next task create
  gets and how that task behaves; ``relay.requests``, ``relay.creates()``,
  ``relay.polls(task_id)`` and ``relay.disconnects`` record what the client did;
* **benchmarks**: many concurrent streams of a script whose progress lines carry the server's
  send time.

Run it alone with ``python -m suxi.simrelay --port 8765 --speed 1``.
"""

from .account import UNLIMITED_BALANCE
from .chat import CHAT_PATH, improve_prompt
from .demo import DEFAULT_TIMELINE, demo_script, typed
from .files import DEFAULT_VIDEO, THUMB_WEBP
from .plans import RELAY_FILE, REMOVE, Frame, TaskPlan
from .server import SimRelay
from .steps import (
    Content,
    Data,
    Done,
    Drop,
    Finish,
    RecordedRequest,
    Reply,
    Script,
    ScriptFactory,
    Send,
    Sleep,
    Stamp,
    Step,
    completion_chunk,
    error_body,
    error_reply,
    request_model,
    user_prompt,
)

__all__ = [
    "CHAT_PATH",
    "DEFAULT_TIMELINE",
    "DEFAULT_VIDEO",
    "RELAY_FILE",
    "REMOVE",
    "THUMB_WEBP",
    "UNLIMITED_BALANCE",
    "Content",
    "Data",
    "Done",
    "Drop",
    "Finish",
    "Frame",
    "RecordedRequest",
    "Reply",
    "Script",
    "ScriptFactory",
    "Send",
    "SimRelay",
    "Sleep",
    "Stamp",
    "Step",
    "TaskPlan",
    "completion_chunk",
    "demo_script",
    "error_body",
    "error_reply",
    "improve_prompt",
    "request_model",
    "typed",
    "user_prompt",
]
