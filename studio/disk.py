"""The disk a public server gives its visitors, bounded: uploads, results, films and sheets together stay under a
cap, the oldest files removed first; what the room keeps (shared designs, print jobs) lives in the data
folder and is not counted here."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

log = logging.getLogger("tee-style-studio")
DISK_CAP = int(float(os.environ.get("NST_DISK_CAP_MB", "2048")) * 2**20)  # bytes for visitors' files at most
CHECK_SECONDS = 1.0  # how often the folders are measured: a burst of uploads is cut back within this long


def keep_under(folders: list[Path], cap: int, kept: frozenset[str] = frozenset()) -> int:
    """Remove the oldest files under `folders` until they hold at most `cap` bytes; how many bytes went. Files
    named in `kept` (the page's own example pictures, which gradio copies in once at start) stay, and so do the
    files this process has open: an upload still arriving, a download being sent (they count, and go once
    they are closed, if they are still the oldest)."""
    files = []
    for folder in folders:
        for path in Path(folder).rglob("*"):
            try:
                if path.is_file():
                    stat = path.stat()
                    files.append((stat.st_mtime, stat.st_size, path))
            except OSError:  # removed meanwhile (gradio's own cleaning, or a prune)
                continue
    excess, removed = sum(size for _, size, _ in files) - cap, 0
    busy = open_files() if excess > 0 else set()
    for _, size, path in sorted(files, key=lambda entry: entry[0]):
        if removed >= excess:
            break
        if path.name in kept or str(path.resolve()) in busy:
            continue
        try:
            path.unlink()
            removed += size
        except OSError:
            continue
    if removed:
        log.info("visitors' files over the disk cap: %.1f MB of the oldest removed", removed / 2**20)
    return removed


def open_files() -> set[str]:
    """The files this process has open, by their real paths (Linux's /proc; elsewhere none are known)."""
    try:
        descriptors = os.listdir("/proc/self/fd")
    except OSError:
        return set()
    opened = set()
    for descriptor in descriptors:
        try:
            opened.add(os.readlink(f"/proc/self/fd/{descriptor}"))
        except OSError:  # closed meanwhile
            continue
    return opened


def watch(folders: list[Path], cap: int = DISK_CAP, kept: frozenset[str] = frozenset(),
          every: float = CHECK_SECONDS) -> threading.Thread:
    """Keep `folders` under `cap` bytes from now on (the files named in `kept` aside), in a thread of its own."""
    def loop():
        while True:
            keep_under(folders, cap, kept)
            time.sleep(every)

    thread = threading.Thread(target=loop, name="nst-disk", daemon=True)
    thread.start()
    return thread
