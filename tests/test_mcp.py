"""The studio as tools for assistants: `python app.py --mcp` serves the page's API as an MCP server, and a real
MCP client (the `mcp` package's, over streamable HTTP) lists its tools and paints with them."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
START_SECONDS = 300  # the server measures this machine before it answers: half a minute idle, more when busy
CALL_SECONDS = 120  # a tiny picture takes seconds; a call that takes this long has hung
PUBLIC = {"paint", "try_paintings", "render_print", "fetch_print"}  # the API's endpoints, named after their functions
PAGE_ONLY = {"stop", "make_way", "refuse_second_paint", "estimate_line", "region_file", "open_print", "sheet_of",
             "print_estimate", "print_area_preview", "before_after_of", "live_view", "painting_from", "painted_from"}
TINY = {"size": 64, "steps": 10, "preview_every": 5}


def data_uri(path: Path) -> str:
    """A picture as an MCP client sends it to a server that cannot fetch from this machine: inline."""
    mime = "image/png" if path.suffix == ".png" else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def painted(picture: Image.Image) -> bool:
    """Not a blank or flat picture."""
    return float(np.asarray(picture.convert("RGB"), dtype=np.float32).std()) > 10


@pytest.fixture(scope="module")
def mcp_url(request, tmp_path_factory):
    """The studio started as a person starts it, with --mcp, on loopback and a free port; its MCP endpoint."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("mcp")
    # Its own temporary folder: its results, uploads and print jobs (a start marks unfinished ones lost) stay apart
    env = {**os.environ, "NST_OFFLINE": "1", "TMPDIR": str(folder), "NST_DATA": str(folder / "data")}
    log = folder / "app.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "app.py", "--mcp", "--host", "127.0.0.1", "--port", str(port)],
                                  cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}{request.getfixturevalue('app_module').MCP_PATH}"  # imported while it starts
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert server.poll() is None, f"the studio exited ({server.returncode}):\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no MCP server after {START_SECONDS} s:\n{log.read_text()[-3000:]}"
            try:
                answer = httpx.get(url + "schema", timeout=5)
            except httpx.TransportError:  # not listening yet
                time.sleep(1)
                continue
            assert answer.status_code == 200, f"the studio answers without an MCP server ({answer.status_code})"
            break
        yield url
    finally:
        server.kill()
        server.wait(timeout=30)


def using_tools(url: str, work):
    """Run `work(session)` in an MCP client session with the studio, within CALL_SECONDS a call."""
    async def session():
        async with streamable_http_client(url) as (read, write, _), ClientSession(
                read, write, read_timeout_seconds=timedelta(seconds=CALL_SECONDS)) as tools:
            await tools.initialize()
            return await work(tools)

    return asyncio.run(asyncio.wait_for(session(), timeout=3 * CALL_SECONDS))


def test_the_public_api_is_offered_as_tools_described_for_an_assistant(mcp_url):
    async def listing(tools):
        return {tool.name: tool for tool in (await tools.list_tools()).tools}

    tools = using_tools(mcp_url, listing)
    assert set(tools) == PUBLIC, "a new public endpoint needs a docstring an assistant can use, or api_visibility"
    assert not set(tools) & PAGE_ONLY
    for name in ("paint", "try_paintings", "render_print"):
        inputs = tools[name].inputSchema["properties"]
        assert "photo" in inputs["content"]["description"] and "data URI" in inputs["content"]["description"]
    for name in ("paint", "render_print"):
        assert "painting" in tools[name].inputSchema["properties"]["style"]["description"]
        assert "10 to 3000" in tools[name].inputSchema["properties"]["steps"]["description"]  # the slider's range
    assert "minute" in tools["paint"].description and "PNG" in tools["paint"].description
    assert "second" in tools["try_paintings"].description
    assert "sticker about" in tools["render_print"].description  # each print size's time, measured here
    for tool in tools.values():  # advice that works on this server, not gradio's upload helper
        assert "upload_file_to_gradio" not in tool.description
    assert tools["fetch_print"].inputSchema["properties"]["print_id"]["description"]


def test_two_assistants_painting_at_once_each_get_their_picture(mcp_url):
    arguments = {"content": data_uri(ASSETS / "chelsea.png"), "style": data_uri(ASSETS / "starry_night.jpg"), **TINY}

    async def ignore(progress, total, message):
        pass

    async def painting(tools):  # a progress callback sends a progress token: gradio then returns each output apart
        return await asyncio.gather(*(tools.call_tool("paint", arguments, progress_callback=ignore) for _ in range(2)))

    for result in using_tools(mcp_url, painting):  # the MCP server calls with one session: not one person's two
        assert not result.isError, result.content
        pictures = [Image.open(io.BytesIO(base64.b64decode(item.data))) for item in result.content
                    if item.type == "image"]
        assert pictures and pictures[0].size == (64, 43)  # chelsea.png is 451×300
        assert painted(pictures[0])
        assert any(item.type == "text" and "**done**" in item.text for item in result.content)


def test_drafts_come_back_as_pictures_on_the_server(mcp_url):
    async def drafting(tools):
        return await tools.call_tool("try_paintings", {"content": data_uri(ASSETS / "chelsea.png")})

    result = using_tools(mcp_url, drafting)
    assert not result.isError, result.content
    text = result.content[0].text
    looks = re.findall(r"!\[([^]]+)\]\((http[^)]+)\)", text)  # pictures an assistant can show, by name
    assert [caption for caption, _ in looks] == ["Starry night", "The scream", "Shipwreck", "Wave", "Udnie"]
    assert "'path'" not in text and "meta" not in text  # not gradio's file records
    draft = Image.open(io.BytesIO(httpx.get(looks[0][1], timeout=30).content))
    assert max(draft.size) == 256 and painted(draft)


def test_a_photo_path_is_refused_with_what_to_send_instead(mcp_url):
    async def drafting(tools):
        return await tools.call_tool("try_paintings", {"content": str(ASSETS / "chelsea.png")})

    result = using_tools(mcp_url, drafting)
    assert result.isError and "url" in result.content[0].text


def test_mcp_is_off_unless_the_flag_or_the_environment_asks(app_module, monkeypatch):
    monkeypatch.delenv("NST_MCP", raising=False)
    assert not app_module.parse_arguments([]).mcp
    assert app_module.parse_arguments(["--mcp"]).mcp
    for value, on in (("1", True), ("true", True), ("0", False), ("", False), ("off", False)):
        monkeypatch.setenv("NST_MCP", value)
        assert app_module.parse_arguments([]).mcp is on, value
