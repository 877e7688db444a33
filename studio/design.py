"""The design on the page and what it was painted from. Its sheet and its before-and-after are made from this
record, never from whatever the photo and painting boxes show by then, so nothing offered belongs to another
design."""

from __future__ import annotations

from dataclasses import dataclass

from .comparison import before_after
from .controls import refusal
from .sheet import sheet_file


@dataclass(frozen=True)
class Design:
    """The inputs of the run that painted the design on the page."""

    content: str | None
    style: str | None
    second: str | None
    regions: str | None
    shape: str
    blend: float
    settings: tuple  # the page's controls, in CONTROLS' order


def painting_from(content, style, second, regions, shape, blend, *settings) -> Design:
    """What a run about to start paints from; it becomes the design's record once the run has painted."""
    return Design(content, style, second, regions, shape, blend, tuple(settings))


def painted_from(pending: Design | None) -> Design | None:
    """The run ended with a picture: its inputs are now the design's."""
    return pending


def sheet_of(design: Design | None, picture: str | None):
    """The design sheet of the design on the page, from what it was painted from."""
    if design is None or not picture:
        raise refusal("Paint a picture first: the design sheet shows the photo, the painting and the design.")
    return sheet_file(design.content, design.style, design.second, picture, design.regions, design.shape,
                      design.blend, *design.settings)


def before_after_of(design: Design | None, picture: str | None):
    """Before and after of the design on the page: the photo it was painted from, and the design."""
    return before_after(design.content if design else None, picture)
