"""The painting as a film: a run's frames kept as it paints (thinned evenly, so any run keeps a bounded number),
then encoded as an MP4 (H.264, by PyAV's FFmpeg) and an animated WebP or GIF (by Pillow) for chat apps."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from .images import ImageLike, crop_to_aspect, open_image
from .mockup import BACKGROUND

MOST = 150  # frames a reel keeps: beyond, every other one goes and only every other new one is kept
SIDE = 384  # pixels on the film's longest side: sharp on a phone, small enough to send
QUALITY = 92  # JPEG quality of a kept frame: a tenth of the raw pixels' memory, no visible loss under H.264
PAINTING_SECONDS = 5.0  # the painting itself, whatever the run's length
FPS = (10, 30)  # frames per second at least and at most: a short run plays slower, a long one is not rushed
OPENING_SECONDS = 0.6  # the photo, before the paint arrives
FADE_SECONDS = 0.5  # the photo dissolving into the first frame (a draft is painted at once: no cut to it)
HOLD_SECONDS = 1.5  # the finished design, before the film ends (or loops)
CRF = 23  # x264's constant quality: its default, about 1 MB for a 384 px film of a painting
FORMATS = (".mp4", ".webp", ".gif")


class Reel:
    """A run's frames as they arrive, kept at the film's size as JPEG and thinned evenly: when `most` are kept,
    every other one goes and from then on only every other new frame is kept, so the kept frames always
    span the whole run at an even spacing. The newest frame is always kept, so a stopped run's film ends on
    what was painted."""

    def __init__(self, photo: ImageLike | None = None, most: int = MOST, side: int = SIDE):
        if most < 2:
            raise ValueError(f"a reel keeps at least 2 frames, got most={most}")
        self.photo = photo  # the film opens on it, fitted to the design's shape; dropped at the first frame
        self.most, self.side = most, side
        self.opening_frame: bytes | None = None  # the photo at the film's size, as JPEG
        self.kept: list[bytes] = []  # every `stride`-th frame seen, as JPEG
        self.newest: bytes | None = None  # the last frame seen, whether or not it falls on the stride
        self.size: tuple[int, int] | None = None  # (width, height), even: set by the first frame's shape
        self.seen = 0
        self.stride = 1

    def add(self, picture: Image.Image) -> None:
        """Keep a frame of the picture as painted so far (RGBA: its left-out parts on the studio's grey)."""
        if self.size is None:
            self.size = film_size(picture.size, self.side)
            if self.photo is not None:  # kept small: a person's reel outlives the run, the photo need not
                self.opening_frame = self._shrunk(crop_to_aspect(open_image(self.photo), self.size[0] / self.size[1]))
                self.photo = None
        frame = self._shrunk(_on_grey(picture))
        if self.seen % self.stride == 0:
            self.kept.append(frame)
            if len(self.kept) > self.most:
                self.kept = self.kept[::2]  # the frames seen at multiples of twice the stride
                self.stride *= 2
        self.newest = frame
        self.seen += 1

    def _shrunk(self, picture: Image.Image) -> bytes:
        """An RGB picture at the film's size, as JPEG."""
        buffer = io.BytesIO()
        picture.resize(self.size, Image.Resampling.LANCZOS, reducing_gap=3.0).save(buffer, format="JPEG",
                                                                                    quality=QUALITY)
        return buffer.getvalue()

    @property
    def nbytes(self) -> int:
        """The memory the kept frames take."""
        return sum(map(len, self.kept)) + len(self.newest or b"") + len(self.opening_frame or b"")

    def frames(self) -> list[Image.Image]:
        """The kept frames in order, ending on the newest."""
        frames = self.kept if self.kept[-1:] == [self.newest] else [*self.kept, self.newest]
        return [_picture(frame) for frame in frames if frame is not None]

    def opening(self) -> Image.Image | None:
        """The photo as the run saw it (cropped to the design's shape), at the film's size."""
        return None if self.opening_frame is None else _picture(self.opening_frame)


def film_size(size: tuple[int, int], side: int = SIDE) -> tuple[int, int]:
    """A picture's (width, height) scaled to `side` on its longest side, each even (H.264's 4:2:0 needs it)."""
    scale = side / max(size)
    return tuple(max(2, 2 * round(length * scale / 2)) for length in size)


def timeline(reel: Reel) -> tuple[list[Image.Image], list[float]]:
    """The film's pictures and how long each shows (seconds): the photo dissolving into the first frame, the
    painting at a pace that fits PAINTING_SECONDS, and a hold on the last frame."""
    frames = reel.frames()
    if not frames:
        raise ValueError("nothing was painted yet: a film needs at least one frame")
    fps = min(max(len(frames) / PAINTING_SECONDS, FPS[0]), FPS[1])
    durations = [1 / fps] * len(frames)
    durations[-1] = HOLD_SECONDS
    opening = reel.opening()
    if opening is not None:
        fade = max(1, round(FADE_SECONDS * fps))
        dissolve = [Image.blend(opening, frames[0], k / (fade + 1)) for k in range(1, fade + 1)]
        frames, durations = [opening, *dissolve, *frames], [OPENING_SECONDS, *[1 / fps] * fade, *durations]
    return frames, durations


def write_film(reel: Reel, path: str | os.PathLike) -> Path:
    """The reel as a film at `path`: .mp4 (H.264, yuv420p, plays in every browser and on phones), .webp
    (animated, lossy) or .gif (animated, 256 colours per frame); the latter two loop."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"a film is written as {', '.join(FORMATS)}, not {path.suffix or 'a file without one'}")
    frames, durations = timeline(reel)
    if path.suffix.lower() == ".mp4":
        _write_mp4(frames, durations, path)
    else:  # Pillow keeps each frame's own duration, so holds cost one frame
        frames[0].save(path, save_all=True, append_images=frames[1:], loop=0,
                       duration=[round(1000 * seconds) for seconds in durations],
                       **({"quality": 80, "method": 4} if path.suffix.lower() == ".webp" else {"optimize": False}))
    return path


def _write_mp4(frames: list[Image.Image], durations: list[float], path: Path) -> None:
    """H.264 at a constant frame rate (every player's favourite), a hold being its frame repeated; x264 makes
    repeats almost free. The index is written first (faststart), so a browser plays it while downloading."""
    import av  # only films need FFmpeg

    fps = round(1 / min(durations))
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(CRF), "preset": "medium"}
        for frame, seconds in zip(frames, durations):
            picture = av.VideoFrame.from_ndarray(np.asarray(frame), format="rgb24")
            for _ in range(max(1, round(seconds * fps))):
                container.mux(stream.encode(picture))
        container.mux(stream.encode())  # what the encoder still holds


def _on_grey(picture: Image.Image) -> Image.Image:
    """The picture in RGB, its transparent parts on the studio's grey (as the page shows them)."""
    if picture.mode not in ("RGBA", "LA", "PA"):
        return picture.convert("RGB")
    ground = Image.new("RGB", picture.size, BACKGROUND)
    ground.paste(picture.convert("RGB"), mask=picture.getchannel("A"))
    return ground



def _picture(frame: bytes) -> Image.Image:
    return Image.open(io.BytesIO(frame)).convert("RGB")
