"""The room's memory: designs shared to the wall, their names and stars, and the room's settings, in one
SQLite file in the data folder, beside each design's files; what a restarted server shows again.

SQLite, from Python's standard library: one file, no server to run, safe for the page's many threads
(one connection each, WAL journal), and transactions, so a server killed mid-write leaves the last
whole state. A design's pictures are files in its own folder (`designs/ID/`), named in its row.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import threading
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

NAME_LENGTH = 40  # characters of a volunteer's name kept
SCHEMA = """
CREATE TABLE IF NOT EXISTS designs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,          -- the browser that shared it: only it may take the design back
    name TEXT NOT NULL,           -- as the volunteer typed it, shown as text
    painting TEXT NOT NULL,       -- the painting's name
    shared REAL NOT NULL,         -- when, in seconds since the epoch
    starred INTEGER NOT NULL DEFAULT 0,
    hidden INTEGER NOT NULL DEFAULT 0,
    files TEXT NOT NULL,          -- JSON: "design", "photo", "painting", ... -> file name in designs/ID/
    recipe TEXT NOT NULL          -- JSON: shape, blend and the page's settings, to repaint or print it
);
CREATE TABLE IF NOT EXISTS room (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def data_folder() -> Path:
    """Where the room is kept: $NST_DATA, else /data on a Space with persistent storage, else `data` beside
    the app."""
    if os.environ.get("NST_DATA"):
        return Path(os.environ["NST_DATA"])
    if os.environ.get("SPACE_ID") and os.access("/data", os.W_OK):
        return Path("/data/tee-style-studio")
    return Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class Shared:
    """A design on the wall, as the room keeps it."""

    id: str
    owner: str
    name: str
    painting: str
    shared: float
    starred: bool
    hidden: bool
    files: dict
    recipe: dict

    def file(self, folder: Path, name: str) -> Path | None:
        return folder / self.id / self.files[name] if name in self.files else None


class Room:
    """The room's database and design files under `folder`."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.designs = self.folder / "designs"
        self.designs.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._version = 0  # bumped on every change: a wall redraws only when it moved
        with self._connection() as db:
            db.executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections stay in the thread that made them)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self.folder / "room.sqlite3", timeout=10)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
        return db

    @property
    def version(self) -> tuple[int, int]:
        """Changes so far (this process's count and the database's own), to tell a wall whether to redraw."""
        with closing(self._connection().execute("PRAGMA data_version")) as cursor:
            return self._version, cursor.fetchone()[0]

    def share(self, owner: str, name: str, painting: str, files: dict[str, str | None], recipe: dict) -> Shared:
        """Keep a design for the wall: copies of its files (name -> path) in a folder of its own, and its row."""
        design_id = uuid.uuid4().hex[:12]
        folder = self.designs / design_id
        folder.mkdir()
        kept = {}
        for key, path in files.items():
            if path:
                kept[key] = f"{key}{Path(path).suffix.lower() or '.png'}"
                shutil.copyfile(path, folder / kept[key])
        name = " ".join(str(name or "").split())[:NAME_LENGTH] or "Someone"
        with self._connection() as db:
            db.execute("INSERT INTO designs (id, owner, name, painting, shared, files, recipe) VALUES (?,?,?,?,?,?,?)",
                       (design_id, owner, name, painting, time.time(), json.dumps(kept), json.dumps(recipe)))
        self._version += 1
        return self.get(design_id)

    def get(self, design_id: str) -> Shared | None:
        row = self._connection().execute("SELECT * FROM designs WHERE id = ?", (str(design_id),)).fetchone()
        return _shared(row) if row else None

    def wall(self, everything: bool = False) -> list[Shared]:
        """The designs on the wall, newest first; with `everything`, the hidden ones too (the facilitator's)."""
        query = "SELECT * FROM designs" + ("" if everything else " WHERE hidden = 0") + " ORDER BY shared DESC"
        return [_shared(row) for row in self._connection().execute(query).fetchall()]

    def withdraw(self, design_id: str, owner: str) -> bool:
        """Take a design off the wall: only the browser that shared it may; its files go too."""
        with self._connection() as db:
            gone = db.execute("DELETE FROM designs WHERE id = ? AND owner = ?", (str(design_id), owner)).rowcount
        if gone:
            shutil.rmtree(self.designs / str(design_id), ignore_errors=True)
            self._version += 1
        return bool(gone)

    def mark(self, design_id: str, starred: bool | None = None, hidden: bool | None = None) -> bool:
        """The facilitator's star, or hiding a design from the wall (kept, and shown again when unhidden)."""
        changes = {key: int(value) for key, value in (("starred", starred), ("hidden", hidden)) if value is not None}
        if not changes:
            return False
        with self._connection() as db:
            done = db.execute(f"UPDATE designs SET {', '.join(f'{key} = ?' for key in changes)} WHERE id = ?",
                              (*changes.values(), str(design_id))).rowcount  # keys: the two names above only
        self._version += 1
        return bool(done)

    def secret(self) -> str:
        """The room's own secret (made once, then kept): browsers' stored tokens stay readable across restarts."""
        if not self.setting("secret"):
            self.set("secret", secrets.token_urlsafe(16))
        return self.setting("secret")

    def setting(self, key: str, default=None):
        """A room setting (paused, size, steps...), as JSON."""
        row = self._connection().execute("SELECT value FROM room WHERE key = ?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default

    def set(self, key: str, value) -> None:
        with self._connection() as db:
            db.execute("INSERT INTO room (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       (key, json.dumps(value)))
        self._version += 1


def _shared(row: sqlite3.Row) -> Shared:
    return Shared(row["id"], row["owner"], row["name"], row["painting"], row["shared"], bool(row["starred"]),
                  bool(row["hidden"]), json.loads(row["files"]), json.loads(row["recipe"]))
