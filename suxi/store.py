"""Everything the app keeps, in one SQLite file (stdlib ``sqlite3``).

Every write is one statement in its own transaction, in WAL mode: a crash mid-write leaves the
last committed state readable. ``synchronous=NORMAL`` survives an app crash (not a power cut),
which is the failure that matters for a web app and keeps a write well under a millisecond.

Tables: ``jobs`` (one row per job), ``spends`` (an append-only ledger of paid requests, which
the per-visitor and per-key limits count — deleting a job never gives a spend back),
``routes`` (which task route each relay answered, per model family), ``characters`` and
``meta``. The schema version is the file's ``user_version``; :mod:`suxi.migrations` brings an
older file up to date in place at start-up.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

from .generation import GenerationOptions
from .job import Applied, Job
from .kinds import RUNNING, Kind, State
from .migrations import migrate

_JSON = {"links", "lines", "error_values", "messages"}
_BOOL = {"own_key", "needs_key", "may_have_charged", "pruned"}
_SKIP = {"partial"}
COLUMNS = [f.name for f in fields(Job) if f.name not in _SKIP]
LIGHT = [c for c in COLUMNS if c not in ("messages", "answer")]
FIXED = {
    "id",
    "owner",
    "created",
    "prompt",
    "options",
    "address_hash",
    "own_key",
    "messages",
    "image",
    "image_ref",
    "parent_id",
    "group_id",
    "group_kind",
    "group_index",
    "media_token",
}
UPDATED = [c for c in COLUMNS if c not in FIXED]
UNFINISHED = tuple(sorted(str(s) for s in (*RUNNING, State.WAITING)))  # what a restart picks up


def to_row(job: Job, names: Iterable[str] = COLUMNS) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in names:
        value = getattr(job, name)
        if name == "options":
            value = json.dumps(value.to_json(), ensure_ascii=False)
        elif name == "applied":
            value = json.dumps(value.to_json(), ensure_ascii=False) if value else None
        elif name in _JSON:
            value = json.dumps(list(value), ensure_ascii=False)
        elif name in _BOOL:
            value = int(bool(value))
        elif name in ("state", "error_kind") and value is not None:
            value = str(value)
        row[name] = value
    return row


def from_row(row: sqlite3.Row) -> Job:
    data = dict(row)
    data["options"] = GenerationOptions.from_json(json.loads(data["options"] or "{}"), "")
    data["applied"] = Applied.from_json(json.loads(data["applied"])) if data["applied"] else None
    for name in _JSON & data.keys():
        loaded = json.loads(data[name]) if data[name] else []
        data[name] = tuple(tuple(v) if name == "error_values" else v for v in loaded)
    for name in _BOOL:
        data[name] = bool(data[name])
    data["state"] = (
        State(data["state"]) if data["state"] in State._value2member_map_ else State.FAILED
    )
    data["error_kind"] = Kind.of(data["error_kind"]) if data["error_kind"] else None
    if "messages" not in data:
        data["partial"] = True
        data["messages"] = ()
    data.setdefault("answer", "")
    return Job(**data)


class StoreError(Exception):
    """A write the database refused (disk full, a locked file …)."""


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
        with self._lock:
            migrate(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def db_version(self) -> int:
        return int(self._all("PRAGMA user_version")[0][0])

    def _run(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        try:
            with self._lock:
                return self._db.execute(sql, params)
        except (sqlite3.Error, UnicodeEncodeError, OverflowError) as err:
            raise StoreError(str(err)) from err

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # — jobs —

    def create(self, job: Job) -> None:
        row = to_row(job)
        names = ", ".join(row)
        marks = ", ".join(f":{n}" for n in row)
        self._run(f"INSERT INTO jobs ({names}) VALUES ({marks})", row)

    def save(self, job: Job) -> None:
        """Write what can change about a job (one UPDATE); raises StoreError."""
        if job.partial:
            raise ValueError("a partly loaded job cannot be saved")
        sets = ", ".join(f"{n} = :{n}" for n in UPDATED)
        # Only what can change is encoded: a chat job's messages may carry a 2 MB picture.
        self._run(f"UPDATE jobs SET {sets} WHERE id = :id", to_row(job, [*UPDATED, "id"]))

    def get(self, job_id: str) -> Job | None:
        rows = self._all("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return from_row(rows[0]) if rows else None

    def by_media(self, token: str) -> Job | None:
        rows = self._all(f"SELECT {', '.join(LIGHT)} FROM jobs WHERE media_token = ?", (token,))
        return from_row(rows[0]) if rows else None

    def by_share(self, token: str) -> Job | None:
        rows = self._all(f"SELECT {', '.join(LIGHT)} FROM jobs WHERE share_token = ?", (token,))
        return from_row(rows[0]) if rows else None

    def page(
        self,
        owner: str | None,
        *,
        limit: int = 24,
        offset: int = 0,
        states: tuple[str, ...] = (),
        search: str = "",
        group_id: str | None = None,
    ) -> tuple[list[Job], int]:
        """One page of jobs, newest first, and how many match in all. ``owner=None``: everyone's
        (a private, local deployment)."""
        where, params = ["1"], []
        if owner is not None:
            where.append("owner = ?")
            params.append(owner)
        if states:
            where.append(f"state IN ({', '.join('?' for _ in states)})")
            params += list(states)
        if search:
            where.append("prompt LIKE ? ESCAPE '\\'")
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.append(f"%{escaped}%")
        if group_id:
            where.append("group_id = ?")
            params.append(group_id)
        clause = " AND ".join(where)
        total = self._all(f"SELECT COUNT(*) FROM jobs WHERE {clause}", params)[0][0]
        rows = self._all(
            f"SELECT {', '.join(LIGHT)} FROM jobs WHERE {clause} "
            "ORDER BY created DESC, id DESC LIMIT ? OFFSET ?",
            [*params, max(1, min(limit, 200)), max(0, offset)],
        )
        return [from_row(r) for r in rows], int(total)

    def running(self) -> list[Job]:
        """Jobs that were running or waiting when the app last stopped."""
        marks = ", ".join("?" for _ in UNFINISHED)
        rows = self._all(
            f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY created", UNFINISHED
        )
        return [from_row(r) for r in rows]

    def group(self, group_id: str) -> list[Job]:
        rows = self._all(
            f"SELECT {', '.join(LIGHT)} FROM jobs WHERE group_id = ? ORDER BY group_index",
            (group_id,),
        )
        return [from_row(r) for r in rows]

    def delete(self, job_id: str) -> None:
        self._run("DELETE FROM jobs WHERE id = ?", (job_id,))

    def uses_picture(self, image_ref: str) -> bool:
        """Whether any job still names this kept picture."""
        rows = self._all("SELECT 1 FROM jobs WHERE image_ref = ? LIMIT 1", (image_ref,))
        return bool(rows)

    def recent_durations(self, model: str, limit: int = 20) -> list[float]:
        """How long this deployment's latest finished jobs of a model took (for estimates)."""
        rows = self._all(
            "SELECT finished - COALESCE(started, created) FROM jobs WHERE state = 'done' "
            "AND json_extract(options, '$.model') = ? AND finished IS NOT NULL "
            "ORDER BY created DESC LIMIT ?",
            (model, limit),
        )
        return [float(r[0]) for r in rows if r[0] is not None and r[0] > 0]

    def files_older_than(self, before: float) -> list[Job]:
        rows = self._all(
            f"SELECT {', '.join(LIGHT)} FROM jobs WHERE file IS NOT NULL AND finished < ?",
            (before,),
        )
        return [from_row(r) for r in rows]

    # — the ledger of spends —

    def spend(self, *, owner: str, address: str, job_id: str, operator: bool, what: str) -> None:
        self._run(
            "INSERT INTO spends (at, owner, address, job_id, operator, what) VALUES (?,?,?,?,?,?)",
            (time.time(), owner, address, job_id, int(operator), what),
        )

    def spends_since(
        self, since: float, *, what: str, owner: str | None = None, address: str | None = None
    ) -> int:
        """Spends on the operator's key since ``since``: by this owner or from this address
        (either), or all of them when neither is given."""
        sql = "SELECT COUNT(*) FROM spends WHERE at >= ? AND operator = 1 AND what = ?"
        params: list[Any] = [since, what]
        who = []
        if owner:
            who.append("owner = ?")
            params.append(owner)
        if address:
            who.append("address = ?")
            params.append(address)
        if who:
            sql += f" AND ({' OR '.join(who)})"
        return int(self._all(sql, params)[0][0])

    # — small memories —

    def remembered_route(self, origin: str, family: str) -> str | None:
        rows = self._all(
            "SELECT route FROM routes WHERE origin = ? AND family = ?", (origin, family)
        )
        return rows[0][0] if rows else None

    def remember_route(self, origin: str, family: str, route: str) -> None:
        self._run(
            "INSERT INTO routes (origin, family, route, updated) VALUES (?,?,?,?) "
            "ON CONFLICT(origin, family) DO UPDATE SET route = excluded.route, "
            "updated = excluded.updated",
            (origin, family, route, time.time()),
        )

    def meta(self, key: str) -> str | None:
        rows = self._all("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # — characters —

    def add_character(self, row: dict[str, Any]) -> None:
        names = ", ".join(row)
        self._run(
            f"INSERT INTO characters ({names}) VALUES ({', '.join('?' for _ in row)})",
            tuple(row.values()),
        )

    def characters(self, owner: str | None) -> list[dict[str, Any]]:
        if owner is None:
            rows = self._all("SELECT * FROM characters ORDER BY created DESC LIMIT 200")
        else:
            rows = self._all(
                "SELECT * FROM characters WHERE owner = ? ORDER BY created DESC LIMIT 200", (owner,)
            )
        return [dict(r) for r in rows]

    def delete_character(self, character_id: str, owner: str | None) -> bool:
        sql = "DELETE FROM characters WHERE id = ?" + (" AND owner = ?" if owner else "")
        params = (character_id, owner) if owner else (character_id,)
        return self._run(sql, params).rowcount > 0
