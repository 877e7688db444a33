"""The film of a person's last painting: its frames, kept while it paints, made into an MP4 and an animated WebP
when asked for (a button, so that nobody waits for a film they did not want)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict

import gradio as gr

from nst_core.film import Reel, write_film

from .controls import refusal
from .room import RESULT_LIFETIME, RESULTS, prune_results

KEPT = 32  # people whose last run's frames are kept: about 10 MB each at most (docs/film.md), 320 MB in all


class Reels:
    """Each person's last run's reel, for the newest `most` people, for RESULT_LIFETIME seconds after it began."""

    def __init__(self, most: int = KEPT, lifetime: float = RESULT_LIFETIME):
        self.most, self.lifetime = most, lifetime
        self._reels: OrderedDict[str, tuple[Reel, str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, person: str, photo, name: str) -> Reel:
        """A new reel for `person`'s run, which replaces their last one; `name`: the film's file name, no suffix."""
        reel = Reel(photo)
        with self._lock:
            self._reels.pop(person, None)
            self._reels[person] = reel, name, time.monotonic()
            while len(self._reels) > self.most:
                self._reels.popitem(last=False)
        return reel

    def last(self, person: str) -> tuple[Reel, str] | None:
        """`person`'s last reel and its name, if it is still kept and has a frame."""
        with self._lock:
            reel, name, began = self._reels.get(person, (None, "", 0.0))
            if reel is None or time.monotonic() - began > self.lifetime:
                self._reels.pop(person, None)
                return None
        return (reel, name) if reel.seen else None


REELS = Reels()


def make_film(request: gr.Request = None):
    """The film of this person's last painting (stopped or finished), as an MP4 to play on the page (about a
    second to make), and the Film tab, shown and chosen."""
    reel, stem = _last(request)
    return str(write_film(reel, f"{stem}.mp4")), gr.Tab(visible=True), gr.Tabs(selected="film")


def make_animation(request: gr.Request = None) -> gr.DownloadButton:
    """The same film as an animated WebP, for chat apps, behind a download button (it takes a few seconds more
    to make than the MP4, so it follows it)."""
    reel, stem = _last(request)
    animation = write_film(reel, f"{stem}.webp")
    return gr.DownloadButton(f"Download the film for chat apps (animated WebP, {animation.stat().st_size / 1e6:.1f} "
                             "MB)", value=str(animation), visible=True)


def _last(request: gr.Request | None) -> tuple[Reel, str]:
    """This person's last reel and where its film goes (without a suffix: a name may have dots of its own)."""
    found = REELS.last(getattr(request, "session_hash", None) or "")
    if found is None:
        raise refusal("Paint a picture first: the film shows your last painting as it was painted (films are "
                      "kept for an hour).")
    reel, name = found
    prune_results()
    RESULTS.mkdir(parents=True, exist_ok=True)
    return reel, str(RESULTS / f"tee-film-{uuid.uuid4().hex[:6]}-{name}")
