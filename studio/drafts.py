"""Try paintings: the photo drafted in every example painting and the uploaded one, in about a second, so a
volunteer sees which painting suits their photo before a minute of painting begins."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import gradio as gr

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
