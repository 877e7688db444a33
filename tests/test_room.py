"""The workshop room: shared designs kept in SQLite, the wall, the facilitator's key (every refusal through the API),
the session's zip, a print started again after a restart, and the disk a public server gives its visitors."""

from __future__ import annotations

import csv
import io
import os
import time
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client
from PIL import Image

from studio.store import Room

ASSETS = Path(__file__).resolve().parent.parent / "assets"
OWNER, STRANGER = "a" * 32, "b" * 32  # two browsers' tokens


def _design_file(tmp_path: Path, colour=(200, 40, 40)) -> str:
    path = tmp_path / f"design-{colour[0]}.png"
    Image.new("RGB", (96, 64), colour).save(path)
    return str(path)


def _shared_files(tmp_path: Path, colour=(200, 40, 40), photo: str = "chelsea.png") -> dict:
    """A design's files as the page shares them: the design, its photo and its painting."""
    return {"design": _design_file(tmp_path, colour), "photo": str(ASSETS / photo),
            "painting": str(ASSETS / "wave.jpg")}


def _recipe() -> dict:
    from studio import controls

    return {"shape": "photo", "blend": 0.5, "settings": dict(zip(controls.NAMES, controls.apply_preset("preview")))}


def test_the_room_keeps_shared_designs_newest_first_across_a_restart(tmp_path, app_module):
    room = Room(tmp_path)
    files = {"design": _design_file(tmp_path), "photo": str(ASSETS / "chelsea.png"),
             "painting": str(ASSETS / "wave.jpg"), "second": None}
    first = room.share(OWNER, "  Ada   Lovelace  ", "Wave", files, _recipe())
    time.sleep(0.01)
    second = room.share(STRANGER, "x" * 100, "Wave", files, _recipe())
    assert first.name == "Ada Lovelace" and len(second.name) == 40  # spaces tidied, long names cut
    assert set(first.files) == {"design", "photo", "painting"}  # no second painting: nothing kept for it
    assert [design.id for design in room.wall()] == [second.id, first.id]
    assert room.mark(first.id, starred=True) and room.mark(second.id, hidden=True)
    again = Room(tmp_path)  # the server restarted
    assert [design.id for design in again.wall()] == [first.id] and again.get(first.id).starred
    assert [design.id for design in again.wall(everything=True)] == [second.id, first.id]
    assert again.get(first.id).file(again.designs, "design").read_bytes() == Path(files["design"]).read_bytes()
    assert not again.withdraw(first.id, STRANGER)  # another browser cannot take it back
    assert again.withdraw(first.id, OWNER) and again.get(first.id) is None
    assert not (again.designs / first.id).exists()  # its files went with it


def test_the_wall_shows_names_as_text_and_no_file_of_the_server(tmp_path, monkeypatch, app_module):
    from studio import room, wall

    monkeypatch.setattr(room, "ROOM", Room(tmp_path))
    html, seen = wall.wall()
    assert "Share to the wall" in html  # an empty wall says how designs get there
    files = _shared_files(tmp_path)
    room.ROOM.share(OWNER, "<img src=x onerror=alert(1)>", "Wave", files, _recipe())
    html, seen = wall.wall(seen)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert str(tmp_path) not in html and "/gradio_api/file" not in html and "data:image/jpeg;base64," in html
    assert wall.wall(seen)[0] is not html and wall.wall(seen)[1] == seen  # unchanged: nothing sent again


@pytest.fixture(scope="module")
def client(app_server):
    return Client(app_server, verbose=False)


FACILITATOR = {  # every facilitator action over the API, with arguments after the key
    "/room": (), "/room_pause": (True,), "/room_size": (128, 30), "/room_star": ("someid",),
    "/room_unstar": ("someid",), "/room_hide": ("someid",), "/room_show": ("someid",), "/room_print": ("sticker",),
    "/room_zip": (False,),
}


@pytest.mark.parametrize("endpoint", sorted(FACILITATOR))
@pytest.mark.parametrize("given", ["", "not-the-key"])
def test_every_facilitator_action_is_refused_without_the_key(client, endpoint, given):
    from studio import room

    before = (room.GATE.paused, room.ROOM and room.ROOM.setting("size"))
    with pytest.raises(Exception, match="not this session's facilitator key"):
        client.predict(given, *FACILITATOR[endpoint], api_name=endpoint)
    assert (room.GATE.paused, room.ROOM and room.ROOM.setting("size")) == before  # nothing changed


def test_a_visitor_cannot_take_back_another_visitors_design(client, tmp_path):
    from studio import wall

    room = wall._room()
    files = _shared_files(tmp_path)
    theirs = room.share(OWNER, "Grace", "Wave", files, _recipe())
    with pytest.raises(Exception, match="Only a design shared from this browser"):
        client.predict(theirs.id, STRANGER, api_name="/take_back")
    assert room.get(theirs.id) is not None
    assert client.predict(theirs.id, OWNER, api_name="/take_back")[0] == "Taken off the wall."
    assert room.get(theirs.id) is None


def test_the_facilitator_stars_hides_sets_the_room_and_downloads_a_session_the_catalogue_reads(client, tmp_path):
    from nst_core import PRESETS
    from nst_core.catalogue import read_designs
    from studio import room, wall

    shared = wall._room().share(OWNER, "Katherine", "Wave", _shared_files(tmp_path, (10, 120, 200), "astronaut.png"),
                                _recipe())
    key = wall.key()
    line, gallery, choices, join = client.predict(key, api_name="/room")
    assert "The line" in line and any("Katherine" in (item.get("caption") or "") for item in gallery)
    assert Image.open(join).size[0] > 200  # the join address as a QR code
    client.predict(key, shared.id, api_name="/room_star")
    client.predict(key, shared.id, api_name="/room_hide")
    assert wall._room().get(shared.id).starred and shared.id not in {design.id for design in wall._room().wall()}
    client.predict(key, shared.id, api_name="/room_show")
    try:
        line, *_ = client.predict(key, 128, 30, api_name="/room_size")
        assert "128 px, 30 steps" in line
        assert room.room_settings(PRESETS["default"]).size == 128  # every run in the room paints at it
        line, *_ = client.predict(key, True, api_name="/room_pause")
        assert "paused" in line and room.GATE.paused
    finally:
        client.predict(key, False, api_name="/room_pause")
        client.predict(key, 0, 0, api_name="/room_size")
    assert not room.GATE.paused and room.room_settings(PRESETS["default"]) == PRESETS["default"]
    archive = client.predict(key, True, api_name="/room_zip")  # the starred designs
    with zipfile.ZipFile(archive) as session:
        names = session.namelist()
        table = list(csv.DictReader(io.StringIO(session.read("designs.csv").decode())))
        session.extractall(tmp_path / "session")
    assert any(name.endswith("design.png") for name in names)
    assert [row["name"] for row in table][-1].endswith("Katherine")
    designs, failures = read_designs(tmp_path / "session" / "designs.csv", PRESETS["default"], None)
    assert not failures and designs[-1].photo.is_file() and designs[-1].config.size == int(table[-1]["size"])


def test_a_print_that_was_painting_starts_again_after_a_restart(tmp_path):
    from studio.jobs import RESTARTED, PrintJobs
    from tests.test_jobs import painting, wait_for

    jobs = PrintJobs(tmp_path)
    job = jobs.start("sticker 1200×1200", 5.0, painting(seconds=5.0), settings={"print_name": "sticker"})
    deadline = time.monotonic() + 10
    while job.state != "painting":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    resumed = []  # the server stops mid-print; a new start finds its record, and its settings paint it again

    def resume(record):
        resumed.append(record.settings)
        return painting()

    again = PrintJobs(tmp_path, resume=resume).get(job.id)
    assert resumed == [{"print_name": "sticker"}]
    wait_for(again)
    assert again.state == "done" and again.message == RESTARTED
    assert PrintJobs(tmp_path / "elsewhere").get(job.id) is None
    assert PrintJobs(tmp_path).get(job.id).message == RESTARTED  # its link says so, after yet another start


def test_the_disk_for_visitors_files_stays_under_its_cap_oldest_first(tmp_path):
    from studio.disk import keep_under

    for index in range(10):  # a burst of ten 100 kB uploads
        path = tmp_path / f"upload{index}" / "photo.png"
        path.parent.mkdir()
        path.write_bytes(bytes(100_000))
        old = time.time() - 100 + index
        os.utime(path, (old, old))
    example = tmp_path / "cached" / "chelsea.png"  # the page's example, copied in before any upload
    example.parent.mkdir()
    example.write_bytes(bytes(50_000))
    os.utime(example, (time.time() - 1000, time.time() - 1000))
    assert keep_under([tmp_path], 500_000, kept=frozenset({"chelsea.png"})) == 600_000
    left = sorted(path.parent.name for path in tmp_path.rglob("*.png"))
    assert left == ["cached", *(f"upload{index}" for index in range(6, 10))]  # the newest stay, and the example


def test_a_file_still_being_written_is_never_removed_under_the_writer(tmp_path):
    """An upload still arriving is open in the server's process: removing it then broke the upload (a 500)."""
    from studio.disk import keep_under

    arriving = tmp_path / "gradio" / "tmpupload"
    arriving.parent.mkdir()
    with arriving.open("wb") as upload:
        upload.write(bytes(300_000))
        os.utime(arriving, (time.time() - 1000, time.time() - 1000))  # the oldest file there
        assert keep_under([tmp_path], 0) == 0 and arriving.exists()
    assert keep_under([tmp_path], 0) == 300_000 and not arriving.exists()  # closed: it counts like any other


def test_a_photo_shared_to_the_wall_through_the_page_handler(app_module, tmp_path, monkeypatch):
    from studio import room, wall
    from studio.design import Design

    monkeypatch.setattr(room, "ROOM", Room(tmp_path))
    with pytest.raises(Exception, match="Paint a design first"):
        wall.share("Ada", None, None, OWNER)
    design = Design(str(ASSETS / "chelsea.png"), str(ASSETS / "wave.jpg"), None, None, "photo", 0.5,
                    tuple(_recipe()["settings"].values()))
    line, shared_id = wall.share("Ada", design, _design_file(tmp_path), OWNER)
    assert "On the wall as **Ada**" in line and room.ROOM.get(shared_id).painting == "Wave"
    with pytest.raises(Exception, match="reload the page"):
        wall.share("Ada", design, _design_file(tmp_path), "not a token")
