"""Tee Style Studio: the Gradio page where a photo is painted in the style of a painting, live."""

from __future__ import annotations

import argparse
import inspect
import logging
import os
from pathlib import Path

try:  # ZeroGPU: `spaces` must be imported before anything touches CUDA
    import spaces  # noqa: F401
except ImportError:  # off a Space, or a Space without ZeroGPU
    spaces = None

import gradio as gr

from nst_core import PRESETS
from nst_core.export import PRINT_PRESETS
from nst_core.printing import FINAL_STEPS
from studio import disk, room
from studio.comparison import live_view
from studio.controls import (CONTROLS, DEFAULTS, LR_FOR, NAMES, PRESET_WORDS, PRINT_INPUTS, SHAPES, PictureUpload,
                             Slider, apply_preset, checked_upload)
from studio.costs import in_words, plan
from studio.design import before_after_of, painted_from, painting_from, sheet_of
from studio.drafts import chosen, drafts, for_assistants, title
from studio.executors import RayCluster
from studio.film import make_animation, make_film
from studio.painting import TERMS, estimate_line, make_way, paint, refuse_second_paint, stop
from studio.printing import (REOPENED, cancel_print_job, fetch_print, open_print, print_area_preview, print_ended,
                             print_estimate, print_times, render_print, resume_print)
from studio.regions import CHOICE_CSS, CHOICES, LEGEND, brush_for, editor_brush, editor_photo, region_file
from studio.room import GATE
from studio.server import PREVIEW_SECONDS, START, TYPICAL_PHOTO, engine, live_config
from studio.store import NAME_LENGTH, data_folder
from studio.wall import (WALL_CSS, WALL_SECONDS, is_facilitator, join_address, join_words, mark, open_room, owner_of,
                         pause, print_starred, room_size, room_state, session_zip, share, take_back, wall)
from studio.wall import key as wall_key
from studio.workshop import Workshop

ASSETS = Path(__file__).resolve().parent / "assets"
PHOTOS = ("chelsea.png", "astronaut.png", "coffee.png")
PAINTINGS = ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg", "wave.jpg", "udnie.jpg")
EXAMPLE_PAINTINGS = [ASSETS / name for name in PAINTINGS]
log = logging.getLogger("tee-style-studio")
SERVER_CHECK_SECONDS = 2.0
MAX_UPLOAD = "30mb"  # a photo from a phone or a camera is 2-15 MB; gradio refuses a larger upload before it lands
MCP_PATH = "/gradio_api/mcp/"  # where gradio serves the MCP server (--mcp), under the page's own address
# Started once in the browser when the page opens, on a timer of its own (gradio's event loop stalls once its
# connection is lost): every SERVER_CHECK_SECONDS, is the server still there? A page whose server is gone says
# so in a banner of its own (with the print id), and its status line stops claiming that anything paints.
SERVER_CHECK = """() => {
  if (window.teeServerCheck) return;
  const root = (window.gradio_config && window.gradio_config.root) || window.location.pathname.replace(/\\/$/, '');
  const check = async () => {
    let answered = false;
    try {
      answered = (await fetch(root + '/gradio_api/app_id', {cache: 'no-store', signal: AbortSignal.timeout(1500)})).ok;
    } catch (error) {}
    const banner = document.querySelector('#offline');
    if (!banner) return;
    const lines = document.querySelectorAll('#status .prose, #print-status .prose');
    if (answered) {  // back: the banner goes, and the lines say again what they said
      banner.innerHTML = '';
      for (const line of lines) if (line.dataset.before !== undefined) {
        line.innerHTML = line.dataset.before; delete line.dataset.before; }
      return;
    }
    const id = (document.querySelector('#print-id textarea, #print-id input') || {}).value || '';
    banner.innerHTML = '<div class="offline">The server stopped answering: nothing is being painted now.' +
      (id ? ' Your print id is <b>' + id.replace(/[^0-9a-z]/gi, '') + '</b>: fetch it once the server is back.' : '') +
      ' This page checks again every few seconds.</div>';
    for (const line of lines) if (line.textContent.trim() && line.dataset.before === undefined) {
      line.dataset.before = line.innerHTML;
      line.textContent = 'Not painting: the server stopped answering.';
    }
  };
  window.teeServerCheck = setInterval(check, SECONDS * 1000);
}""".replace("SECONDS", repr(SERVER_CHECK_SECONDS))


# The page's own look, laid in by an HTML block (gradio 6 takes page CSS only in launch()).
PAGE_CSS = (
    # A picture is shown no larger than its pixels (never a small one blurred across the box), on the grey of the
    # mock-ups' studio, so parts its regions leave out read as background.
    "#result img { width: 100%; height: 100%; object-fit: scale-down; background: #e2e5ea; } "
    "#compare img { background: #e2e5ea !important; } "  # over the slider's own white
    "#film video { max-height: 430px; } "  # as high as the live picture, no higher
    + CHOICE_CSS +
    # Each look's name under it, not over it; two to a row on a phone.
    " #looks .thumbnail-item { aspect-ratio: auto; display: flex; flex-direction: column; } "
    "#looks .thumbnail-item > img { height: auto; min-height: 0; flex: 1; } "
    "#looks .caption-label { position: static; max-width: none; border: 0; border-radius: 0; opacity: 1 !important; } "
    "@media (max-width: 640px) { #looks .grid-container { grid-template-columns: repeat(2, minmax(100px, 1fr)) "
    "!important; } } "
    # One time on screen for a run: the page's own, not gradio's timer beside it.
    "#status .meta-text, #status .meta-text-center, #status .eta-bar, #print-status .meta-text, "
    "#print-status .meta-text-center, #print-status .eta-bar { display: none !important; } "
    # The wall and the facilitator's pages are reached by their addresses, not a menu: no navigation bar above the
    # page (gradio 6.31 draws one for a multipage app, Navbar(visible=False) or not).
    ".nav-holder { display: none !important; } "
    ".offline { position: fixed; top: 8px; left: 50%; transform: translateX(-50%); z-index: 1000; "
    "background: #fde8e8; color: #9b1c1c; padding: 8px 12px; border-radius: 6px; }"
)
# After Paint on a narrow screen: the design area (its status line under it) scrolled into view.
INTO_VIEW = """() => { if (window.innerWidth < 800) {
  document.querySelector('#views')?.scrollIntoView({behavior: 'instant', block: 'start'}); } }"""


def looks(content: str | None, painting: str | None = None) -> list[tuple]:
    """The page's looks: the photo drafted in each example painting and in `painting` (an upload), as (picture,
    name) pairs, 256 px on their longest side."""
    return drafts(content, painting, EXAMPLE_PAINTINGS)


def choose_painting(uploaded: str | None, selection: gr.SelectData) -> str:
    """The painting whose draft was clicked."""
    return chosen(selection, uploaded, EXAMPLE_PAINTINGS)


def fit_to_machine(page: gr.Blocks) -> None:
    """The settings' starting values made this machine's default picture (size, steps, start, precision...)
    before launch: the page opens with them, and an API call that leaves a setting out paints what the
    page paints (gradio gives a left-out parameter its component's starting value)."""
    default = engine().default
    found = {block.elem_id: block for block in page.blocks.values() if getattr(block, "elem_id", None)}
    for control in CONTROLS:
        found[f"control-{control.name}"].value = control.from_config(getattr(default, control.field))
    for function in page.fns.values():  # how long a print takes here, where a caller chooses its size
        if function.api_name == "print":
            what = inspect.getdoc(function.fn).split("\n\n")[0].replace("\n", " ")  # its times, then its Args
            function.api_description = f"{what} {print_times()}"


def open_page(request: gr.Request):
    """On opening the page: an example photo and painting to start from, this machine's default settings, and
    a print job named in the link (`?print=ID`). The boxes start empty in the page's build, so that the API
    asks for a photo and a painting instead of offering an example of its own."""
    wanted = (getattr(request, "query_params", None) or {}).get("print", "")
    return [str(ASSETS / PHOTOS[0]), str(ASSETS / PAINTINGS[0]), *apply_preset("default"), engine().words, wanted]


def keeping() -> tuple[int, int]:
    """How often gradio clears its cache of uploads and results, and their age then: $NST_KEEP_HOURS (--keep-hours)."""
    age = int(float(os.environ.get("NST_KEEP_HOURS", "1")) * 3600)
    return min(age, 3600), age


def build_demo() -> gr.Blocks:
    """The page: the photo, the painting, Paint and the picture at first sight; settings and print below."""
    shown = DEFAULTS.replace(preview_seconds=PREVIEW_SECONDS, init=START)  # until fit_to_machine
    with gr.Blocks(title="Tee Style Studio", delete_cache=keeping()) as demo:
        gr.Markdown("## Tee Style Studio · paint a photo in the style of a painting, for tees, mugs and "
                    "stickers", elem_id="title")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                with gr.Row():
                    content = PictureUpload(None, type="filepath", label="Photo",
                                            sources=["upload", "clipboard"], height=190, elem_id="content")
                    style = PictureUpload(None, type="filepath", label="Painting",
                                          sources=["upload", "clipboard"], height=190, elem_id="style")
                photos = gr.Gallery([str(ASSETS / name) for name in PHOTOS], label="Example photos",
                                    columns=3, height=84, allow_preview=False, buttons=[], elem_id="photos")
                uploaded = PictureUpload(None, type="filepath", label="Painting to try", visible=False,
                                         elem_id="uploaded")  # the painting uploaded last, beside the examples
                with gr.Accordion("Regions: keep the photo, leave out, or a second painting, where you paint",
                                  open=False, elem_id="regions-section"):
                    gr.Markdown(LEGEND, elem_id="regions-legend")
                    brush_choice = gr.Radio(CHOICES, value=CHOICES[0], label="What you paint", elem_id="brush-choice")
                    editor = gr.ImageEditor(
                        editor_photo(str(ASSETS / PHOTOS[0])), label="Paint on your photo", type="numpy", image_mode="RGBA", sources=[], transforms=[],
                        layers=False, buttons=[], height=360, elem_id="editor",
                        brush=editor_brush())
                regions = PictureUpload(None, type="filepath", label="Regions", visible=False,
                                        elem_id="regions")  # the strokes in the colour code, for the API
                shape = gr.Radio([(words, name) for name, (words, _) in SHAPES.items()], value="photo",
                                 label="Shape of the design", elem_id="shape")
                with gr.Row():
                    run = gr.Button("Paint", variant="primary", elem_id="run", scale=2)
                    stop_button = gr.Button("Stop", variant="stop", elem_id="stop", scale=1)
                estimate = gr.Markdown("", elem_id="estimate")
                # Not "Settings": gradio's own footer has a "Settings" of its own.
                with gr.Accordion("Fine-tune the painting", open=False, elem_id="settings"):
                    preset = gr.Radio([(PRESET_WORDS.get(name, name), name) for name in PRESETS], value="default",
                                      label="Start from a recipe", info="it sets the controls below")
                    components = {control.name: control.make(shown) for control in CONTROLS}
                    for name, component in components.items():
                        component.elem_id = f"control-{name}"  # found again by fit_to_machine, and by tests
                    second_style = PictureUpload(None, type="filepath", label="Second painting (optional)",
                                                 sources=["upload", "clipboard"], height=140, elem_id="style2")
                    blend = Slider(0, 1, 0.5, step=0.05, label="Blend (share of the second painting)")
                    quick_start = gr.Checkbox(True, label="Quick first look",
                                              info="when starting from the photo or noise: a half-size sketch "
                                                   "first (a draft start shows its draft at once instead)")
                with gr.Accordion("About this server", open=False, elem_id="about-section"):
                    about_line = gr.Markdown("", elem_id="about")
            with gr.Column(scale=6):
                gr.HTML(f"<style>{PAGE_CSS}</style>", padding=False, elem_id="fit")
                # Before and after sits behind the live picture, not below it: the status and the download stay in
                # sight at 1366x768. Its tab appears once a run ends; the live one stays mounted for every frame.
                with gr.Tabs(selected="looks", elem_id="views") as views:
                    # The looks, large, before the first run; after it, one click away beside the design.
                    with gr.Tab("Your photo in each painting", id="looks", elem_id="looks-tab"):
                        gallery = gr.Gallery([(str(ASSETS / name), title(name)) for name in PAINTINGS],
                                           label="Click one to paint it", show_label=False, columns=3, height=430,
                                           object_fit="contain", allow_preview=False, buttons=[], elem_id="looks")
                    with gr.Tab("Your design", id="design", render_children=True, elem_id="design-tab"):
                        picture = PictureUpload(label="Your design", show_label=False, type="filepath",
                                                format="png", interactive=False, buttons=["fullscreen"],
                                                height=430, elem_id="result")  # the tab above names it
                    with gr.Tab("Before and after", id="compare", visible=False, elem_id="compare-tab") as compare_tab:
                        # No fixed height: on a phone a wide design's slider is no taller than the design.
                        compare = gr.ImageSlider(label="Photo (left) · design (right): drag the line", type="pil",
                                                 format="png", interactive=False, buttons=["fullscreen"],
                                                 max_height=430, elem_id="compare")
                    with gr.Tab("Film", id="film", visible=False, elem_id="film-tab") as film_tab:
                        film = gr.Video(label="The painting as a film (MP4)", interactive=False, autoplay=True,
                                        loop=True, buttons=["download"], elem_id="film")  # its own shape
                gr.HTML("", elem_id="offline", padding=False)  # filled by SERVER_CHECK when the server is gone
                progress_line = gr.Markdown("Press **Paint** to start.", label="Status", elem_id="status")
                download = gr.DownloadButton("Download PNG", visible=False, elem_id="download")
                with gr.Row():  # to share: made when asked for, so that nobody waits for what they did not want
                    make_sheet = gr.Button("Design sheet: photo, painting, design, mock-ups, settings", size="sm",
                                           elem_id="make-sheet")
                    film_button = gr.Button("Film of the painting, to share", size="sm", elem_id="make-film")
                with gr.Row():
                    sheet = gr.DownloadButton("Download the design sheet", visible=False, size="sm", elem_id="sheet")
                    animation = gr.DownloadButton("Download the film for chat apps", visible=False, size="sm",
                                                  elem_id="animation")
                with gr.Row(equal_height=True, elem_id="share-row"):  # the room's wall: only what a volunteer shares
                    share_name = gr.Textbox("", label="Your name on the wall", placeholder="a first name or a nickname",
                                            max_length=NAME_LENGTH, scale=2, elem_id="share-name")
                    share_button = gr.Button("Share to the wall", scale=1, elem_id="share")
                    take_back_button = gr.Button("Take it back", visible=False, scale=1, elem_id="take-back")
                share_line = gr.Markdown("", elem_id="share-line")
                with gr.Accordion("How it is going", open=False, elem_id="details"):
                    gr.Markdown("Lower is better · blue: how far from the painting's style · orange: how far "
                                "from the photo", elem_id="plot-key")
                    plot = gr.LinePlot(x="step", y="loss", color="what", height=200,
                                       color_map=dict(zip(TERMS["what"].values(), ("#1f77b4", "#ff7f0e"))),
                                       label="Progress", elem_id="plot")
                with gr.Accordion("Print: the design above at print size", open=False,
                                  elem_id="print") as print_section:
                    gr.Markdown("Refines the picture above at print size (no seams), then writes a 300 dpi "
                                "file and shows it on a tee and a mug. It goes on if you close the page: "
                                "keep its id to fetch it later.")
                    with gr.Row():
                        print_name = gr.Dropdown([*PRINT_PRESETS, "custom"], value=PRINT_INPUTS["print_name"], label="Print size",
                                                 info=" · ".join(f"{n} {w}×{h}" for n, (w, h) in PRINT_PRESETS.items()))
                        custom_size = gr.Textbox("2000x2000", label="Custom size (W×H px)", visible=False)
                    with gr.Row():
                        fit = gr.Radio([("Fit the whole design inside the print area (the rest left transparent)",
                                         "fit"), ("Fill the print area (the design's edges are cropped)", "fill")],
                                       value="fit", label="When the design's shape differs from the print's",
                                       elem_id="fit-design", scale=3, min_width=240)
                        print_area = gr.Image(None, label="The print area (outlined), as it will be printed",
                                              type="pil", format="png", interactive=False, buttons=[], height=240,
                                              elem_id="print-area", scale=2, min_width=160)
                    with gr.Row():
                        final_steps = Slider(1, 100, FINAL_STEPS, step=1, label="Steps at print size",
                                             info="refining the picture above (without one, a small print is "
                                                  "painted from the photo with the main Steps)")
                        colours = Slider(0, 16, 0, step=1, label="Ink colours (0: full colour)")
                    with gr.Row():
                        transparent = gr.Checkbox(False, label="Keep the photo's transparent background (sticker)")
                        sixteen_bits = gr.Checkbox(False, label="Smoothest colours, for print shops that ask "
                                                                "(16-bit TIFF)")
                    with gr.Row():
                        render = gr.Button("Render print", variant="primary", elem_id="render", scale=2)
                        cancel_print = gr.Button("Cancel the print", variant="stop", elem_id="cancel-print", scale=1)
                    print_estimate_line = gr.Markdown("", elem_id="print-estimate")
                    print_status = gr.Markdown("", label="Print status", elem_id="print-status")
                    with gr.Row():
                        tee = gr.Image(label="On a tee", type="filepath", interactive=False, elem_id="tee")
                        mug = gr.Image(label="On a mug", type="filepath", interactive=False, elem_id="mug")
                    print_download = gr.DownloadButton("Download print file", visible=False,
                                                       elem_id="print-download")
                    with gr.Row():
                        print_id = gr.Textbox("", label="Print id", placeholder="fetch a print started earlier",
                                              elem_id="print-id", scale=3)
                        fetch = gr.Button("Fetch print", elem_id="fetch", scale=1)

        controls = [components[name] for name in NAMES]
        extras = [blend, second_style, quick_start, shape, regions]
        ui_only = {"api_visibility": "private", "queue": False}  # page conveniences, not API endpoints
        photos.select(_pick(PHOTOS), None, content, **ui_only)
        preset.change(apply_preset, preset, controls, **ui_only)
        components["optimizer"].change(LR_FOR.get, components["optimizer"], components["lr"], **ui_only)
        shape.change(lambda name: name if name in PRINT_PRESETS else gr.skip(), shape, print_name, **ui_only)
        print_name.change(lambda name: gr.Textbox(visible=name == "custom"), print_name, custom_size, **ui_only)
        timing = [content, components["size"], components["steps"], quick_start, shape, components["optimizer"],
                  components["init"]]
        for trigger in timing[1:]:
            trigger.change(estimate_line, timing, estimate, **ui_only)
        # The print's estimate and its area follow its settings and the approved picture, but not every frame of a run.
        print_timing = [content, print_name, custom_size, final_steps, picture, shape, fit]  # the picture: approved
        for event in (print_name.change, custom_size.change, final_steps.change, shape.change, fit.change,
                      print_section.expand):
            event(print_estimate, print_timing, print_estimate_line, **ui_only)
        placing = {"fn": print_area_preview, "outputs": print_area, **ui_only,
                   "inputs": [picture, content, print_name, custom_size, fit, shape, transparent]}
        for event in (print_name.change, custom_size.change, fit.change, shape.change, transparent.change,
                      print_section.expand):
            event(**placing)
        # What follows the photo on the page, in one handler: gradio 6.31 fires a new photo's change event again
        # when several page-only handlers of it answer, each time (a loop, 5 a second, that starved the runs).
        following = [*timing, *print_timing, *placing["inputs"]]
        content.change(lambda *values: follow_photo(values, len(timing), len(print_timing)), following,
                       [estimate, print_estimate_line, print_area, editor], **ui_only)
        run.click(refuse_second_paint, None, None, trigger_mode="multiple", api_visibility="private",
                  concurrency_limit=None)  # queued: a warning reaches the page only through the queue
        painting = dict(fn=paint, inputs=[content, style, *controls, *extras],
                        outputs=[picture, progress_line, plot, download], show_progress_on=progress_line,
                        concurrency_limit=None)  # GATE keeps the line
        # The strokes become a region image in the colour code first: the API's `regions` takes such a file.
        strokes = {"fn": region_file, "inputs": editor, "outputs": regions, **ui_only}
        brush_choice.change(brush_for, brush_choice, editor, **ui_only)  # the named choice is the brush in hand
        # A new run shows its live picture; the run's end fills Before and after (not a failed run's).
        pending, made_from = gr.State(None), gr.State(None)  # the run's inputs, then the design's (studio/design.py)
        comparing = {"fn": before_after_of, "inputs": [made_from, picture], "outputs": [compare, compare_tab],
                     **ui_only}
        fresh = {"fn": live_view, "outputs": [views, compare_tab, film_tab, animation, sheet], **ui_only}
        # The design on the page owns its sheet and its before-and-after: they are made from what its run painted
        # from (kept aside at its start, the design's once it has painted), not from what the boxes show later.
        recording = {"fn": painting_from, "outputs": pending, **ui_only,
                     "inputs": [content, style, second_style, regions, shape, blend, *controls]}
        adopting = {"fn": painted_from, "inputs": pending, "outputs": made_from, **ui_only}
        run.click(**fresh)
        for event in (run.click, gallery.select):  # on a phone, the place in line and the picture come into sight
            event(None, None, None, js=INTO_VIEW)
        painted = run.click(**strokes).then(**recording).then(api_name="paint", **painting)
        painted.success(**adopting).then(**comparing)
        painted.then(print_estimate, print_timing, print_estimate_line, **ui_only)
        painted.then(**placing)
        # Try paintings: the photo drafted in each painting, refreshed with the photo or an upload, in a small
        # group of its own so that drafts never wait behind live runs; a click paints that painting.
        drafting = {"fn": looks, "inputs": [content, uploaded], "outputs": gallery, "concurrency_limit": 2,
                    "concurrency_id": "drafts", "show_progress": "minimal"}
        content.change(api_name="drafts", api_visibility="undocumented", **drafting)  # the gallery's own records
        # For the API and assistants: the same looks as a short text with each picture's URL under its name.
        asked, looks_text = gr.Button(visible=False), gr.Markdown(visible=False)
        asked.click(for_assistants(EXAMPLE_PAINTINGS, looks_text), [content, uploaded], looks_text,
                    api_name="try_paintings", concurrency_limit=2, concurrency_id="drafts")
        # An upload that cannot be painted is refused in words and its box emptied; a good one clears old messages.
        dismiss = "(path) => { document.querySelectorAll('.toast-close').forEach(close => close.click()); return path }"
        told = {"api_visibility": "private", "concurrency_limit": None}  # queued: a warning reaches the page so
        content.upload(checked_upload, content, content, js=dismiss, **told)
        style.upload(lambda path: checked_upload(path, "painting"), style, style, js=dismiss, **told).then(
            lambda path: path or gr.skip(), style, uploaded, **ui_only)
        uploaded.change(api_visibility="private", **drafting)
        gallery.select(**fresh)
        gallery.select(choose_painting, uploaded, style, **ui_only).then(
            make_way, None, None, api_visibility="private", concurrency_limit=None).then(**strokes).then(
            **recording).then(api_visibility="private", **painting).success(**adopting).then(**comparing)
        aside = {"api_visibility": "private", "concurrency_limit": 2, "concurrency_id": "drafts"}  # not behind runs
        make_sheet.click(sheet_of, [made_from, picture], sheet, **aside)
        # The film plays on the page as soon as its MP4 is made; the animated WebP, slower to make, follows.
        film_button.click(make_film, None, [film, film_tab, views], **aside).success(make_animation, None, animation,
                                                                                     **aside)
        print_outputs = [picture, print_status, tee, mug, print_download, print_id]
        render.click(**strokes).then(render_print, [content, style, *controls, *extras, print_name, custom_size, final_steps, colours,
                                    transparent, sixteen_bits, picture,  # the picture on the page: the approved one
                                    fit],
                     print_outputs, api_name="print", show_progress_on=print_status,
                     concurrency_limit=None).then(  # PRINTS runs one at a time; the main line follows its end
            print_ended, print_status, progress_line, **ui_only)
        cancel_print.click(cancel_print_job, print_id, None, api_visibility="private", concurrency_limit=None)
        render.click(lambda: "**printing**: the print's progress is in the Print section below.", None,
                     progress_line, **ui_only)
        fetch.click(fetch_print, print_id, print_outputs, api_name="fetch_print", concurrency_limit=None)
        # Stop is heard by the runs themselves (not gradio's cancels, which would drop their last update: the
        # picture so far and its download); a closed tab or an API job.cancel() still cancels the event.
        stop_button.click(stop, print_id, None, api_visibility="private", concurrency_limit=None)
        # A print's link (`?print=ID`) brings back the print and what it was made from, beside the page's start-up.
        reopened = {"content": content, "style": style, "second_style": second_style, "print_name": print_name,
                    "custom_size": custom_size, "final_steps": final_steps, "colours": colours,
                    "transparent": transparent, "sixteen_bits": sixteen_bits, "fit": fit,
                    "print_section": print_section, "status": progress_line}
        opened = demo.load(open_page, None, [content, style, *controls, about_line, print_id], **ui_only)
        opened.then(estimate_line, timing, estimate, **ui_only)  # the photo's change event drafts its looks
        opened.then(open_print, print_id, [*print_outputs, *(reopened[name] for name in REOPENED)],
                    api_visibility="private", concurrency_limit=None)  # watching a print holds up nobody else's page
        demo.load(None, None, None, js=SERVER_CHECK)  # in the browser: a page whose server is gone says so
        # This browser's own token and its newest share, kept in its storage: only it can take that design back.
        owner = gr.BrowserState("", storage_key="tee-style-owner")
        shared = gr.BrowserState("", storage_key="tee-style-shared")
        demo.load(owner_of, owner, owner, **ui_only)
        share_button.click(share, [share_name, made_from, picture, owner], [share_line, shared], **ui_only).success(
            lambda: gr.Button(visible=True), None, take_back_button, **ui_only)
        take_back_button.click(take_back, [shared, owner], [share_line, shared], api_name="take_back",
                               api_visibility="undocumented", queue=False).success(
            lambda: gr.Button(visible=False), None, take_back_button, **ui_only)
    with demo.route("Wall", "/wall", show_in_navbar=False):  # for the projector: the room's shared designs
        gr.HTML(f"<style>{WALL_CSS}</style>", padding=False)
        gr.Markdown("## The room's designs · Tee Style Studio", elem_id="wall-title")
        seen = gr.State(None)  # what the wall shows: the same wall is not sent again
        shown = gr.HTML("", elem_id="wall", padding=False)
        demo.load(wall, seen, [shown, seen], **ui_only)  # this page's load: the wall at once, then every few seconds
        gr.Timer(WALL_SECONDS).tick(wall, seen, [shown, seen], **ui_only)
    with demo.route("Facilitator", "/facilitator", show_in_navbar=False):
        build_facilitator()
    return demo


def build_facilitator() -> None:
    """The facilitator's page: everything on it asks for the session's key, through the page and the API."""
    gr.HTML(f"<style>{WALL_CSS}</style>", padding=False)
    gr.Markdown("## Facilitator · Tee Style Studio\nThe session's key is printed where the studio was started.")
    with gr.Row():
        given = gr.Textbox("", label="Session key", type="password", scale=3, elem_id="room-key")
        opening = gr.Button("Open", variant="primary", scale=1, elem_id="room-open")
    with gr.Row():
        overview = gr.Markdown("", elem_id="room-line")
        join = gr.Image(None, label="Join: scan with a phone", show_label=True, height=220, interactive=False,
                        buttons=["fullscreen"], elem_id="room-join")
    with gr.Row():
        paused = gr.Checkbox(False, label="Pause new runs (for a talk); runs painting now finish", elem_id="room-pause")
        size = gr.Number(0, label="The room's size (px; 0: this server's default)", precision=0, elem_id="room-size")
        steps = gr.Number(0, label="The room's steps", precision=0, elem_id="room-steps")
        setting = gr.Button("Set the room's size", elem_id="room-set")
    designs = gr.Gallery([], label="Shared designs (newest first; ★ starred)", columns=4, height=360,
                         allow_preview=True, elem_id="room-designs")
    with gr.Row():
        chosen_design = gr.Dropdown([], label="Design", scale=3, allow_custom_value=True,  # the API names an id
                                    elem_id="room-design")
        marks = {what: gr.Button(words, size="sm", elem_id=f"room-{what}") for what, words in
                 (("star", "★ Star"), ("unstar", "Unstar"), ("hide", "Hide from the wall"), ("show", "Show again"))}
    with gr.Row():
        print_name = gr.Dropdown(list(PRINT_PRESETS), value="sticker", label="Print the starred designs as",
                                 elem_id="room-print-size")
        printing = gr.Button("Print the starred designs, one after another", elem_id="room-print")
    print_line = gr.Markdown("", elem_id="room-print-line")
    with gr.Row():
        starred_only = gr.Checkbox(True, label="Starred designs only", elem_id="room-starred-only")
        zipping = gr.Button("Download the session (zip)", elem_id="room-zip")
        session = gr.File(None, label="The session", interactive=False, elem_id="room-session")
    view = [overview, designs, chosen_design]
    locked = {"api_visibility": "undocumented", "concurrency_limit": None}  # callable with the key, not offered
    opening.click(open_room, given, [*view, join], api_name="room", **locked)
    paused.input(pause, [given, paused], view, api_name="room_pause", **locked)
    setting.click(room_size, [given, size, steps], view, api_name="room_size", **locked)
    for what, button in marks.items():
        button.click(lambda key, design, what=what: mark(key, design, what), [given, chosen_design], view,
                     api_name=f"room_{what}", **locked)
    printing.click(print_starred, [given, print_name], print_line, api_name="room_print", **locked)
    zipping.click(session_zip, [given, starred_only], session, api_name="room_zip", **locked)
    gr.Timer(WALL_SECONDS).tick(lambda key: room_state(key) if is_facilitator(key) else (gr.skip(),) * 3, given,
                                view, api_visibility="private", queue=False)


def follow_photo(values: tuple, timing: int, print_timing: int) -> tuple:
    """For a new photo: the estimate before Paint, the print's estimate and print area, and the region editor's
    photo (from the inputs of each, one after the other)."""
    before, printing, placing = values[:timing], values[timing:timing + print_timing], values[timing + print_timing:]
    return estimate_line(*before), print_estimate(*printing), print_area_preview(*placing), editor_photo(before[0])


def _pick(names: tuple[str, ...]):
    def pick(selection: gr.SelectData) -> str:
        return str(ASSETS / names[selection.index])

    return pick


demo = build_demo()


# gradio 6.31's MCP server appends to every tool that takes a picture advice to use `upload_file_to_gradio`,
# which helps only a server with a public address; this server's tools say what works on it instead.
PICTURE_ADVICE = (" Send each picture as an http(s) URL on a public address, or inline as a data URI "
                  "(data:image/png;base64,...); a file path or an address on a private network is refused.")


def advise_on_pictures() -> None:
    """The MCP tools' advice on sending pictures, made true for this server (see PICTURE_ADVICE)."""
    from gradio.mcp import GradioMCPServer

    GradioMCPServer._file_data_tool_description = property(lambda server: PICTURE_ADVICE)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with its defaults from the environment."""
    parser = argparse.ArgumentParser(description="Run the Tee Style Studio web app.")
    parser.add_argument("--host", default=None, help="address to listen on (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default: $GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="live runs at once (default: $NST_CONCURRENCY, or 1 on a CPU and 2 on a GPU)")
    parser.add_argument("--queue-size", type=int, default=GATE.line,
                        help="people waiting at most (default: $NST_QUEUE_SIZE or 30); more are told the queue is full")
    parser.add_argument("--workshop", type=int, nargs="?", const=8, default=int(os.environ.get("NST_WORKSHOP", "0")),
                        metavar="N", help="workshop mode: paint up to N people's runs of one size and settings "
                                          "as one batch (default N 8; best on a GPU)")
    parser.add_argument("--ray", default=os.environ.get("NST_RAY"), metavar="auto|ADDRESS",
                        help="paint on a Ray cluster's workers (auto: the cluster on this machine, else a new local "
                             "one; default: $NST_RAY, else in this process)")
    parser.add_argument("--data", default=None, metavar="DIR",
                        help="where the room's shared designs, stars and print jobs are kept across restarts "
                             "(default: $NST_DATA, else /data on a Space with persistent storage, else ./data)")
    parser.add_argument("--workshop-key", default=os.environ.get("NST_WORKSHOP_KEY"), metavar="KEY",
                        help="the facilitator's key for /facilitator (default: $NST_WORKSHOP_KEY, else made at start "
                             "and printed with the join address)")
    parser.add_argument("--keep-hours", type=float, default=None, metavar="H",
                        help="hours an upload or a design that was never shared is kept (default: $NST_KEEP_HOURS or 1)")
    parser.add_argument("--mcp", action="store_true",
                        default=os.environ.get("NST_MCP", "").lower() not in ("", "0", "false", "no", "off"),
                        help=f"also serve the page's API as tools for assistants, an MCP server at {MCP_PATH} "
                             "(default: on if $NST_MCP is 1, else off)")
    return parser.parse_args(argv)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio's own start-up requests, one line each
    args = parse_arguments()
    if args.workshop_key:
        os.environ["NST_WORKSHOP_KEY"] = args.workshop_key
    if args.keep_hours:
        os.environ["NST_KEEP_HOURS"] = str(args.keep_hours)
        demo.delete_cache = keeping()
    folder = Path(args.data) if args.data else data_folder()
    room.use_data(folder, resume=resume_print)  # a print an earlier start left unfinished paints again
    for block in demo.blocks.values():  # this browser's token stays readable after a restart: its shares stay its own
        if isinstance(block, gr.BrowserState):
            block.secret = room.ROOM.secret()
    disk.watch([Path(demo.GRADIO_CACHE), room.RESULTS],  # visitors' files, kept under $NST_DISK_CAP_MB
               kept=frozenset(path.name for path in ASSETS.rglob("*") if path.is_file()))  # the page's examples
    server = engine()  # the backbone loaded and this machine measured before the first visitor
    log.info("backbone: %s; %s", server.backbone.description, server.words)
    slots = args.concurrency or int(os.environ.get("NST_CONCURRENCY") or (1 if server.device.type == "cpu" else 2))
    if args.ray:  # workshop batches then paint inside each worker
        cluster = room.CLUSTER = RayCluster(args.ray, weights=os.environ.get("NST_WEIGHTS"),
                                            device=os.environ.get("NST_DEVICE", "auto"), workshop=args.workshop)
        slots = cluster.workers * cluster.capacity
        cluster.calibrate(server)
        log.info("painting on a Ray cluster: %d workers, %s per iteration at 512 px", cluster.workers,
                 f"{server.costs.iteration(plan(PRESETS['default'], TYPICAL_PHOTO)[0]):.2f} s")
    elif args.workshop:
        room.WORKSHOP = Workshop(server.backbone, server.device, max_batch=args.workshop, run=room.batch_steps)
        slots = max(slots, args.workshop)  # every member of a batch holds a slot while it paints
    log.info("the default picture: %d px, %d steps, %s", server.default.size, server.default.steps,
             in_words(server.countdown(live_config(server.default)).total))
    GATE.configure(slots=slots, line=args.queue_size)
    # Gradio's own queue only passes jobs on (the line above keeps the order and says who waits); its
    # limit is roomier than the line's so a burst hears the line's message, with the number waiting.
    demo.queue(max_size=2 * (args.queue_size + slots), default_concurrency_limit=1)
    fit_to_machine(demo)
    room.JOIN = join_address(args.host or os.environ.get("GRADIO_SERVER_NAME"),
                             args.port or int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    log.info("the room is kept in %s; the wall is at %swall", folder, room.JOIN)
    print(f"{join_words(room.JOIN)}\nThe facilitator's page: {room.JOIN}facilitator · session key: {wall_key()}",
          flush=True)
    if args.mcp:
        advise_on_pictures()
        log.info("MCP server on: assistants connect to this server's %s (streamable HTTP)", MCP_PATH)
    demo.launch(server_name=args.host, server_port=args.port, max_threads=max(40, 2 * (slots + args.queue_size)),
                mcp_server=args.mcp, max_file_size=MAX_UPLOAD,
                allowed_paths=[str(room.PRINTS.root)])  # print files for their pages; not the shared designs' photos


if __name__ == "__main__":
    main()
