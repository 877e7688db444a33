"""The design sheet's handler: the page's photo, paintings, picture and settings as one PNG to download."""

from __future__ import annotations

import uuid
from pathlib import Path

import gradio as gr
from PIL import Image

from nst_core import ImageError
from nst_core.sheet import design_sheet, repaint_command, title

from .controls import NAMES, _readable, make_config, refusal
from .room import RESULTS, prune_results


def sheet_file(content: str | None, style: str | None, second: str | None, picture: str | None,
               regions: str | None, shape: str, blend: float, *settings) -> gr.DownloadButton:
    """The sheet of the picture on the page, behind a download button: the photo, the painting(s), the regions
    painted on the photo, the design, its tee and mug mock-ups, and the settings in plain words with the
    command that paints it again (its regions file: the sheet's regions picture, saved as regions.png)."""
    if not (content and style and picture):
        raise refusal("Paint a picture first: the design sheet shows the photo, the painting and the design.")
    paintings = [path for path in (style, second) if path]
    config = make_config(dict(zip(NAMES, settings)), shape, len(paintings), blend)
    names = [Path(path).name for path in (content, *paintings)]
    try:
        with Image.open(picture) as opened:
            design = opened.copy()  # RGBA where regions left parts out
        strokes = None
        if regions:
            with Image.open(regions) as opened:
                strokes = opened.copy()  # a picture, not its server path: the sheet names it regions.png
        sheet = design_sheet(content, [(path, title(path)) for path in paintings], design, config,
                             repaint_command(config, names[0], names[1:], strokes and "regions.png"), strokes)
    except (OSError, ImageError) as error:
        raise _readable(error, content, style, second, None, regions) from None
    prune_results()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"tee-sheet-{uuid.uuid4().hex[:6]}-{Path(names[0]).stem}-sheet.png"
    sheet.save(path)
    return gr.DownloadButton(f"Download the design sheet ({sheet.width}×{sheet.height})", value=str(path),
                             visible=True)
