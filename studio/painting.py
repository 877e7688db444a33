"""The live run's handlers: Paint (through the fair line, streaming the picture), Stop, and the estimate
before Paint."""

from __future__ import annotations

import contextlib
import time
import uuid

import gradio as gr
import pandas as pd

from nst_core import DivergenceError, ImageError
from nst_core.config import coarse_start
from nst_core.images import open_image

from .background import latest
from .controls import EXTRAS, NAMES, SHAPES, _inputs, _readable, refusal, taking
from .costs import in_words
from .gate import GateError
from .room import GATE, PRINTS, live_steps, result_name, save_result
from .server import TYPICAL_PHOTO, engine

HEARTBEAT = 0.5  # seconds between a live run's updates when no frame is new, so Stop is heard at once
TERMS = {"what": {"style": "painted (style loss)", "content": "faithful (content loss)"}}  # the plot's series
STOPPED = "**stopped**: the picture so far stays above, and its download below; press Paint to start again."


@taking("content", "style", *NAMES, *EXTRAS)
def paint(*values, request: gr.Request = None):
    """Paint the photo in the style of the painting, streaming (picture, status, loss plot, download) updates.

    The run first takes its place in the fair line (GATE) and reports its place and wait until its
    turn. With `quick_start` the first previews are painted at half size, shown enlarged.
    """
    settings = dict(zip(("content", "style", *NAMES, *EXTRAS), values))
    content, styles, config = _inputs(settings)
    quick = settings["quick_start"] in (True, None)
    try:
        photo = open_image(content)  # decoded once: for the estimate and for the run
    except ImageError as error:
        raise _readable(error, content) from None
    countdown = engine().countdown(coarse_start(config) if quick else config, photo.size)
    person = getattr(request, "session_hash", None) or uuid.uuid4().hex
    try:
        ticket = GATE.join(person, seconds=countdown.total)
    except GateError as error:
        raise refusal(str(error)) from None
    history, shown, picture = [], None, None  # shown: the newest step, its time left and when it came
    try:
        while not GATE.wait(ticket, timeout=1.0):
            if ticket.stopped.is_set():
                yield gr.skip(), "**stopped** while waiting in line; press Paint to join again.", gr.skip(), gr.skip()
                return
            yield gr.skip(), in_line(ticket, countdown.total), gr.skip(), gr.skip()
        with contextlib.closing(latest(live_steps(photo, styles, config, quick), heartbeat=HEARTBEAT)) as frames:
            for step in frames:
                if ticket.stopped.is_set():
                    break
                if step is None:  # no new frame yet: the time left ticks on, and Stop is heard here
                    line = (status(shown[0], shown[1] - (time.monotonic() - shown[2]), countdown.total) if shown
                            else f"**starting**: the first picture comes in a moment; all of it takes "
                                 f"{in_words(countdown.total)}")
                    yield gr.skip(), line, gr.skip(), gr.skip()
                    continue
                left = countdown.update(step)
                shown = step, left, time.monotonic()
                GATE.report(ticket, left)
                history += [(step.iteration, name, getattr(step.losses, name)) for name in ("style", "content")]
                plot = pd.DataFrame(history, columns=["step", "what", "loss"]).replace(TERMS)
                picture = step.to_pil()
                download = save_result(picture, result_name(content, styles[0])) if step.done else \
                    gr.DownloadButton(visible=False)
                yield picture, status(step, left, countdown.total), plot, download
        if ticket.stopped.is_set() and not (shown and shown[0].done):  # the run has ended: the picture so far it is
            kept = save_result(picture, result_name(content, styles[0])) if picture else gr.skip()
            yield gr.skip(), STOPPED, gr.skip(), kept
    except (ImageError, DivergenceError) as error:
        raise _readable(error, content, styles[0], settings.get("second_style")) from None
    finally:
        GATE.leave(ticket)  # stopped, failed, disconnected or done: the next in line goes


def in_line(ticket, estimate: float) -> str:
    """The status line of a run waiting for its turn."""
    ahead, wait = GATE.place(ticket), GATE.estimate(ticket)
    place = "you are next" if ahead == 0 else f"{ahead} {'person' if ahead == 1 else 'people'} ahead of you"
    return (f"**waiting in line**: {place}, {in_words(wait)} until your turn; "
            f"then your picture takes {in_words(estimate)}")


def status(step, left: float, estimate: float) -> str:
    """The status line: how far, how long left, and how the estimate before the start compares."""
    if step.done:
        line = (f"**done** in {in_words(step.elapsed, about=False)} "
                f"(estimated {in_words(estimate, about=False)} before it started)")
    else:
        line = (f"**painting** · {100 * step.iteration // step.total} % · {in_words(left)} left "
                f"(step {step.iteration} of {step.total})")
    return line + (f"\n\nNote: {step.note}" if step.note else "")


def stop(print_id: str = "", request: gr.Request = None) -> None:
    """Stop: this person's live run ends at its next update, keeping the picture so far (offered for
    download), and their print job ends too."""
    GATE.stop(getattr(request, "session_hash", None) or "")
    PRINTS.cancel(print_id)


def refuse_second_paint(request: gr.Request = None) -> None:
    """A second press of Paint while a run waits or paints: say why nothing new starts."""
    person = getattr(request, "session_hash", None)
    if person and GATE.holds(person):
        gr.Warning("Your picture is still painting (or waiting in line): it goes on. Press Stop first to "
                   "start another.")


def estimate_line(content, size, steps, quick_start, shape, optimizer) -> str:
    """Before Paint: how long the picture will take on this server."""
    try:
        config = engine().default.replace(size=int(size), steps=int(steps), optimizer=optimizer,
                                          aspect=SHAPES[shape or "photo"][1])
        seconds = engine().countdown(coarse_start(config) if quick_start else config,
                                     open_image(content).size if content else TYPICAL_PHOTO).total
    except (ValueError, TypeError, ImageError):
        return ""
    return f"Takes {in_words(seconds)} on this server ({int(size)} px, {int(steps)} steps)"
