"""The painting as a film: a reel keeps a bounded, evenly spaced set of frames, and the MP4 and animated WebP
written from it are read back by the libraries that wrote them (PyAV and Pillow)."""

from __future__ import annotations

import itertools

import av
import numpy as np
import pytest
from PIL import Image

from nst_core import film
from nst_core.film import Reel, film_size, timeline, write_film
from nst_core.mockup import BACKGROUND
from studio.film import Reels


def _frame(k: int, size=(96, 64), alpha: bool = False) -> Image.Image:
    """A picture whose grey level says which frame it is (k from 0 to 255)."""
    picture = Image.new("RGB", size, (k, k, k))
    if alpha:
        mask = Image.new("L", size, 255)
        mask.paste(0, (0, 0, size[0] // 2, size[1]))  # the left half left out
        picture.putalpha(mask)
    return picture


def _levels(reel: Reel) -> list[int]:
    return [round(np.asarray(frame).mean()) for frame in reel.frames()]


def test_a_long_run_keeps_at_most_most_frames_evenly_spread_and_always_the_newest():
    reel = Reel(most=10, side=32)
    for k in range(101):
        reel.add(_frame(k))
    levels = _levels(reel)
    assert 5 <= len(levels) <= 11  # halved when over 10, plus the newest
    gaps = np.diff(levels[:-1])
    assert len(set(gaps.tolist())) == 1 and gaps[0] == reel.stride  # evenly spaced, by the stride
    assert levels[0] == 0 and levels[-1] == 100  # from the first frame to the newest
    assert reel.nbytes < 11 * 32 * 22 * 3  # kept compressed


def test_a_short_run_keeps_every_frame():
    reel = Reel(most=10, side=32)
    for k in range(0, 70, 10):
        reel.add(_frame(k))
    assert _levels(reel) == list(range(0, 70, 10)) and reel.stride == 1


def test_the_film_is_sized_for_h264_with_the_pictures_shape():
    assert film_size((512, 341)) == (384, 256)
    assert film_size((341, 512)) == (256, 384)
    width, height = film_size((1000, 333), 100)
    assert width == 100 and height % 2 == 0 and abs(height - 33.3) <= 1.5


def test_the_timeline_opens_on_the_photo_paints_for_a_few_seconds_and_holds_the_end():
    reel = Reel(_frame(200, (3000, 2000)), most=40, side=96)
    for k in range(60):
        reel.add(_frame(k))
    assert reel.photo is None and reel.nbytes < 60 * 96 * 64 * 3  # the photo kept at the film's size, not whole
    frames, durations = timeline(reel)
    assert durations[0] == film.OPENING_SECONDS and durations[-1] == film.HOLD_SECONDS
    assert round(np.asarray(frames[0]).mean()) == 200  # the photo, fitted to the design's shape and size
    assert frames[0].size == frames[1].size == film_size((96, 64), 96)
    levels = [round(np.asarray(frame).mean()) for frame in frames]
    fade = levels.index(0) - 1  # the frames between the photo and the first painted one
    assert fade >= 1 and levels[:fade + 2] == sorted(levels[:fade + 2], reverse=True)  # a dissolve, no cut
    assert levels[fade + 1:] == [*range(0, 60, 2), 59]  # thinned to every other frame, ending on the newest
    painting = sum(durations[fade + 1:-1])
    assert painting <= film.PAINTING_SECONDS + 1e-9 and 1 / film.FPS[1] <= durations[-2] <= 1 / film.FPS[0]


def test_the_mp4_is_h264_and_plays_the_painting_in_order(tmp_path):
    reel = Reel(_frame(250), side=96)
    for k in range(0, 200, 4):
        reel.add(_frame(k))
    path = write_film(reel, tmp_path / "film.mp4")
    _, durations = timeline(reel)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        seconds = float(container.duration / av.time_base)
    fps = round(1 / min(durations))
    assert len(decoded) == sum(max(1, round(d * fps)) for d in durations)
    assert seconds == pytest.approx(sum(durations), abs=0.15)
    assert decoded[0].shape == (64, 96, 3)
    levels = [frame.mean() for frame in decoded]
    assert abs(levels[0] - 250) < 6 and abs(levels[-1] - 196) < 6  # the photo first, the last frame last
    painted = levels[round(film.OPENING_SECONDS * fps) + round(film.FADE_SECONDS * fps):]
    assert all(b >= a - 3 for a, b in itertools.pairwise(painted))  # in the order it was painted


@pytest.mark.parametrize("suffix", [".webp", ".gif"])
def test_the_animation_loops_with_a_duration_per_frame(tmp_path, suffix):
    reel = Reel(side=64)
    for k in range(0, 100, 10):
        reel.add(_frame(k, alpha=True))
    path = write_film(reel, tmp_path / f"film{suffix}")
    with Image.open(path) as animation:
        assert animation.is_animated and animation.n_frames == 10 and animation.info.get("loop") == 0
        animation.seek(animation.n_frames - 1)
        last = np.asarray(animation.convert("RGB"), dtype=float)
    assert np.abs(last[:, :20] - BACKGROUND).max() < 12  # the left-out half on the studio's grey
    assert abs(last[:, -20:].mean() - 90) < 8  # the painted half as painted


def test_a_film_needs_a_frame_and_a_known_format(tmp_path):
    with pytest.raises(ValueError, match="nothing was painted"):
        write_film(Reel(), tmp_path / "film.mp4")
    reel = Reel()
    reel.add(_frame(9))
    with pytest.raises(ValueError, match=r"\.mp4, \.webp, \.gif"):
        write_film(reel, tmp_path / "film.avi")
    with pytest.raises(ValueError, match="at least 2"):
        Reel(most=1)


def test_each_person_has_their_last_reel_for_a_while_and_the_oldest_go_first():
    reels = Reels(most=2, lifetime=3600)
    first = reels.start("ann", None, "a")
    assert reels.last("ann") is None  # nothing painted yet
    first.add(_frame(1))
    assert reels.last("ann") == (first, "a")
    second = reels.start("ann", None, "b")  # a new run replaces the last
    second.add(_frame(2))
    assert reels.last("ann") == (second, "b")
    for person in ("bob", "cy"):
        reels.start(person, None, person).add(_frame(3))
    assert reels.last("ann") is None and reels.last("cy") is not None  # only the newest two kept
    stale = Reels(lifetime=0.0)
    stale.start("ann", None, "a").add(_frame(1))
    assert stale.last("ann") is None


def test_a_live_run_keeps_its_frames_for_that_persons_film(app_module):
    """The Paint handler, as the page calls it: its frames go into the person's reel, and the film of it ends on
    the picture the page showed last."""
    from types import SimpleNamespace

    from studio import controls, film, painting

    settings = dict(zip(controls.NAMES, controls.apply_preset("default"), strict=True)) | {"size": 48, "steps": 10}
    request = SimpleNamespace(session_hash="film-test", headers={})
    assets = app_module.ASSETS
    updates = list(painting.paint(str(assets / "chelsea.png"), str(assets / "wave.jpg"), *settings.values(),
                                  *controls.EXTRAS.values(), request))  # positional, as gradio calls it
    pictures = [update[0] for update in updates if isinstance(update[0], Image.Image)]
    reel, _ = film.REELS.last("film-test")
    assert reel.seen == len(pictures) >= 2
    video, tab, tabs = film.make_film(request)
    with av.open(video) as container:
        last = list(container.decode(video=0))[-1].to_ndarray(format="rgb24")
    shown = np.asarray(pictures[-1].convert("RGB").resize(reel.size, Image.Resampling.LANCZOS), dtype=float)
    assert np.abs(last - shown).mean() < 8 and tab.visible and tabs.selected == "film"
    animation = film.make_animation(request)
    with Image.open(animation.value if isinstance(animation.value, str) else animation.value["path"]) as webp:
        assert webp.is_animated and webp.size == reel.size
    with pytest.raises(Exception, match="Paint a picture first"):
        film.make_film(SimpleNamespace(session_hash="nobody", headers={}))
