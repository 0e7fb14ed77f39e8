"""The key's balance: read from the relay's billing routes, compared with the previous reading.

new-api answers two OpenAI-style routes (docs/relay-protocol.md, "Other routes the app uses"):
``GET /v1/dashboard/billing/subscription`` gives ``hard_limit_usd`` (what the key had in all)
and ``GET /v1/dashboard/billing/usage`` gives ``total_usage`` (what it spent, times 100). What
is left is ``hard_limit_usd − total_usage / 100``; a limit of 100000000 means "unlimited".

The numbers count in whatever unit the relay is set to show — dollars on some relays, raw quota
points on others — so the app never prints "$" on its own: the unit is ``SUXI_BALANCE_UNIT``, or
the relay's word "quota" when that is empty. A relay without these routes, or with replies the
app cannot read, gives a :class:`Balance` that says so; reading a balance never raises.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

from .errors import BadReplyError, NotFoundError, SuxiError
from .kinds import Kind
from .relay.http import RelayHTTP
from .texts import explain, tr

SUBSCRIPTION_PATH = "/v1/dashboard/billing/subscription"
USAGE_PATH = "/v1/dashboard/billing/usage"
UNLIMITED = 1e8  # new-api's hard_limit_usd for a key without a quota limit
LARGEST = 1e15  # beyond this a number is not a balance the app can show
READINGS_KEPT = 10_000  # previous readings kept (one per key), oldest forgotten first
CURRENCY_SIGNS = frozenset("$¥￥€£₩₹")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


class Standing(StrEnum):
    KNOWN = "known"  # amount and use are known
    UNLIMITED = "unlimited"  # the key has no limit (use may still be known)
    HIDDEN = "hidden"  # the operator's balance on a shared deployment: not shown
    NOT_OFFERED = "not_offered"  # the relay has no billing routes
    UNREADABLE = "unreadable"  # the relay answered, but not with numbers the app can use
    FAILED = "failed"  # the call failed (``kind``, ``relay_text``)


@dataclass(frozen=True)
class Balance:
    """One reading. ``amount`` is what is left, ``used`` what was spent so far, both in the
    relay's unit (``used`` is ``total_usage / 100``)."""

    standing: Standing
    amount: float | None = None
    used: float | None = None
    kind: Kind | None = None
    relay_text: str = ""


def number(value: object) -> float | None:
    """A finite number from a JSON value (a number or a numeric string); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str) and len(value) <= 64 and _NUMBER.match(value.strip()):
        result = float(value.strip())
    else:
        return None
    return result if math.isfinite(result) else None


def from_replies(subscription: object, usage: object) -> Balance:
    """The balance the two replies describe (pure)."""
    sub = subscription if isinstance(subscription, dict) else {}
    limit = number(sub.get("hard_limit_usd"))
    if limit is None:
        limit = number(sub.get("system_hard_limit_usd"))
    total = number(usage.get("total_usage")) if isinstance(usage, dict) else None
    used = total / 100 if total is not None and 0 <= total <= LARGEST else None
    if limit is None or limit < 0:
        return Balance(Standing.UNREADABLE)
    if limit >= UNLIMITED:
        return Balance(Standing.UNLIMITED, used=used)
    if used is None:
        return Balance(Standing.UNREADABLE)
    return Balance(Standing.KNOWN, amount=round(limit - used, 6), used=round(used, 6))


async def read_balance(http: RelayHTTP, key: str) -> Balance:
    """Ask the relay for ``key``'s balance. Never raises: a relay without the routes gives
    NOT_OFFERED, an unreadable reply UNREADABLE, any other failure FAILED with its kind."""
    try:
        subscription = await http.call_json("GET", SUBSCRIPTION_PATH, key=key)
        usage = await http.call_json("GET", USAGE_PATH, key=key)
    except NotFoundError:
        return Balance(Standing.NOT_OFFERED)
    except BadReplyError as err:
        return Balance(Standing.UNREADABLE, relay_text=err.relay_text)
    except SuxiError as err:
        return Balance(Standing.FAILED, kind=err.kind, relay_text=err.relay_text)
    return from_replies(subscription, usage)


# ------------------------------------------------------------------------------------ showing


def format_amount(value: float, unit: str) -> str:
    """``value`` with its unit: ``"$12.5"`` for a currency sign, ``"12.5 quota"`` otherwise;
    up to four decimals below 100, two above, thousands separated."""
    decimals = 2 if abs(value) >= 100 else 4
    text = f"{value:,.{decimals}f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    unit = unit.strip()
    if not unit:
        return text
    if unit in CURRENCY_SIGNS:
        return f"-{unit}{text[1:]}" if text.startswith("-") else f"{unit}{text}"
    return f"{text} {unit}"


def unit_word(configured: str, lang: str) -> str:
    """``SUXI_BALANCE_UNIT``, else the relay's own word for its unit."""
    return configured.strip() or tr("bal_unit_quota", lang)


@dataclass(frozen=True)
class Report:
    """A reading as the person sees it: the balance, whether it is low, and what the key spent
    since the previous reading (``cost``, over ``ended`` jobs that ended meanwhile)."""

    balance: Balance
    unit: str = ""  # SUXI_BALANCE_UNIT ("" = the relay's quota word)
    low: bool = False
    low_limit: float = 0.0
    cost: float | None = None
    ended: int = 0

    @property
    def shown(self) -> bool:
        return self.balance.standing != Standing.HIDDEN

    def lines(self, lang: str) -> list[str]:
        """Sentences in ``lang``: the balance (or why it is unknown), a low-balance warning,
        what the jobs that ended since the previous reading cost."""
        b = self.balance
        unit = unit_word(self.unit, lang)
        if b.standing == Standing.HIDDEN:
            return []
        if b.standing == Standing.NOT_OFFERED:
            return [tr("bal_not_offered", lang)]
        if b.standing == Standing.UNREADABLE:
            return [tr("bal_unreadable", lang)]
        if b.standing == Standing.FAILED:
            reason = explain(b.kind or Kind.UNKNOWN, lang, b.relay_text)
            return [tr("bal_failed", lang, reason=reason)]
        if b.standing == Standing.UNLIMITED:
            out = [tr("bal_unlimited", lang)]
        else:
            out = [tr("bal_amount", lang, amount=format_amount(b.amount or 0.0, unit))]
            if self.low:
                out.append(
                    tr(
                        "bal_low",
                        lang,
                        amount=format_amount(b.amount or 0.0, unit),
                        limit=format_amount(self.low_limit, unit),
                    )
                )
        if self.cost is not None:
            cost = format_amount(self.cost, unit)
            if self.ended == 1:
                out.append(tr("bal_cost_one", lang, cost=cost))
            elif self.ended > 1:
                out.append(tr("bal_cost_many", lang, n=self.ended, cost=cost))
            elif self.cost > 0:
                out.append(tr("bal_cost_elsewhere", lang, cost=cost))
        return out

    def text(self, lang: str) -> str:
        return " ".join(self.lines(lang))


class BalanceWatch:
    """The previous reading of each key, to tell what was spent between two readings.

    Keys are remembered only as a salted hash (``secret`` is the deployment's secret), and at
    most :data:`READINGS_KEPT` of them. The cost is the growth of ``used`` between readings, so
    a top-up in between does not read as a negative cost, and it works for unlimited keys too.
    """

    def __init__(
        self, secret: str, *, unit: str = "", low_balance: float = 0.0, clock=time.time
    ) -> None:
        self._secret = secret
        self.unit = unit
        self.low_balance = low_balance
        self._clock = clock
        self._readings: OrderedDict[str, tuple[float, Balance]] = OrderedDict()

    def key_id(self, key: str) -> str:
        return hashlib.sha256(f"{self._secret}\x00balance\x00{key}".encode()).hexdigest()[:32]

    def since(self, key: str) -> float | None:
        """When ``key``'s previous reading was taken (wall clock), None before the first."""
        previous = self._readings.get(self.key_id(key))
        return previous[0] if previous else None

    def observe(self, key: str, balance: Balance, ended: int = 0) -> Report:
        """Record ``balance`` as ``key``'s newest reading and report it; ``ended`` is how many
        jobs on this key ended since the previous reading (the caller counts them)."""
        ident = self.key_id(key)
        previous = self._readings.get(ident)
        cost = None
        if previous is not None and balance.used is not None and previous[1].used is not None:
            grown = round(balance.used - previous[1].used, 6)
            cost = grown if grown >= 0 else None  # the usage counter was reset: no cost known
        if balance.used is not None:
            self._readings[ident] = (self._clock(), balance)
            self._readings.move_to_end(ident)
            while len(self._readings) > READINGS_KEPT:
                self._readings.popitem(last=False)
        low = (
            self.low_balance > 0
            and balance.standing == Standing.KNOWN
            and balance.amount is not None
            and balance.amount < self.low_balance
        )
        return Report(
            balance,
            unit=self.unit,
            low=low,
            low_limit=self.low_balance,
            cost=cost,
            ended=max(0, ended) if cost is not None else 0,
        )

    def hidden(self) -> Report:
        return Report(Balance(Standing.HIDDEN), unit=self.unit)
