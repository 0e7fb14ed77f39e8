"""Everything that can go wrong, as one exception tree.

    SuxiError                      every error the package raises; has .kind and .relay_text
    ├── InputError                 bad prompt / number / key / URL / limit: nothing was sent
    ├── RelayHTTPError             the relay answered with an error status
    │   ├── AuthError              401  key wrong, expired or used up
    │   ├── QuotaError             403  balance too low, or the key may not use this model
    │   ├── RateLimitError         429  slow down (.retry_after)
    │   ├── BadRequestError        400  the relay refused the request as invalid
    │   ├── NotFoundError          404, 405  no such route (nothing was created)
    │   │   └── FormatRefusedError every route tried for this model was unknown
    │   ├── UnavailableError       503  no channel serves this model on this key's group now
    │   ├── RelayServerError       500, 502 and other statuses
    │   └── ProxyTimeoutError      504, 524  a proxy gave up waiting
    ├── TransportError             the conversation with the relay broke
    │   ├── ConnectError           could not connect at all (nothing was sent)
    │   ├── StallError             no byte for longer than the read timeout
    │   ├── DeadlineError          the total deadline passed
    │   ├── DroppedError           the connection closed mid-stream
    │   └── BrokenStreamError      the stream carried data that cannot be read (a 10 MB line)
    ├── BadReplyError              the relay sent something that is not a reply (HTML 200, …)
    ├── TaskError                  a task-format job the relay cannot go on with
    │   ├── NoTaskIdError          the create answer named no task id (nothing is re-sent)
    │   └── TaskUnknownError       the relay no longer knows the task id
    └── DownloadError              the video could not be fetched
        ├── UnsafeURLError         scheme, host or address refused by the URL gate
        ├── TooLargeError          the file passed the size cap
        ├── LinkExpiredError       403 / 410 on a signed link (it expired)
        └── DiskFullError          not enough free disk to keep it

``kind`` is the stable :class:`~suxi.kinds.Kind` the UI translates; ``relay_text`` is the
relay's own message, shown verbatim next to ours. ``may_have_charged`` tells whether the request
could have reached the relay and been billed: such a request is never re-sent automatically, and
the page says so when it failed.
"""

from __future__ import annotations

from .kinds import Kind


class SuxiError(Exception):
    kind: Kind = Kind.UNKNOWN
    may_have_charged = True

    def __init__(
        self,
        detail: str = "",
        *,
        relay_text: str = "",
        status: int | None = None,
        retry_after: str | None = None,
    ):
        super().__init__(detail or str(self.kind))
        self.detail = detail
        self.relay_text = relay_text
        self.status = status
        self.retry_after = retry_after
        self.values: dict[str, object] = {}  # fills the sentence of this kind (suxi.texts)


class InputError(SuxiError):
    may_have_charged = False

    def __init__(
        self, kind: Kind | str, detail: str = "", *, relay_text: str = "", **values: object
    ) -> None:
        super().__init__(detail or str(kind), relay_text=relay_text)
        self.kind = Kind(kind)
        self.values = values


class RelayHTTPError(SuxiError):
    kind = Kind.SERVER


class AuthError(RelayHTTPError):
    kind = Kind.AUTH
    may_have_charged = False


class QuotaError(RelayHTTPError):
    kind = Kind.QUOTA
    may_have_charged = False


class RateLimitError(RelayHTTPError):
    kind = Kind.RATE_LIMIT
    may_have_charged = False


class UnavailableError(RelayHTTPError):
    kind = Kind.UNAVAILABLE
    may_have_charged = False


class BadRequestError(RelayHTTPError):
    kind = Kind.BAD_REQUEST
    may_have_charged = False


class NotFoundError(RelayHTTPError):
    kind = Kind.NOT_FOUND
    may_have_charged = False


class FormatRefusedError(NotFoundError):
    """Every way of asking the relay that was tried answered "no such route"."""

    kind = Kind.FORMAT_REFUSED

    def __init__(self, model: str, routes: list[str], relay_text: str = "") -> None:
        super().__init__("routes", relay_text=relay_text, status=404)
        self.values = {"model": model, "formats": ", ".join(routes)}


class RelayServerError(RelayHTTPError):
    kind = Kind.SERVER


class ProxyTimeoutError(RelayHTTPError):
    kind = Kind.PROXY_TIMEOUT


class TransportError(SuxiError):
    kind = Kind.DROPPED


class ConnectError(TransportError):
    kind = Kind.CONNECT
    may_have_charged = False


class StallError(TransportError):
    kind = Kind.STALL


class DeadlineError(TransportError):
    kind = Kind.DEADLINE


class DroppedError(TransportError):
    kind = Kind.DROPPED


class BrokenStreamError(TransportError):
    kind = Kind.BROKEN_STREAM


class BadReplyError(SuxiError):
    kind = Kind.BAD_REPLY


class TaskError(SuxiError):
    kind = Kind.RELAY


class NoTaskIdError(TaskError):
    kind = Kind.NO_TASK_ID


class TaskUnknownError(TaskError):
    kind = Kind.TASK_UNKNOWN


class DownloadError(SuxiError):
    kind = Kind.DOWNLOAD
    may_have_charged = False  # the video was made (and paid) already; fetching costs nothing


class UnsafeURLError(DownloadError):
    kind = Kind.UNSAFE_URL


class TooLargeError(DownloadError):
    kind = Kind.TOO_LARGE


class LinkExpiredError(DownloadError):
    kind = Kind.LINK_EXPIRED


class DiskFullError(DownloadError):
    kind = Kind.DISK_FULL


STATUS_ERRORS: dict[int, type[RelayHTTPError]] = {
    400: BadRequestError,
    401: AuthError,
    403: QuotaError,
    404: NotFoundError,
    405: NotFoundError,
    422: BadRequestError,
    429: RateLimitError,
    500: RelayServerError,
    502: RelayServerError,
    503: UnavailableError,
    504: ProxyTimeoutError,
    524: ProxyTimeoutError,
}


def error_for_status(status: int) -> type[RelayHTTPError]:
    return STATUS_ERRORS.get(status, RelayServerError)
