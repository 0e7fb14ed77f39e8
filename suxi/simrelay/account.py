"""The relay's account routes: the model list, the balance, the price list and characters.

Shapes follow new-api (the relay software most relays run); see ``docs/model-families.md``.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import TYPE_CHECKING, Any

from ..families import GENERIC, family_for, is_video_model
from .conn import Conn, not_found
from .forms import FormError, read_fields
from .plans import decode
from .steps import RecordedRequest, error_body

if TYPE_CHECKING:
    from .server import SimRelay

UNLIMITED_BALANCE = 100000000.0  # what new-api reports for a token without a quota limit

_OWNERS = {
    "sora": "openai",
    "sora-pro": "openai",
    "veo": "google",
    "grok": "xai",
    "wan": "ali",
    "seedance": "volcengine",
    "kling": "kling",
    "hailuo": "minimax",
}
_CHAT_OWNERS = (("gpt", "openai"), ("o1", "openai"), ("claude", "anthropic"), ("gemini", "google"))


def owner(model: str) -> str:
    family = family_for(model)
    if family is not GENERIC:
        return _OWNERS.get(family.key, "custom")
    name = model.lower()
    return next((who for prefix, who in _CHAT_OWNERS if name.startswith(prefix)), "custom")


async def models(relay: SimRelay, conn: Conn, req: RecordedRequest) -> None:
    data = [{"id": m, "object": "model", "owned_by": owner(m)} for m in relay.models]
    await conn.respond_json(200, {"object": "list", "data": data})


# --------------------------------------------------------------------------------------- balance


def charge(relay: SimRelay) -> bytes | None:
    """Spend one video's price; the 403 body new-api sends when the balance cannot pay."""
    price = relay.price_per_video
    if relay.balance is not None:
        if relay.balance < price:
            return error_body(
                f"用户额度不足, 剩余额度: ＄{max(relay.balance, 0):.6f}",
                "new_api_error",
                "insufficient_user_quota",
            )
        relay.balance -= price
    relay.spent += price
    return None


async def subscription(relay: SimRelay, conn: Conn, req: RecordedRequest) -> None:
    if relay.balance is None:
        await conn.respond(404, not_found())
        return
    limit = round(relay.balance + relay.spent, 6)
    if relay.balance >= UNLIMITED_BALANCE:
        limit = UNLIMITED_BALANCE
    await conn.respond_json(
        200,
        {
            "object": "billing_subscription",
            "has_payment_method": True,
            "soft_limit_usd": limit,
            "hard_limit_usd": limit,
            "system_hard_limit_usd": limit,
            "access_until": 0,
        },
    )


async def usage(relay: SimRelay, conn: Conn, req: RecordedRequest) -> None:
    if relay.balance is None:
        await conn.respond(404, not_found())
        return
    await conn.respond_json(200, {"object": "list", "total_usage": round(relay.spent * 100, 6)})


# --------------------------------------------------------------------------------------- pricing


async def pricing(relay: SimRelay, conn: Conn, req: RecordedRequest) -> None:
    if not relay.pricing_enabled:
        await conn.respond(404, not_found())
        return
    data = []
    for model in relay.models:
        video = is_video_model(model)
        data.append(
            {
                "model_name": model,
                "quota_type": 1 if video else 0,  # 1: a price per call, 0: token ratios
                "model_ratio": 0 if video else 0.075,
                "model_price": relay.price_per_video if video else 0,
                "owner_by": "",
                "completion_ratio": 0 if video else 4,
                "enable_groups": ["default"],
                "supported_endpoint_types": ["openai-video"] if video else ["openai"],
            }
        )
    await conn.respond_json(
        200,
        {
            "success": True,
            "data": data,
            "vendors": [],
            "group_ratio": {"default": 1},
            "usable_group": {"default": "默认分组"},
            "supported_endpoint": {
                "openai": {"path": "/v1/chat/completions", "method": "POST"},
                "openai-video": {"path": "/v1/video/generations", "method": "POST"},
            },
            "auto_groups": [],
            "pricing_version": "simrelay",
        },
    )


# ------------------------------------------------------------------------------------ characters

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*,\s*(\d+(?:\.\d+)?)\s*$")


def _character_error(fields: dict[str, Any]) -> str | None:
    if fields.get("from_task"):
        if decode(str(fields["from_task"])) is None:
            return f"task {fields['from_task']} not found"
        return None
    if not fields.get("url"):
        return "url and timestamps, or from_task, are required"
    span = _SPAN.match(str(fields.get("timestamps", "")))
    if not span:
        return 'timestamps must look like "1,3"'
    start, end = float(span.group(1)), float(span.group(2))
    if not 0 < end - start <= 3:
        return "the character span must be 1 to 3 seconds long"
    return None


async def create_character(relay: SimRelay, conn: Conn, req: RecordedRequest) -> None:
    if not relay.characters_enabled:
        await conn.respond(404, not_found())
        return
    try:
        fields = read_fields(req)
    except FormError as err:
        await conn.respond(400, error_body(str(err), "invalid_request_error"))
        return
    problem = _character_error(fields)
    if problem:
        await conn.respond(400, error_body(problem, "invalid_request_error"))
        return
    character = {"id": f"ch_{secrets.token_hex(12)}", "username": f"cameo.{secrets.token_hex(3)}"}
    relay.characters.append({**character, "request": json.loads(json.dumps(fields))})
    await conn.respond_json(200, character)
