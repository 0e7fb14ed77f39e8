"""Everything that can go wrong, as one exception tree.

    SuxiError                      every error the package raises; has .kind and .relay_text
    ├── InputError                 bad prompt / number / key / URL: nothing was sent
    ├── RelayHTTPError             the relay answered with an error status before streaming
    │   ├── AuthError              401  key wrong, expired or used up
    │   ├── QuotaError             403  balance too low, or the key may not use this model
    │   ├── RateLimitError         429  slow down (.retry_after)
    │   ├── BadRequestError        400  the relay refused the request as invalid
    │   ├── NotFoundError          404  no such endpoint: the base URL is wrong
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
    └── DownloadError              the video could not be fetched
        ├── UnsafeURLError         scheme, host or address refused by the URL gate
        └── TooLargeError          the file passed the size cap

``kind`` is the stable key the UI translates (see suxi.messages); ``relay_text`` is the relay's
own message, shown verbatim next to ours. ``may_have_charged`` tells whether the request could
have reached the relay — such a request is never re-sent automatically.
"""

from __future__ import annotations


class SuxiError(Exception):
    kind = "unknown"
    may_have_charged = True

    def __init__(self, detail: str = "", *, relay_text: str = "", status: int | None = None):
        super().__init__(detail or self.kind)
        self.detail = detail
        self.relay_text = relay_text
        self.status = status


class InputError(SuxiError):
    kind = "input"
    may_have_charged = False

    def __init__(self, kind: str, detail: str = "", **values: object) -> None:
        super().__init__(detail or kind)
        self.kind = kind  # e.g. "empty_prompt", "prompt_too_long", "bad_max_tokens"
        self.values = values


class RelayHTTPError(SuxiError):
    kind = "server"

    def __init__(self, detail: str = "", *, retry_after: str | None = None, **kw) -> None:
        super().__init__(detail, **kw)
        self.retry_after = retry_after


class AuthError(RelayHTTPError):
    kind = "auth"
    may_have_charged = False


class QuotaError(RelayHTTPError):
    kind = "quota"
    may_have_charged = False


class RateLimitError(RelayHTTPError):
    kind = "rate_limit"
    may_have_charged = False


class UnavailableError(RelayHTTPError):
    kind = "unavailable"
    may_have_charged = False


class BadRequestError(RelayHTTPError):
    kind = "bad_request"
    may_have_charged = False


class NotFoundError(RelayHTTPError):
    kind = "not_found"
    may_have_charged = False


class RelayServerError(RelayHTTPError):
    kind = "server"


class ProxyTimeoutError(RelayHTTPError):
    kind = "proxy_timeout"


class TransportError(SuxiError):
    kind = "transport"


class ConnectError(TransportError):
    kind = "connect"
    may_have_charged = False


class StallError(TransportError):
    kind = "stall"


class DeadlineError(TransportError):
    kind = "deadline"


class DroppedError(TransportError):
    kind = "dropped"


class BrokenStreamError(TransportError):
    kind = "broken_stream"


class BadReplyError(SuxiError):
    kind = "bad_reply"


class DownloadError(SuxiError):
    kind = "download"


class UnsafeURLError(DownloadError):
    kind = "unsafe_url"


class TooLargeError(DownloadError):
    kind = "too_large"


STATUS_ERRORS: dict[int, type[RelayHTTPError]] = {
    400: BadRequestError,
    401: AuthError,
    403: QuotaError,
    404: NotFoundError,
    429: RateLimitError,
    500: RelayServerError,
    502: RelayServerError,
    503: UnavailableError,
    504: ProxyTimeoutError,
    524: ProxyTimeoutError,
}


def error_for_status(status: int) -> type[RelayHTTPError]:
    return STATUS_ERRORS.get(status, RelayServerError)
