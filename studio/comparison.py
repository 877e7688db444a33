"""Before and after: the photo and the finished design, in register for the page's slider."""

from __future__ import annotations

import gradio as gr
from PIL import Image

from nst_core import ImageError
from nst_core.export import content_alpha
from nst_core.images import crop_to_aspect, open_image


def fitted_photo(photo: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The photo cropped, centred, to the shape of a design of `size` (width, height) and resized to it, as the
    run cropped it, so that the slider's two pictures line up."""
    width, height = size
    photo = crop_to_aspect(photo, width / height)
    return photo if photo.size == size else photo.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def before_after(content: str | None, design: str | None):
    """The slider's pair after a run, (the photo as the run saw it, the design as it is), transparency and all;
    the Before and after tab is shown with it. Nothing changes when either picture is missing or unreadable."""
    if not content or not design:
        return gr.skip(), gr.skip()
    try:
        with Image.open(design) as opened:
            after = opened.copy()  # kept as painted: RGBA where regions left parts out
        before = open_image(content, flatten=False)
        alpha = content_alpha(content)  # a cut-out photo shows as cut out, beside its cut-out design
        if alpha is not None:
            before.putalpha(Image.fromarray(alpha[0, 0].mul(255).round().byte().numpy()))
        before = fitted_photo(before, after.size)
    except (OSError, ImageError):
        return gr.skip(), gr.skip()
    return (before, after), gr.Tab(visible=True)


def live_view():
    """When a run starts: the live picture in front; Before and after hidden until the run ends, and the last
    design's film, its download and its sheet until this run's are asked for."""
    return (gr.Tabs(selected="design"), gr.Tab(visible=False), gr.Tab(visible=False), gr.DownloadButton(visible=False),
            gr.DownloadButton(visible=False))
