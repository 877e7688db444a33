"""A real server process, as a facilitator starts it: uploads over the limit refused, a burst of uploads kept under
the disk cap, and a print that was painting when the process was killed (SIGKILL) painted again by the next start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
START_SECONDS = 300  # the server measures this machine before it answers
CAP_MB = 8  # above the page's example pictures, which stay


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(folder: Path, port: int, log: Path) -> subprocess.Popen:
    """`python app.py --data DIR`, as the README's workshop section starts it, on loopback."""
    env = {**os.environ, "NST_OFFLINE": "1", "TMPDIR": str(folder / "tmp"), "NST_DISK_CAP_MB": str(CAP_MB)}
    (folder / "tmp").mkdir(exist_ok=True)
    with log.open("a") as out:
        server = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port), "--data",
                                   str(folder / "data"), "--workshop-key", "sesame"],
                                  cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_SECONDS
    while True:
        assert server.poll() is None, f"the studio exited:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"the studio did not answer:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/gradio_api/app_id", timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(1)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder, port = tmp_path_factory.mktemp("restart"), _free_port()
    log = folder / "app.log"
    servers = [_start(folder, port, log)]
    yield folder, port, log, servers
    for server in servers:
        server.kill()
        server.wait(timeout=30)


def _upload(port: int, size: int) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{port}/gradio_api/upload",
                      files={"files": ("photo.png", os.urandom(size), "image/png")}, timeout=60)


def test_an_upload_over_the_limit_is_refused_in_words(served):
    _, port, _, _ = served
    refused = _upload(port, 31 * 2**20)
    assert refused.status_code == 413 and "exceeded maximum allowed size" in refused.text
    assert _upload(port, 100_000).status_code == 200  # a photo's size goes through


def test_a_burst_of_uploads_cannot_grow_the_disk_past_the_cap(served):
    folder, port, _, _ = served
    for _ in range(12):  # 12 MB, more than the cap
        assert _upload(port, 1_000_000).status_code == 200
    time.sleep(3)  # the cap is kept every second
    used = sum(path.stat().st_size for path in (folder / "tmp").rglob("*") if path.is_file())
    assert used <= CAP_MB * 2**20
    examples = [path for path in (folder / "tmp").rglob("*") if path.name in ("chelsea.png", "starry_night.jpg")]
    assert examples  # the page's own examples were never removed


def test_a_print_painting_when_the_server_is_killed_paints_again_after_the_restart(served):
    folder, port, log, servers = served
    url = f"http://127.0.0.1:{port}/"
    job = Client(url, verbose=False).submit(
        content=handle_file(str(ASSETS / "chelsea.png")), style=handle_file(str(ASSETS / "wave.jpg")), size=64,
        steps=10, preview_every=5, print_name="custom", custom_size="480x320", final_steps=30, api_name="/print")
    print_id, deadline = "", time.monotonic() + 240
    while not print_id:  # until it paints: its id is in the updates, and its record says so
        assert time.monotonic() < deadline, "the print did not start painting"
        updates = job.outputs()
        print_id = updates[-1][5] if updates and "step" in str(updates[-1][1]) else ""
        time.sleep(0.5)
    servers[0].kill()  # SIGKILL: no clean shutdown
    servers[0].wait(timeout=30)
    servers.append(_start(folder, port, log))
    updates = list(Client(url, verbose=False).submit(print_id, api_name="/fetch_print"))
    *_, (preview, status, tee, mug, download, same) = updates
    assert same == print_id and "**done**" in status and "Restarted" in status, status
    files = [update[4]["value"] for update in updates if isinstance(update[4], dict) and update[4].get("value")]
    assert files, updates[-1]  # the print file's button, shown once it is done
    download = files[-1]["path"] if isinstance(files[-1], dict) else files[-1]
    assert Image.open(download).size == (480, 320)
