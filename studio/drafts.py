"""Try paintings: the photo drafted in every example painting and the uploaded one, in about a second, so a
volunteer sees which painting suits their photo before a minute of painting begins."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import gradio as gr
from gradio.route_utils import get_root_url

from nst_core import PRESETS, ImageError
from nst_core.draft import DraftUnavailable, draft
from nst_core.images import open_image, to_pil
from nst_core.sheet import title as named

from .controls import refusal

GALLERY_SIDE = 256  # drafts in the gallery: their longest side, in pixels (the transformer's cost follows it)
log = logging.getLogger("tee-style-studio")


def title(path: str | Path) -> str:
    """A painting's name from its file name, short enough for a caption: "starry_night.jpg" -> "Starry night"."""
    return named(path, untitled="Your painting")[:32]


def paintings_to_try(examples: list[Path], style: str | None) -> list[str]:
    """The example paintings, then the painting on the page when it is not one of them (an upload)."""
    paths = [str(path) for path in examples]
    if style and Path(str(style)).name not in {path.name for path in examples}:
        paths.append(str(style))
    return paths


def drafts(content: str | None, style: str | None, examples: list[Path]) -> list[tuple]:
    """(draft, caption) for each painting to try: the photo in its manner. No photo: the paintings themselves."""
    paths = paintings_to_try(examples, style)
    captions = [title(path) if index < len(examples) else f"Your painting ({title(path)})"
                for index, path in enumerate(paths)]
    if not content:
        return list(zip(paths, captions))
    try:
        photo = open_image(content)  # decoded once for every painting
    except ImageError as error:
        raise refusal(str(error).replace(str(content), "the photo")) from None
    config = PRESETS["default"].replace(size=GALLERY_SIDE)  # the run's start: the photo's light and dark kept
    started, pictures = time.perf_counter(), []
    for path, caption in zip(paths, captions):
        try:
            pictures.append((to_pil(draft(photo, path, config)), caption))
        except ImageError as error:  # only the upload can be unreadable, and it comes last
            gr.Warning(f"Your painting cannot be used: {str(error).replace(str(path), 'the painting')}")
        except DraftUnavailable as error:
            log.warning("drafts unavailable: %s", error)
            gr.Warning(f"Drafts are not available on this server ({error}); the paintings are shown as they are.")
            return list(zip(paths, captions))
    log.info("%d drafts in %.2f s", len(pictures), time.perf_counter() - started)
    return pictures


def chosen(selection: gr.SelectData, style: str | None, examples: list[Path]) -> str:
    """The painting a click on the gallery chose."""
    paths = paintings_to_try(examples, style)
    return paths[selection.index] if selection.index < len(paths) else style


def for_assistants(examples: list[Path], holder: gr.components.Component):
    """The looks as an assistant can show them: a short text with each draft's URL on this server under its
    painting's name (a gallery's file records read as raw JSON over MCP). `holder`, a component of the page,
    serves the drafts' files."""

    def try_paintings(content: str, painting: str | None = None, request: gr.Request = None) -> str:
        """Your photo drafted in each example painting, and in `painting` if one is given: a quick look, in a
        second or two on a 2-core CPU, at which painting suits the photo before painting it with `paint`.
        Returns a short text with one picture per painting (256 px on its longest side, a URL on this server)
        under the painting's name.

        Args:
            content: the photo: an image, as an http(s) URL on a public address or a data URI (data:image/png;base64,…)
            painting: a painting of your own to draft the photo in too, or none: an image, as for the photo
        """
        if not content:
            raise refusal("Send a photo to draft (an image URL or a data URI).")
        root = get_root_url(request.request, request.request.url.path, None) if request is not None else ""
        lines = []
        for picture, caption in drafts(content, painting, examples):
            path = _served(picture, holder, caption)
            lines.append(f"- {caption}: ![{caption}]({root}/gradio_api/file={path})")
        return (f"Your photo in {len(lines)} paintings (quick drafts; `paint` with the painting you like paints "
                "it properly, in about a minute):\n" + "\n".join(lines))

    return try_paintings


def _served(picture, holder: gr.components.Component, caption: str) -> str:
    """A draft (a picture, or a painting's own file when drafts are unavailable) in gradio's cache, where the
    server serves it: its path there."""
    if isinstance(picture, (str, Path)):
        return holder.move_resource_to_block_cache(str(picture))
    with tempfile.TemporaryDirectory() as folder:
        saved = Path(folder) / f"{''.join(c if c.isalnum() else '_' for c in caption.lower())}.png"
        picture.save(saved)
        return holder.move_resource_to_block_cache(str(saved))  # a copy, named by its contents
