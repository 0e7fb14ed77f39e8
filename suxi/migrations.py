"""The database's schema and how an older file is brought up to date, in place, at start-up.

Version 0 is the first released layout (one ``jobs`` table whose options lived in a ``params``
JSON column, no ``user_version``); version 2 is the layout :mod:`suxi.store` reads. Each step
runs in one transaction: a file is either migrated whole or left as it was.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path
from typing import Any

VERSION = 2

SCHEMA = """
CREATE TABLE jobs (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, created REAL NOT NULL, prompt TEXT NOT NULL,
    options TEXT NOT NULL, address_hash TEXT NOT NULL DEFAULT '',
    own_key INTEGER NOT NULL DEFAULT 0, relay_origin TEXT NOT NULL DEFAULT '',
    media_token TEXT NOT NULL, route TEXT, state TEXT NOT NULL, updated REAL NOT NULL DEFAULT 0,
    started REAL, finished REAL, task_id TEXT, sid TEXT, links TEXT, percent REAL,
    position INTEGER, lines TEXT, applied TEXT, video_url TEXT,
    needs_key INTEGER NOT NULL DEFAULT 0, thumbnail_url TEXT, file TEXT, thumbnail TEXT,
    size_bytes INTEGER, error_kind TEXT, error_values TEXT, relay_text TEXT NOT NULL DEFAULT '',
    http_status INTEGER, retry_after TEXT, may_have_charged INTEGER NOT NULL DEFAULT 0,
    answer TEXT NOT NULL DEFAULT '', messages TEXT, image TEXT NOT NULL DEFAULT '',
    image_ref TEXT NOT NULL DEFAULT '', parent_id TEXT, group_id TEXT,
    group_kind TEXT NOT NULL DEFAULT '', group_index INTEGER NOT NULL DEFAULT 0,
    share_token TEXT, pruned INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_owner_created ON jobs (owner, created DESC);
CREATE INDEX jobs_created ON jobs (created DESC);
CREATE INDEX jobs_state ON jobs (state);
CREATE UNIQUE INDEX jobs_media ON jobs (media_token);
CREATE UNIQUE INDEX jobs_share ON jobs (share_token) WHERE share_token IS NOT NULL;
CREATE INDEX jobs_group ON jobs (group_id) WHERE group_id IS NOT NULL;
CREATE TABLE spends (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, owner TEXT NOT NULL, address TEXT NOT NULL,
    job_id TEXT NOT NULL, operator INTEGER NOT NULL, what TEXT NOT NULL
);
CREATE INDEX spends_at ON spends (at);
CREATE INDEX spends_owner ON spends (owner, at);
CREATE INDEX spends_address ON spends (address, at);
CREATE TABLE routes (
    origin TEXT NOT NULL, family TEXT NOT NULL, route TEXT NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (origin, family)
);
CREATE TABLE characters (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, created REAL NOT NULL, handle TEXT NOT NULL,
    character_id TEXT NOT NULL, source TEXT NOT NULL, relay_origin TEXT NOT NULL,
    model TEXT NOT NULL
);
CREATE INDEX characters_owner ON characters (owner, created DESC);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def migrate(db: sqlite3.Connection) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version == VERSION:
        return
    if version > VERSION:
        raise RuntimeError(
            f"the job database is from a newer version of the app (schema {version}); "
            "upgrade the app instead of running an older one on it"
        )
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    data_dir = Path(db.execute("PRAGMA database_list").fetchone()[2]).parent
    db.execute("BEGIN IMMEDIATE")
    try:
        if "jobs" in tables:
            db.execute("ALTER TABLE jobs RENAME TO jobs_v0")
            for name in ("jobs_owner_created", "jobs_created"):
                db.execute(f"DROP INDEX IF EXISTS {name}")
        # executescript would commit on its own: run the statements one by one instead.
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        if "jobs" in tables:
            _copy_v0(db)
            db.execute("DROP TABLE jobs_v0")
        db.execute(f"PRAGMA user_version = {VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    tidy_files(db, data_dir)


def tidy_files(db: sqlite3.Connection, data_dir: Path) -> None:
    """Move videos an older version kept directly in ``videos/`` into their job's own random
    folder, under a readable name (idempotent: a moved file is not moved again)."""
    from .sink import readable_name

    rows = db.execute(
        "SELECT id, created, prompt, media_token, file FROM jobs WHERE file LIKE 'videos/%' "
        "AND file NOT LIKE 'videos/%/%'"
    ).fetchall()
    for job_id, created, prompt, token, file in rows:
        source = data_dir / file
        target = Path("videos") / token / f"{readable_name(prompt, created)}.mp4"
        if source.is_file():
            (data_dir / target).parent.mkdir(parents=True, exist_ok=True)
            source.replace(data_dir / target)
            db.execute("UPDATE jobs SET file = ? WHERE id = ?", (str(target), job_id))
        else:
            db.execute("UPDATE jobs SET file = NULL WHERE id = ?", (job_id,))


def _copy_v0(db: sqlite3.Connection) -> None:
    for row in db.execute("SELECT * FROM jobs_v0").fetchall():
        old = dict(row)
        new = _v0_to_v2(old)
        names = ", ".join(new)
        db.execute(
            f"INSERT INTO jobs ({names}) VALUES ({', '.join('?' for _ in new)})",
            tuple(new.values()),
        )
        # Old jobs count as spends of the operator's key, so an upgrade never resets a limit.
        db.execute(
            "INSERT INTO spends (at, owner, address, job_id, operator, what) "
            "VALUES (?, ?, ?, ?, 1, 'video')",
            (old["created"], old["owner"], old.get("client") or "", old["id"]),
        )


def _json(value: Any, default: Any) -> Any:
    try:
        return json.loads(value) if value else default
    except ValueError:
        return default


def _v0_to_v2(old: dict[str, Any]) -> dict[str, Any]:
    params = _json(old.get("params"), {})
    duration = str(params.get("duration") or "auto")
    options = {
        "model": old.get("model") or "sora-2",
        "format": "chat",
        "orientation": params.get("orientation") or "auto",
        "duration": int(duration) if duration.isdigit() else None,
        "max_tokens": params.get("max_tokens") or 1000,
        "stream": bool(params.get("stream", True)),
    }
    understood = _json(old.get("understood"), None)
    host = (old.get("relay_host") or "").lower()
    local = host in ("127.0.0.1", "localhost", "::1") or not host
    # The first version kept every video as <data>/videos/<job id>.mp4; files move into their
    # own random folder after the migration (tidy_files), like new ones.
    file = old.get("file")
    file = f"videos/{Path(file).name}" if file and Path(file).parent.name == "videos" else None
    return {
        "id": old["id"],
        "owner": old["owner"],
        "created": old["created"],
        "prompt": old["prompt"],
        "options": json.dumps(options, ensure_ascii=False),
        "address_hash": old.get("client") or "",
        "relay_origin": "" if local else f"https://{host}:443",
        "media_token": secrets.token_urlsafe(16),
        "route": "chat",
        "state": old.get("state") or "failed",
        "updated": old.get("updated") or old["created"],
        "finished": old.get("finished"),
        "task_id": old.get("task_id"),
        "sid": old.get("sid"),
        "links": old.get("links") or "[]",
        "percent": old.get("percent"),
        "lines": old.get("lines") or "[]",
        "applied": json.dumps(understood, ensure_ascii=False)
        if isinstance(understood, dict)
        else None,
        "video_url": old.get("video_url"),
        "file": file,
        "error_kind": old.get("error_kind"),
        "relay_text": old.get("relay_text") or "",
        "http_status": params.get("status"),
        "retry_after": params.get("retry_after"),
        "answer": old.get("answer") or "",
        "messages": old.get("messages") or "[]",
        "image": "file" if params.get("image") else "",
        "parent_id": old.get("parent_id"),
    }
