"""Job records in one SQLite file (stdlib ``sqlite3``).

Every write is one statement in its own transaction, in WAL mode: a crash mid-write leaves the
last committed state readable. ``synchronous=NORMAL`` survives an app crash (not a power cut),
which is the failure that matters for a web app and keeps a write well under a millisecond.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

RUNNING_STATES = ("pending", "queued", "generating", "downloading")
FINAL_STATES = ("done", "failed", "interrupted", "cancelled")


@dataclass
class JobRecord:
    id: str
    owner: str
    created: float
    model: str
    prompt: str
    params: dict[str, Any] = field(default_factory=dict)  # max_tokens, stream, …; never the key
    relay_host: str = ""
    state: str = "pending"
    updated: float = 0.0
    task_id: str | None = None
    sid: str | None = None
    links: list[str] = field(default_factory=list)
    percent: float | None = None
    last_line: str = ""
    lines: list[str] = field(default_factory=list)  # the relay's readable lines, latest last
    understood: dict[str, Any] | None = None
    video_url: str | None = None
    file: str | None = None
    error_kind: str | None = None
    relay_text: str = ""
    answer: str = ""
    parent_id: str | None = None
    finished: float | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)  # the conversation sent
    client: str = ""  # a hash of the visitor's address, for per-visitor limits

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES


_JSON_FIELDS = {"params", "links", "lines", "understood", "messages"}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created REAL NOT NULL,
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    params TEXT NOT NULL,
    relay_host TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_owner_created ON jobs (owner, created DESC);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created DESC);
"""
# Later fields are added as nullable columns, so an older database file keeps working.
_COLUMN_TYPES = {float: "REAL", "float": "REAL", "float | None": "REAL"}


def _to_row(record: JobRecord) -> dict[str, Any]:
    row = asdict(record)
    for name in _JSON_FIELDS:
        row[name] = json.dumps(row[name], ensure_ascii=False)
    return row


def _from_row(row: sqlite3.Row) -> JobRecord:
    data = dict(row)
    for name in _JSON_FIELDS:
        data[name] = json.loads(data[name]) if data[name] is not None else None
    data["params"] = data["params"] or {}
    data["links"] = data["links"] or []
    data["lines"] = data["lines"] or []
    data["messages"] = data["messages"] or []
    data["client"] = data["client"] or ""
    return JobRecord(**data)


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()  # one connection shared by the event loop and threads
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        have = {r["name"] for r in self._db.execute("PRAGMA table_info(jobs)")}
        for f in fields(JobRecord):
            if f.name not in have:
                kind = _COLUMN_TYPES.get(f.type, "TEXT")
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {f.name} {kind}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create(self, record: JobRecord) -> None:
        record.updated = record.created
        row = _to_row(record)
        names = ", ".join(row)
        marks = ", ".join(f":{n}" for n in row)
        with self._lock:
            self._db.execute(f"INSERT INTO jobs ({names}) VALUES ({marks})", row)

    def save(self, record: JobRecord) -> None:
        """Write the whole record atomically (one UPDATE)."""
        record.updated = time.time()
        row = _to_row(record)
        sets = ", ".join(f"{n} = :{n}" for n in row if n != "id")
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {sets} WHERE id = :id", row)

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _from_row(row) if row else None

    def list(self, owner: str | None = None, limit: int = 100) -> list[JobRecord]:
        """Newest first; ``owner=None`` lists everyone's jobs (a private, local deployment)."""
        with self._lock:
            if owner is None:
                rows = self._db.execute(
                    "SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,)
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT * FROM jobs WHERE owner = ? ORDER BY created DESC LIMIT ?",
                    (owner, limit),
                ).fetchall()
        return [_from_row(r) for r in rows]

    def count_since(self, since: float, owner: str, client: str) -> int:
        """Jobs started since ``since`` by this visitor token or from this address."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM jobs WHERE created >= ? AND (owner = ? OR client = ?)",
                (since, owner, client or "\x00"),
            ).fetchone()
        return int(row[0])

    def delete(self, job_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def mark_interrupted(self) -> int:
        """At start-up: jobs that were running when the app stopped cannot be followed any more."""
        marks = ", ".join("?" for _ in RUNNING_STATES)
        with self._lock:
            cur = self._db.execute(
                f"UPDATE jobs SET state = 'interrupted', updated = ? WHERE state IN ({marks})",
                (time.time(), *RUNNING_STATES),
            )
        return cur.rowcount
