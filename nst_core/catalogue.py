"""A whole catalogue of designs from a CSV of photo/painting pairs, in this process or on a Ray cluster.

    python -m nst_core.catalogue PAIRS.csv --out DIR [--print tee] [--mockups] [--ray auto|ADDRESS]

PAIRS.csv has a header with the columns `photo` and `painting` (paths, relative to the CSV's folder),
and optionally `name`, `regions` (a region image, nst_core/regions.py: where the painting goes, the photo
is kept, or the design is left out; transparent there in the file) and any StyleConfig field by its name
(`size`, `steps`, `style_weight`, ...).
Each design is one file in DIR named after its row (`007-chelsea-starry_night.png`, or its `name`);
mock-ups go to DIR/mockups. Files are written under a temporary name and renamed, so a crash never
leaves half a file, and a rerun skips the designs already there. A bad row fails alone: the summary
at the end lists each failure and its reason, and the exit status is 1 if any row failed.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from .backbone import Backbone, load_backbone
from .cluster import connect
from .config import PRESETS, StyleConfig
from .export import save_print
from .images import to_pil
from .mockup import mug_mockup, tee_mockup
from .printing import print_config
from .sheet import design_sheet, repaint_command, title
from .stylize import stylize

FIELDS = {field.name: field for field in dataclasses.fields(StyleConfig)}
RETRIES = 2  # on a cluster, a design whose worker died is painted again elsewhere this many times


@dataclass(frozen=True)
class Design:
    """One row of the catalogue: what to paint and where its file goes."""

    row: int  # the CSV's line number, the header being line 1
    name: str  # the file's stem
    photo: Path
    painting: Path
    config: StyleConfig
    regions: Path | None = None

    def path(self, out: Path) -> Path:
        return out / f"{self.name}.png"


def read_designs(pairs: Path, base: StyleConfig, print_name: str | None) -> tuple[list[Design], list[tuple[int, str]]]:
    """The designs of the CSV, and (row, reason) for each row that cannot become one."""
    designs, failures = [], []
    with open(pairs, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        missing = {"photo", "painting"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{pairs}: the header needs the columns photo and painting (missing: "
                             f"{', '.join(sorted(missing))})")
        unknown = set(reader.fieldnames) - {"photo", "painting", "name", "regions"} - set(FIELDS)
        if unknown:
            raise ValueError(f"{pairs}: unknown columns {', '.join(sorted(unknown))}: use photo, painting, name, "
                             "regions or StyleConfig fields such as size, steps, style_weight")
        for row, values in enumerate(reader, start=2):
            try:
                photo, painting = (pairs.parent / values[key].strip() for key in ("photo", "painting"))
                changes = {key: _parse(key, value) for key, value in values.items()
                           if key in FIELDS and value not in (None, "")}
                config = base.replace(**changes)
                if print_name:
                    config = print_config(print_name, config)
                name = (values.get("name") or "").strip() or f"{row - 1:03d}-{photo.stem}-{painting.stem}"
                regions = (values.get("regions") or "").strip()
                designs.append(Design(row, _safe(name), photo, painting, config,
                                      pairs.parent / regions if regions else None))
            except (ValueError, TypeError, AttributeError) as error:
                failures.append((row, str(error)))
    return designs, failures


def _parse(key: str, text: str):
    """A CSV cell as the type of the StyleConfig field `key`."""
    default = FIELDS[key].default
    text = text.strip()
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{key} must be true or false, got {text!r}")
        return text.lower() in ("true", "1", "yes")
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    if isinstance(default, tuple):
        return tuple(json.loads(text) if text.startswith("[") else text.replace(";", " ").split())
    return text


def _safe(name: str) -> str:
    """A file stem without folders or odd characters."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".") or "design"


def paint(design: Design, backbone: Backbone, device: torch.device | str = "auto") -> torch.Tensor:
    """The finished design on the CPU: (3, H, W), or (4, H, W) with its alpha where regions left parts out."""
    *_, last = stylize(design.photo, design.painting, design.config, backbone=backbone, device=device,
                       regions=design.regions)
    return last.image if last.alpha is None else torch.cat([last.image, last.alpha])


def write(design: Design, picture: torch.Tensor, out: Path, mockups: bool, sheet: bool = False) -> Path:
    """The design's file (and mock-ups, and its design sheet), each written whole under a temporary name first."""
    path = design.path(out)
    alpha = picture[3:] if len(picture) == 4 else None
    _atomically(path, lambda temporary: save_print(picture[:3], temporary, alpha=alpha))
    if mockups:
        preview = to_pil(picture[:3], alpha)
        (out / "mockups").mkdir(exist_ok=True)
        for kind, mockup in (("tee", tee_mockup), ("mug", mug_mockup)):
            _atomically(out / "mockups" / f"{design.name}-{kind}.png", lambda temporary, m=mockup: m(preview).save(
                temporary, format="PNG"))
    if sheet:
        (out / "sheets").mkdir(exist_ok=True)
        command = repaint_command(design.config, str(design.photo), [str(design.painting)],
                                  design.regions and str(design.regions))
        drawn = design_sheet(design.photo, [(design.painting, title(design.painting))], to_pil(picture[:3], alpha),
                             design.config, command, design.regions)
        _atomically(out / "sheets" / f"{design.name}-sheet.png", lambda temporary: drawn.save(temporary, format="PNG"))
    return path


def _atomically(path: Path, write_to: Callable[[Path], object]) -> None:
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.partial.png")
    try:
        write_to(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def in_process(designs: list[Design], backbone: Backbone) -> Iterator[tuple[Design, torch.Tensor | Exception]]:
    """Each design painted here, one after another."""
    for design in designs:
        try:
            yield design, paint(design, backbone)
        except Exception as error:  # noqa: BLE001 - a bad image or setting fails its row, not the catalogue
            yield design, error


def on_ray(designs: list[Design], address: str, weights: str | None) -> Iterator[tuple[Design, torch.Tensor | Exception]]:
    """Each design painted as a Ray task on the cluster, as many at once as it has CPUs (or GPUs); a task whose
    worker died is run again elsewhere (Ray's retries)."""
    ray = connect(address)
    gpus = ray.cluster_resources().get("GPU", 0)
    task = ray.remote(max_retries=RETRIES, **({"num_gpus": 1} if gpus else {"num_cpus": 1}))(_paint_on_worker)
    pending = {task.remote(design, weights): design for design in designs}
    while pending:
        [ready], _ = ray.wait(list(pending), num_returns=1)
        design = pending.pop(ready)
        try:
            yield design, ray.get(ready)
        except Exception as error:  # noqa: BLE001 - the task's own error (a bad image), or its workers kept dying
            yield design, getattr(error, "cause", None) or error


def _paint_on_worker(design: Design, weights: str | None) -> torch.Tensor:
    torch.set_num_threads(1)  # one CPU per task: the cluster runs as many as it has
    return paint(design, _worker_backbone(weights))


@functools.cache
def _worker_backbone(weights: str | None) -> Backbone:
    """The backbone, loaded once per worker process and kept for its next tasks."""
    return load_backbone(weights)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nst_core.catalogue", description=__doc__.splitlines()[0])
    parser.add_argument("pairs", type=Path, help="CSV with a header: photo, painting[, name][, config fields]")
    parser.add_argument("--out", type=Path, required=True, help="folder for the designs (made if missing)")
    parser.add_argument("--print", dest="print_name", default=None, metavar="SIZE",
                        help="render each design at a print size (tee, sticker, mug, poster or WxH), coarse to fine")
    parser.add_argument("--mockups", action="store_true", help="also write tee and mug mock-ups to OUT/mockups")
    parser.add_argument("--sheet", action="store_true",
                        help="also write each design's sheet (photo, painting, design, mock-ups, settings) to OUT/sheets")
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS), help="the settings rows start from")
    parser.add_argument("--ray", default=os.environ.get("NST_RAY"), metavar="auto|ADDRESS",
                        help="paint on a Ray cluster (auto: the one on this machine, else a new local one)")
    parser.add_argument("--weights", default=os.environ.get("NST_WEIGHTS"), help="a local VGG state dict")
    args = parser.parse_args(argv)

    try:
        designs, failures = read_designs(args.pairs, PRESETS[args.preset], args.print_name)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    todo = [design for design in designs if not design.path(args.out).is_file()]
    skipped = len(designs) - len(todo)
    started = time.perf_counter()
    if args.ray:
        results = on_ray(todo, args.ray, args.weights)
    else:
        results = in_process(todo, load_backbone(args.weights) if todo else None)
    written = 0
    for design, result in tqdm(results, total=len(todo), unit="design", desc="catalogue"):
        if isinstance(result, Exception):
            failures.append((design.row, f"{design.photo.name} / {design.painting.name}: {result}"))
            continue
        write(design, result, args.out, args.mockups, args.sheet)
        written += 1
    seconds = time.perf_counter() - started
    print(f"{written} written, {skipped} already there, {len(failures)} failed, in {seconds:.1f} s -> {args.out}")
    for row, reason in sorted(failures):
        print(f"  row {row}: {reason}")
    return 1 if failures else 0


if __name__ == "__main__":
    # The module under its own name, not __main__: a cluster's workers import what its tasks refer to.
    from nst_core import catalogue

    sys.exit(catalogue.main())
