"""The app's vocabulary: what state a job is in, and why something went the way it did.

Every failure, refusal and outcome the person can read about has one :class:`Kind`; the page,
the command line and the API translate it with :func:`suxi.texts.tr` (one sentence per kind, in
English and Chinese). Both enums are ``StrEnum`` so that the values stored in the database and
returned by the API stay plain strings.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    WAITING = "waiting"  # a batch prompt waiting for its turn (nothing sent yet)
    PENDING = "pending"  # recorded; the request is being sent (or waits for a free slot)
    QUEUED = "queued"  # the relay accepted it and it waits in the upstream queue
    GENERATING = "generating"
    DOWNLOADING = "downloading"  # the video link arrived; the app is keeping a copy
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # the app stopped while a stream was being followed
    CANCELLED = "cancelled"  # stopped by the visitor

    @property
    def running(self) -> bool:
        return self in RUNNING

    @property
    def ended(self) -> bool:
        return self in ENDED


RUNNING = frozenset({State.PENDING, State.QUEUED, State.GENERATING, State.DOWNLOADING})
ENDED = frozenset({State.DONE, State.FAILED, State.INTERRUPTED, State.CANCELLED})


class Kind(StrEnum):
    # — the visitor's input: nothing was sent —
    EMPTY_PROMPT = "empty_prompt"
    PROMPT_TOO_LONG = "prompt_too_long"
    BAD_MAX_TOKENS = "bad_max_tokens"
    BAD_OPTION = "bad_option"  # a duration / size / … the chosen model does not take
    BAD_MODEL = "bad_model"  # not a model name at all
    MODEL_NOT_ALLOWED = "model_not_allowed"  # not offered on the operator's key
    BAD_KEY = "bad_key"
    BAD_BASE_URL = "bad_base_url"
    NO_KEY = "no_key"
    IMAGE_UNREADABLE = "image_unreadable"
    IMAGE_TOO_LARGE = "image_too_large"
    IMAGE_URL = "image_url"
    IMAGE_NEEDS_LINK = "image_needs_link"  # this relay takes starting images only as links
    NOT_MODIFIABLE = "not_modifiable"
    PICTURE_GONE = "picture_gone"  # "Again" without the starting picture it had
    NO_REMIX = "no_remix"  # this way of asking the relay cannot change a video
    BATCH_EMPTY = "batch_empty"
    BATCH_TOO_LONG = "batch_too_long"
    BATCH_WAITING = "batch_waiting"  # too many prompts already wait in this visitor's batches
    # — admission: the app's own limits —
    BUSY = "busy"
    VISITOR_RUNNING = "visitor_running"
    VISITOR_HOURLY = "visitor_hourly"
    OPERATOR_RUNNING = "operator_running"
    OPERATOR_HOURLY = "operator_hourly"
    HELP_HOURLY = "help_hourly"
    # — the relay refused the request —
    AUTH = "auth"
    QUOTA = "quota"
    RATE_LIMIT = "rate_limit"
    UNAVAILABLE = "unavailable"
    BAD_REQUEST = "bad_request"
    NOT_FOUND = "not_found"
    FORMAT_REFUSED = "format_refused"  # no way of asking the relay knows this route
    SERVER = "server"
    PROXY_TIMEOUT = "proxy_timeout"
    PROXY_TIMEOUT_NOSTREAM = "proxy_timeout_nostream"
    RELAY_DOWN = "relay_down"
    # — the conversation with the relay broke —
    CONNECT = "connect"
    STALL = "stall"
    DEADLINE = "deadline"
    DROPPED = "dropped"
    BROKEN_STREAM = "broken_stream"
    BAD_REPLY = "bad_reply"
    # — the relay said the generation failed —
    RELAY = "relay"
    CONTENT_POLICY = "content_policy"
    OVERLOADED = "overloaded"  # refused before billing ("under heavy load")
    NO_VIDEO = "no_video"  # ended and no video link was ever given
    NO_TASK_ID = "no_task_id"  # a create answer without a task id
    TASK_UNKNOWN = "task_unknown"  # the relay no longer knows the task id
    # — keeping the video —
    DOWNLOAD = "download"
    LINK_EXPIRED = "link_expired"
    UNSAFE_URL = "unsafe_url"
    TOO_LARGE = "too_large"
    DISK_FULL = "disk_full"
    # — how a job ended without a failure of the relay —
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"
    STOPPED_TASK = "stopped_task"  # stopped following; the relay may still finish and charge
    STORE_FAILED = "store_failed"
    UNKNOWN = "unknown"
    # — what "check again" found —
    RECOVERED = "recovered"
    STILL_RUNNING = "still_running"
    RELAY_FAILED = "relay_failed"
    NO_RECOVERY = "no_recovery"
    NOT_APPLICABLE = "not_applicable"
    # — other answers to the visitor —
    DELETED = "deleted"
    NOT_FOUND_JOB = "not_found_job"
    NOTHING_PICKED = "nothing_picked"

    @classmethod
    def of(cls, value: object, default: Kind | None = None) -> Kind:
        """A kind from a stored string; an unknown one (an older or newer database) is UNKNOWN."""
        try:
            return cls(str(value))
        except ValueError:
            return default or cls.UNKNOWN


# Failures after which the relay may still be making (and charging for) the video: the page
# offers "Check again" for them.
MAYBE_STILL_MADE = frozenset(
    {
        Kind.PROXY_TIMEOUT,
        Kind.PROXY_TIMEOUT_NOSTREAM,
        Kind.STALL,
        Kind.DEADLINE,
        Kind.DROPPED,
        Kind.BROKEN_STREAM,
        Kind.NO_VIDEO,
        Kind.DOWNLOAD,
        Kind.LINK_EXPIRED,
        Kind.DISK_FULL,
        Kind.INTERRUPTED,
        Kind.CANCELLED,
        Kind.STOPPED_TASK,
        Kind.STORE_FAILED,
        Kind.SERVER,
    }
)
