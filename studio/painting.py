"""The live run's handlers: Paint (through the fair line, streaming the picture), Stop, and the estimate
before Paint."""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path

import gradio as gr
import pandas as pd

from nst_core import DivergenceError, ImageError
from nst_core.export import content_alpha
from nst_core.images import check_paintable, open_image
from nst_core.memory import DoesNotFitError

from .background import latest
from .controls import EXTRAS, NAMES, SHAPES, _inputs, _readable, refusal, taking
from .costs import Countdown, in_words
from .film import REELS
from .gate import GateError
from .regions import check_regions
from .room import GATE, PRINTS, beside_a_paint, live_steps, result_name, room_settings, save_result, sharing
from .server import engine, live_config

HEARTBEAT = 0.5  # seconds between a live run's updates when no frame is new, so Stop is heard at once
TERMS = {"what": {"style": "painted (style loss)", "content": "faithful (content loss)"}}  # the plot's series
STOPPED = "**stopped**: the picture so far stays above, and its download below; press Paint to start again."


@taking("content", "style", *NAMES, *EXTRAS)
def paint(*values, request: gr.Request = None):
    """Paint the photo in the style of the painting (Gatys et al.'s neural style transfer), streaming
    (picture, status line, loss plot, download) updates; a call that waits for the end gets the finished
    picture as a PNG, a status line such as "done in 1 min 5 s", the losses and the PNG's download.

    At the default size it takes about a minute or two on a 2-core CPU and seconds on a GPU; a smaller
    `size` and fewer `steps` are faster. The run first takes its place in the fair line (GATE) and
    reports its place and wait until its turn. A draft start shows the draft first; else, with
    `quick_start`, the first previews are painted at half size, shown enlarged.
    """
    settings = dict(zip(("content", "style", *NAMES, *EXTRAS), values))
    content, styles, config = _inputs(settings)
    config = live_config(room_settings(config), settings["quick_start"])
    try:
        photo = open_image(content)  # decoded once: for the estimate and for the run
    except ImageError as error:
        raise _readable(error, content) from None
    costlier = check_regions(settings["regions"], content, styles)

    def estimated() -> Countdown:
        """The run's countdown from the cost model as it stands, beside a print that renders now."""
        countdown = engine().countdown(config, photo.size)
        countdown.total = sharing(countdown.total * costlier, beside_a_paint()[0])
        return countdown

    countdown, (_, why) = estimated(), beside_a_paint()
    # gradio's MCP server calls through one client, one session for all its callers: each tool call holds a place
    called_by_tool = (getattr(request, "headers", None) or {}).get("x-gradio-user") == "mcp"
    person = (not called_by_tool and getattr(request, "session_hash", None)) or uuid.uuid4().hex
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
            countdown = estimated()  # the runs before it teach the cost model as they paint: the wait follows
            ticket.seconds = countdown.total
            yield gr.skip(), in_line(ticket, countdown.total), gr.skip(), gr.skip()
        source = photo if content_alpha(content) is None else content  # the file: its transparency is left out
        steps = live_steps(source, styles, config, settings["regions"])
        reel = REELS.start(person, source, Path(result_name(content, styles[0])).stem)  # for the film, if asked
        with contextlib.closing(latest(steps, heartbeat=HEARTBEAT)) as frames:
            for step in frames:
                if ticket.stopped.is_set():
                    break
                if step is None:  # no new frame yet: the time left ticks on, and Stop is heard here
                    line = (status(shown[0], shown[1] - (time.monotonic() - shown[2]), countdown) if shown
                            else f"**starting**: the first picture comes in a moment; all of it takes "
                                 f"{in_words(countdown.total)}" + (f" ({why})" if why else ""))
                    yield gr.skip(), line, gr.skip(), gr.skip()
                    continue
                left = countdown.update(step)
                shown = step, left, time.monotonic()
                GATE.report(ticket, left)
                picture = step.to_pil()
                reel.add(picture)
                download = save_result(picture, result_name(content, styles[0])) if step.done else \
                    gr.DownloadButton(visible=False)
                if step.iteration == 0:  # the draft: nothing measured yet
                    yield picture, status(step, left, countdown), gr.skip(), download
                    continue
                history += [(step.iteration, name, getattr(step.losses, name)) for name in ("style", "content")]
                plot = pd.DataFrame(history, columns=["step", "what", "loss"]).replace(TERMS)
                yield picture, status(step, left, countdown), plot, download
        if ticket.stopped.is_set() and not (shown and shown[0].done):  # the run has ended: the picture so far it is
            kept = save_result(picture, result_name(content, styles[0])) if picture else gr.skip()
            yield gr.skip(), STOPPED, gr.skip(), kept
    except (ImageError, DivergenceError, DoesNotFitError) as error:  # a GPU too full, too: said in words
        raise _readable(error, content, styles[0], settings.get("second_style"), None, settings["regions"]) from None
    finally:
        GATE.leave(ticket)  # stopped, failed, disconnected or done: the next in line goes


def in_line(ticket, estimate: float) -> str:
    """The status line of a run waiting for its turn."""
    ahead, wait, estimate = GATE.place(ticket), GATE.estimate(ticket), estimate * GATE.overrun()
    place = "you are next" if ahead == 0 else f"{ahead} {'person' if ahead == 1 else 'people'} ahead of you"
    if GATE.paused:
        return (f"**waiting in line**: the facilitator has paused the painting for a moment; {place}, then your "
                f"picture takes {in_words(estimate)}")
    return (f"**waiting in line**: {place}, {in_words(wait)} until your turn; "
            f"then your picture takes {in_words(estimate)}")


def status(step, left: float, countdown: Countdown) -> str:
    """The status line: how far (the share of the work, as the cost model weighs it), how long left, the
    step of the size the person asked for, and at the end how the estimate before the start compares."""
    if step.done:
        line = (f"**done** in {in_words(step.elapsed, about=False)} "
                f"(estimated {in_words(countdown.total, about=False)} before it started)")
    elif step.iteration == 0:
        line = f"**a draft** in the painting's manner; now painting it properly, {in_words(left)}"
    else:
        line = f"**painting** · {countdown.percent(step)} % · {in_words(left)} left ({countdown.where(step)})"
    return line + (f"\n\nNote: {step.note}" if step.note else "")


def stop(print_id: str = "", request: gr.Request = None) -> None:
    """Stop: this person's live run ends at its next update, keeping the picture so far (offered for
    download), and their print job ends too."""
    GATE.stop(getattr(request, "session_hash", None) or "")
    PRINTS.cancel(print_id)


def make_way(request: gr.Request = None) -> None:
    """Before a run started by clicking another painting: this person's run so far stops (its picture is
    kept) and leaves the line, so that the new one takes its place."""
    person = getattr(request, "session_hash", None) or ""
    GATE.stop(person)
    waited = time.monotonic() + 5 * HEARTBEAT + 2  # a run hears Stop at its next update
    while GATE.holds(person) and time.monotonic() < waited:
        time.sleep(0.05)


def refuse_second_paint(request: gr.Request = None) -> None:
    """A second press of Paint while a run waits or paints: say why nothing new starts."""
    person = getattr(request, "session_hash", None)
    if person and GATE.holds(person):
        gr.Warning("Your picture is still painting (or waiting in line): it goes on. Press Stop first to "
                   "start another.")


def estimate_line(content, size, steps, quick_start, shape, optimizer, init) -> str:
    """Before Paint: how long the picture will take on this server (nothing without a photo)."""
    if not content:
        return ""
    try:
        config = engine().default.replace(size=int(size), steps=int(steps), optimizer=optimizer, init=init,
                                          aspect=SHAPES[shape or "photo"][1])
        seconds = engine().countdown(live_config(config, quick_start),
                                     check_paintable(open_image(content)).size).total
    except (ValueError, TypeError, ImageError):
        return ""
    beside, why = beside_a_paint()
    return f"Takes {in_words(sharing(seconds, beside))} on this server ({int(size)} px, {int(steps)} steps" + (
        f"; {why})" if why else ")")
