"""The room: a volunteer shares their design to the wall (and can take it back), the wall shows the room's
shared designs for the projector, and the facilitator, with the session's key, runs the room: the line,
a pause, the room's size and steps, stars, hiding, prints of the starred designs, and the session as a zip."""

from __future__ import annotations

import base64
import csv
import functools
import hmac
import html
import io
import logging
import os
import secrets
import socket
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import gradio as gr
import segno
from gradio.route_utils import get_root_url
from PIL import Image

from nst_core.sheet import title

from . import room
from .controls import NAMES, make_config, refusal
from .costs import in_words
from .design import Design
from .store import Room, Shared, data_folder

WALL_SECONDS = 3.0  # how often a wall (and the facilitator's page) looks for new designs
WALL_SIDE = 720  # the wall's pictures, on their longest side: sharp on a projector, light to send
log = logging.getLogger("tee-style-studio")
# The recipe's settings in the session's designs.csv, as `python -m nst_core.catalogue` reads them.
CSV_FIELDS = ("size", "steps", "seed", "optimizer", "lr", "init", "content_weight", "tone_weight", "style_weight",
              "tv_weight", "style_scale", "pooling", "colour", "aspect")
_KEY: list[str] = []  # the session's key, made once (see `key`)


def key() -> str:
    """The facilitator's key: $NST_WORKSHOP_KEY (or --workshop-key), else made at the first call and kept for
    the life of the process (main() prints it with the join address)."""
    if not _KEY:
        _KEY.append(os.environ.get("NST_WORKSHOP_KEY") or secrets.token_urlsafe(9))
    return _KEY[0]


def _room() -> Room:
    if room.ROOM is None:
        room.ROOM = Room(data_folder())
    return room.ROOM


def is_facilitator(given: str | None) -> bool:
    """Whether `given` is the session's key (compared in constant time)."""
    return bool(given) and hmac.compare_digest(str(given).encode(), key().encode())


def _facilitator(given: str | None) -> None:
    """Refuse anyone without the session's key."""
    if not is_facilitator(given):
        raise refusal("That is not this session's facilitator key: it is printed where the studio was started.")


# The volunteer's side ------------------------------------------------------------------------------------------

def owner_of(token: str | None) -> str:
    """This browser's token (kept in its storage): it made its shares, and only it can take them back."""
    return token if token and len(token) == 32 and token.isalnum() else uuid.uuid4().hex


def share(name: str, design: Design | None, picture: str | None, owner: str) -> tuple[str, str]:
    """Share the design on the page to the wall, under `name`: (the line under the button, its id)."""
    if design is None or not picture:
        raise refusal("Paint a design first: the wall shows finished designs.")
    if not (owner and len(owner) == 32 and owner.isalnum()):
        raise refusal("This browser has no place of its own yet: reload the page and share again.")
    files = {"design": picture, "photo": design.content, "painting": design.style, "second": design.second,
             "regions": design.regions}
    recipe = {"shape": design.shape, "blend": design.blend, "settings": dict(zip(NAMES, design.settings))}
    shared = _room().share(owner, name, title(design.style) if design.style else "a painting", files, recipe)
    log.info("shared to the wall: %s", shared.id)
    return (f"On the wall as **{html.escape(shared.name)}**, with *{html.escape(shared.painting)}*. "
            "**Take it back** removes it."), shared.id


def take_back(shared_id: str | None, owner: str) -> tuple[str, str]:
    """Take this browser's design off the wall."""
    if not shared_id or not _room().withdraw(shared_id, owner):
        raise refusal("Only a design shared from this browser can be taken back, and this one is not on the wall.")
    return "Taken off the wall.", ""


# The wall -------------------------------------------------------------------------------------------------------

def wall(seen: str | None = None):
    """The wall's HTML, newest first, and what it shows (for the next refresh); the same HTML is not sent again."""
    designs = _room().wall()
    now = "|".join(f"{design.id}{design.starred:d}" for design in designs)
    if seen is not None and now == seen:
        return gr.skip(), seen
    if not designs:
        return ("<div class='wall-empty'>The room's designs come here when volunteers press "
                "<b>Share to the wall</b>.</div>"), now
    tiles = [f"<figure class='wall-tile'><img alt='' src='{_inline(design)}'><figcaption><b>"
             f"{html.escape(design.name)}</b> · {html.escape(design.painting)}{' ★' if design.starred else ''}"
             "</figcaption></figure>" for design in designs]
    return f"<div class='wall'>{''.join(tiles)}</div>", now


@functools.lru_cache(maxsize=256)
def _inline_file(path: Path) -> str:
    """A design's file as a data URI, shrunk for the wall (made once per design, whatever the walls open)."""
    with Image.open(path) as opened:
        picture = opened.convert("RGBA")
    picture.thumbnail((WALL_SIDE, WALL_SIDE))
    backed = Image.new("RGB", picture.size, (226, 229, 234))  # the page's grey behind parts left out
    backed.paste(picture, mask=picture.getchannel("A"))
    buffer = io.BytesIO()
    backed.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _inline(design: Shared) -> str:
    """A design as the wall shows it: inline, so the page names no file of the server."""
    return _inline_file(design.file(_room().designs, "design"))


WALL_CSS = (".nav-holder { display: none !important; } "  # the pages are reached by their addresses, not a menu
            ".wall { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 16px; } "
            ".wall-tile { margin: 0; } .wall-tile img { width: 100%; height: 340px; object-fit: contain; "
            "background: #e2e5ea; border-radius: 8px; } .wall-tile figcaption { font-size: 1.4em; "
            "text-align: center; padding: 4px; } .wall-empty { font-size: 1.6em; padding: 40px; text-align: center; }")


# Joining -------------------------------------------------------------------------------------------------------

def join_address(host: str | None, port: int) -> str:
    """The address volunteers open: this machine's address on the local network when the studio listens on
    every interface (--host 0.0.0.0), else the host it listens on."""
    if host in (None, "", "127.0.0.1", "localhost"):
        return f"http://127.0.0.1:{port}/"
    if host in ("0.0.0.0", "::"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect(("10.255.255.255", 1))  # no packet is sent: it only picks the outgoing interface
                host = probe.getsockname()[0]
            except OSError:
                host = socket.gethostname()
    return f"http://{host}:{port}/"


def join_code(address: str) -> Image.Image:
    """The join address as a QR code, large enough to scan from the back of a room on a projector."""
    buffer = io.BytesIO()
    segno.make(address, error="m").save(buffer, kind="png", scale=12, border=2)
    return Image.open(io.BytesIO(buffer.getvalue()))


def join_words(address: str) -> str:
    """The join address and its QR code, as the terminal shows them to the facilitator."""
    buffer = io.StringIO()
    segno.make(address, error="m").terminal(out=buffer, compact=True)
    return f"Volunteers join at {address}\n{buffer.getvalue()}"


# The facilitator's side -----------------------------------------------------------------------------------------

def open_room(given_key: str, request: gr.Request = None):
    """The facilitator's view, with the join address as a QR code."""
    _facilitator(given_key)
    address = room.JOIN or (f"{get_root_url(request.request, request.request.url.path, None)}/" if request else "")
    overview, gallery, _ = room_state(given_key)
    choices = _choices(_room().wall(everything=True))
    chooser = gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)  # on opening: the newest
    return overview, gallery, chooser, (join_code(address) if address else None)


def room_state(given_key: str):
    """The facilitator's view: the line, the room's settings, and every design (hidden ones too)."""
    _facilitator(given_key)
    running, waiting = room.GATE.people()
    line = [f"- painting now: {in_words(left)} left" for left in running] or ["- nobody is painting"]
    line += [f"- waiting, {place}: about {in_words(seconds, about=False)} to paint" for place, seconds in
             enumerate(waiting, 1)]
    paused = "**New runs are paused.**" if room.GATE.paused else "New runs start as their turn comes."
    size, steps = _room().setting("size"), _room().setting("steps")
    sizes = f"The room paints at {size} px, {steps} steps." if size else "The room paints at this server's default."
    designs = _room().wall(everything=True)
    gallery = [(str(design.file(_room().designs, "design")), _caption(design)) for design in designs]
    # The choices follow the room; the design chosen stays chosen (the page refreshes this every few seconds).
    return (f"{paused} {sizes}\n\n**The line**\n" + "\n".join(line), gallery,
            gr.Dropdown(choices=_choices(designs)))


def _choices(designs: list[Shared]) -> list[tuple[str, str]]:
    """The designs as (caption, id), for the facilitator's list."""
    return [(_caption(design), design.id) for design in designs]


def _caption(design: Shared) -> str:
    marks = ("★ " if design.starred else "") + ("(hidden) " if design.hidden else "")
    return f"{marks}{design.name} · {design.painting} · {time.strftime('%H:%M', time.localtime(design.shared))}"


def mark(given_key: str, design_id: str, what: str):
    """Star, unstar, hide or show a design (`what`), then the facilitator's view again."""
    _facilitator(given_key)
    changes = {"star": {"starred": True}, "unstar": {"starred": False}, "hide": {"hidden": True},
               "show": {"hidden": False}}
    if what not in changes or not _room().mark(design_id, **changes[what]):
        raise refusal("Choose a design first.")
    return room_state(given_key)


def pause(given_key: str, paused: bool):
    """Pause new runs (for a talk; runs painting now finish), or let them start again."""
    _facilitator(given_key)
    room.GATE.pause(bool(paused))
    _room().set("paused", bool(paused))
    return room_state(given_key)


def room_size(given_key: str, size: float, steps: float):
    """The size and steps every run in the room paints at (0: this server's default)."""
    _facilitator(given_key)
    if size and not (64 <= int(size) <= 1024 and 10 <= int(steps) <= 1000):
        raise refusal("The room's size must be 64 to 1024 px and its steps 10 to 1000 (or size 0: the default).")
    _room().set("size", int(size) or None)
    _room().set("steps", int(steps) if size else None)
    return room_state(given_key)


def print_starred(given_key: str, print_name: str):
    """Send the starred designs to print, oldest star first, one after another beside the room's live runs."""
    _facilitator(given_key)
    from .printing import start_print

    starred = [design for design in reversed(_room().wall(everything=True)) if design.starred]
    if not starred:
        raise refusal("Star the designs to print first.")
    prints = _room().setting("prints", {})
    started = []
    for design in starred:
        earlier = room.PRINTS.get(prints.get(design.id, ""))
        if earlier is not None and earlier.state in ("waiting", "painting", "done"):  # pressed again: not twice
            started.append(f"- {html.escape(design.name)} · {html.escape(design.painting)}: print **{earlier.id}** "
                           f"({earlier.title}), {earlier.state}")
            continue
        folder = _room().designs / design.id
        files = {name: str(folder / file) for name, file in design.files.items()}
        job = start_print({**design.recipe["settings"], "content": files["photo"], "style": files["painting"],
                           "second_style": files.get("second"), "regions": files.get("regions"),
                           "shape": design.recipe["shape"], "blend": design.recipe["blend"], "quick_start": True,
                           "print_name": print_name, "approved": files["design"]})
        prints[design.id] = job.id
        started.append(f"- {html.escape(design.name)} · {html.escape(design.painting)}: print **{job.id}** "
                       f"({job.title}, {in_words(job.estimate)})")
    _room().set("prints", prints)
    return "Printing, one after another:\n" + "\n".join(started)


def session_zip(given_key: str, starred_only: bool) -> str:
    """The session as one zip: each design (starred, or all) with its photo, paintings and finished print file,
    and designs.csv, which `python -m nst_core.catalogue designs.csv --out DIR` paints again."""
    _facilitator(given_key)
    designs = [design for design in reversed(_room().wall(everything=True)) if design.starred or not starred_only]
    if not designs:
        raise refusal("No designs to download yet." if not starred_only else "Star some designs first.")
    prints = _room().setting("prints", {})
    path = Path(tempfile.mkdtemp(prefix="tee-session-")) / f"tee-style-session-{time.strftime('%Y%m%d-%H%M')}.zip"
    rows = []
    with zipfile.ZipFile(path, "w") as archive:
        for number, design in enumerate(designs, 1):
            folder = f"{number:02d}-{_slug(design.name)}"
            for name, file in design.files.items():
                archive.write(_room().designs / design.id / file, f"{folder}/{file}")
            job = room.PRINTS.get(prints.get(design.id, "")) if design.id in prints else None
            if job is not None and job.state == "done" and job.path("design"):
                archive.write(job.path("design"), f"{folder}/print-{job.path('design').name}")
            config = make_config(design.recipe["settings"], design.recipe["shape"], 1, design.recipe["blend"])
            rows.append({"name": f"{number:02d} {_slug(design.name)}", "photo": f"{folder}/{design.files['photo']}",
                         "painting": f"{folder}/{design.files['painting']}",
                         "regions": f"{folder}/{design.files['regions']}" if "regions" in design.files else "",
                         **{field: getattr(config, field) for field in CSV_FIELDS}})
        table = io.StringIO()
        writer = csv.DictWriter(table, fieldnames=["name", "photo", "painting", "regions", *CSV_FIELDS])
        writer.writeheader()
        writer.writerows(rows)
        archive.writestr("designs.csv", table.getvalue())
    return str(path)


def _slug(name: str) -> str:
    return "".join(character if character.isalnum() else "-" for character in name)[:24] or "design"
