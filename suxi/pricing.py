"""What a video costs, when the relay publishes its price list.

new-api serves ``GET /api/pricing`` without a key (docs/model-families.md, "What new-api
answers"): one entry per model, ``quota_type`` 1 meaning a price per call (``model_price``, in
the relay's display unit) and 0 meaning token ratios, which say nothing about one video. The
price shown is ``model_price`` times the ``default`` group's ratio when the model is sold in that
group — the group a new key usually belongs to; a key in another group may pay otherwise.

The list is kept a few minutes (a failure too, so a relay without the route is not asked on
every click), asked at most once at a time, and bounded by a short timeout: the price is a hint
next to the model list and never holds up a generation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .balance import format_amount, number, unit_word
from .errors import SuxiError
from .relay.http import RelayHTTP
from .texts import tr

log = logging.getLogger(__name__)

PRICING_PATH = "/api/pricing"
KEEP_SECONDS = 300.0
ASK_TIMEOUT = 3.0
MAX_PRICING_BODY = 8 * 1024 * 1024  # a relay with thousands of models


@dataclass(frozen=True)
class Price:
    model: str
    per_video: float  # in the relay's display unit, the default group's ratio applied

    def text(self, lang: str, unit: str = "") -> str:
        """``"0.5 quota per video"``; ``unit`` is ``SUXI_BALANCE_UNIT`` ("" = quota)."""
        price = format_amount(self.per_video, unit_word(unit, lang))
        return tr("price_per_video", lang, price=price)


def prices_from(reply: object) -> dict[str, Price]:
    """The per-video prices of a pricing reply (pure); models priced by tokens are left out."""
    if not isinstance(reply, dict) or reply.get("success") is False:
        return {}
    entries = reply.get("data")
    ratios = reply.get("group_ratio") if isinstance(reply.get("group_ratio"), dict) else {}
    default_ratio = number(ratios.get("default"))
    prices: dict[str, Price] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        model = entry.get("model_name")
        price = number(entry.get("model_price"))
        if not isinstance(model, str) or not model or number(entry.get("quota_type")) != 1:
            continue
        if price is None or price <= 0:
            continue
        groups = entry.get("enable_groups")
        if default_ratio and default_ratio > 0 and isinstance(groups, list) and "default" in groups:
            price *= default_ratio
        prices[model[:200]] = Price(model[:200], round(price, 6))
    return prices


class PriceList:
    """One relay's prices, kept :data:`KEEP_SECONDS`."""

    def __init__(
        self,
        http: RelayHTTP,
        *,
        keep: float = KEEP_SECONDS,
        timeout: float = ASK_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.keep = keep
        self.timeout = timeout
        self._clock = clock
        self._prices: dict[str, Price] = {}
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    def fresh(self) -> bool:
        return self._read_at is not None and self._clock() - self._read_at < self.keep

    def cached(self, model: str) -> Price | None:
        """The price already known (no call)."""
        return self._prices.get(model)

    async def price(self, model: str) -> Price | None:
        """The price of one video of ``model``; None when the relay publishes none (or could
        not be asked within the timeout). Never raises a relay error."""
        if not self.fresh():
            async with self._lock:
                if not self.fresh():
                    await self._refresh()
        return self._prices.get(model)

    async def _refresh(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                reply = await self.http.call_json(
                    "GET", PRICING_PATH, key=None, cap=MAX_PRICING_BODY
                )
            self._prices = prices_from(reply)
        except (SuxiError, TimeoutError) as err:
            log.info("no price list from %s: %s", self.http.origin, err)
            self._prices = {}
        self._read_at = self._clock()
