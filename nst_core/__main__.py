"""The command line: `python -m nst_core CONTENT STYLE -o OUT.png`, for batch work and scripts."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from .backbone import WEIGHTS_ENV, load_backbone
from .config import COLOURS, INITS, OPTIMIZERS, POOLINGS, PRESET_EFFECTS, PRESETS, STYLE_LAYERS, StyleConfig, preset
from .devices import resolve_device
from .export import PRINT_DPI, PRINT_PRESETS
from .film import FORMATS as FILM_FORMATS
from .film import Reel, write_film
from .images import ImageError, save_image
from .memory import DoesNotFitError
from .printing import FINAL_STEPS, export_design, print_config
from .sheet import design_sheet, repaint_command, title
from .stylize import DivergenceError, stylize

# Flags for the config fields a user sets: (field, flags, help). Defaults come from the chosen preset.
CONFIG_FLAGS = [
    ("size", ("-s", "--size"), "longest side of the result in pixels"),
    ("steps", ("-n", "--steps"), "optimiser iterations"),
    ("optimizer", ("--optimizer",), "optimiser: " + ", ".join(OPTIMIZERS)),
    ("lr", ("--lr",), "step size (L-BFGS: about 1; Adam: 0.003 to 0.05)"),
    ("content_weight", ("-a", "--alpha", "--content-weight"), "content weight alpha"),
    ("tone_weight", ("--tone", "--tone-weight"),
     "how firmly the photo's broad light and dark are kept (a night stays a night); 0 leaves them to the painting"),
    ("style_weight", ("-b", "--beta", "--style-weight"), "style weight beta"),
    ("tv_weight", ("--tv", "--tv-weight"), "total-variation smoothing weight"),
    ("init", ("--init",), "start from: " + ", ".join(INITS)),
    ("seed", ("--seed",), "random seed for the noise init"),
    ("style_scale", ("--style-scale",), "style image size relative to the result: larger, bigger strokes"),
    ("preview_every", ("--preview-every",), "iterations between progress reports"),
    ("pooling", ("--pooling",), "VGG pooling: " + ", ".join(POOLINGS)),
    ("colour", ("--colour", "--color"), "colours: " + ", ".join(COLOURS)),
    ("tile", ("--tile",), "tile side in pixels for large pictures, a multiple of 16 (0: chosen to fit memory)"),
    ("memory_gb", ("--memory-gb",), "memory the run may use in GB (0: most of what is free)"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nst_core",
        description="Paint a photo in the style of a painting (Gatys et al. neural style transfer).",
    )
    parser.add_argument("content", help="the photo (any image Pillow reads)")
    parser.add_argument("style", nargs="+", help="the painting whose style to use (several blend)")
    parser.add_argument("--regions", default=None, metavar="PATH",
                        help="where each painting goes: an image with white = the painting, red = the second painting, "
                             "black = keep the photo, transparent = leave out (README, \"Regions\")")
    parser.add_argument("-o", "--output", default="stylized.png", help="where to save the result (PNG)")
    parser.add_argument("--preset", default="default", choices=list(PRESETS),
                        help="starting configuration; the flags below change it (default: %(default)s): " + "; ".join(
                            f"{name}: {words}" for name, words in PRESET_EFFECTS.items()))
    for name, flags, text in CONFIG_FLAGS:
        default = getattr(PRESETS["default"], name)  # what a run without the flag paints with
        choices = {"optimizer": OPTIMIZERS, "init": INITS, "pooling": POOLINGS, "colour": COLOURS}.get(name)
        parser.add_argument(*flags, dest=name, type=type(default), default=None, choices=choices,
                            help=f"{text} (default preset: {default:g})" if isinstance(default, float)
                            else f"{text} (default preset: {default})")
    parser.add_argument("--style-layer-weights", type=float, nargs=len(STYLE_LAYERS), default=None,
                        metavar="W", help="relative weights of " + ", ".join(STYLE_LAYERS))
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    parser.add_argument("--weights", default=None,
                        help=f"local VGG19/VGG16 state dict in torchvision's layout (or set ${WEIGHTS_ENV})")
    parser.add_argument("--save-every", type=int, default=0, metavar="N",
                        help="also save the picture every N iterations, as OUTPUT_00100.png and so on")
    parser.add_argument("--blend", type=float, nargs="+", default=None, metavar="W",
                        help="weights of the style images, one each (default: equal)")
    printing = parser.add_argument_group("print-size designs")
    printing.add_argument("--print", dest="print_size", default=None, metavar="SIZE",
                          help=f"paint coarse to fine up to a print size: {', '.join(PRINT_PRESETS)} or WxH "
                               "(the photo is cropped to fit; --steps is then the coarsest scale's)")
    printing.add_argument("--final-steps", type=int, default=FINAL_STEPS, metavar="N",
                          help="iterations at print size, after the coarser scales (default: %(default)s)")
    printing.add_argument("--dpi", type=int, default=PRINT_DPI, help="dots per inch recorded in the file")
    printing.add_argument("--bits", type=int, choices=(8, 16), default=8, help="16 writes a 16-bit TIFF")
    printing.add_argument("--transparent", action="store_true",
                          help="keep the photo's transparent background (for stickers)")
    printing.add_argument("--colours", type=int, default=0, metavar="N",
                          help="reduce the design to N flat colours for screen printing")
    printing.add_argument("--mockups", action="store_true", help="also save tee and mug mock-ups beside OUTPUT")
    printing.add_argument("--sheet", action="store_true",
                          help="also save OUTPUT_sheet.png: the photo, the painting, the design, its mock-ups and "
                               "the settings in plain words, for a committee or a print shop")
    parser.add_argument("--film", default=None, metavar="PATH",
                        help="also save the painting as a film: PATH.mp4 (H.264), .webp or .gif (animated)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def config_from_args(args: argparse.Namespace) -> StyleConfig:
    """The preset with every flag the user gave applied on top."""
    changes = {name: getattr(args, name) for name, _, _ in CONFIG_FLAGS if getattr(args, name) is not None}
    if args.style_layer_weights is not None:
        changes["style_layer_weights"] = tuple(args.style_layer_weights)
    if args.blend is not None:
        changes["style_blend"] = tuple(args.blend)
    if args.save_every:
        # Intermediate pictures are taken from the reported steps, so report at least that often.
        base = preset(args.preset, **changes)
        changes["preview_every"] = math.gcd(base.preview_every, args.save_every)
    config = preset(args.preset, **changes)
    return print_config(args.print_size, config, args.final_steps) if args.print_size else config


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        if args.film and Path(args.film).suffix.lower() not in FILM_FORMATS:
            raise ValueError(f"--film {args.film}: a film is written as {', '.join(FILM_FORMATS)}")
        device = resolve_device(args.device)
        backbone = load_backbone(args.weights)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{backbone.description}; device {device}", file=sys.stderr)

    from tqdm import tqdm

    output = Path(args.output)
    if args.bits == 16 and output.suffix.lower() == ".png":
        output = output.with_suffix(".tif")  # 16-bit print files are TIFF
    progress = tqdm(total=config.total_steps, unit="it", disable=args.quiet, file=sys.stderr)
    result = None
    reel = Reel(args.content) if args.film else None
    try:
        for step in stylize(args.content, args.style, config, backbone=backbone, device=device, regions=args.regions):
            progress.update(step.iteration - progress.n)
            height, width = step.image.shape[-2:]
            progress.set_postfix(size=f"{width}x{height}", tile=step.tile or "-",
                                 content=f"{step.losses.content:.3g}", style=f"{step.losses.style:.3g}")
            if step.note:
                progress.write(step.note)
            if args.save_every and step.iteration % args.save_every == 0 and not step.done:
                save_image(step.to_pil(), output.with_name(f"{output.stem}_{step.iteration:05d}.png"))
            if reel is not None:
                reel.add(step.to_pil())
            result = step
    except (ImageError, DivergenceError, DoesNotFitError, ValueError) as error:
        progress.close()
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        progress.close()
        if result is None:
            return 130
        print(f"interrupted: saving the picture at iteration {result.iteration}", file=sys.stderr)
    progress.close()
    try:
        files = export_design(result.image, output, args.content, dpi=args.dpi, bits=args.bits,
                              transparent=args.transparent, colours=args.colours, mockups=args.mockups,
                              alpha=result.alpha)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        save_image(result.to_pil(), output.with_suffix(".png"))  # the picture is not lost
        return 1
    print(f"saved {files.design} ({result.image.shape[-1]}x{result.image.shape[-2]}, {args.dpi} dpi, "
          f"{result.iteration} iterations, {result.elapsed:.1f} s)", file=sys.stderr)
    for mockup in (files.tee, files.mug):
        if mockup:
            print(f"saved {mockup}", file=sys.stderr)
    if args.sheet:
        sheet = files.design.with_name(f"{files.design.stem}_sheet.png")
        command = repaint_command(config, args.content, args.style, args.regions)
        design_sheet(args.content, [(style, title(style)) for style in args.style], result.to_pil(), config,
                     command, args.regions).save(sheet)
        print(f"saved {sheet}", file=sys.stderr)
    if reel is not None:
        print(f"saved {write_film(reel, args.film)} ({reel.seen} pictures, {len(reel.kept)} kept)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
