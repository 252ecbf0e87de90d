"""Stored photo files: bounded memory when decoding, and no metadata (GPS, camera) kept."""

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from models import photos
from models.core.errors import InvalidInput
from tests.facility.support import flat_png, new_ticket, upload

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: the growth of its peak RSS while checking and storing one file.
PROBE = """
import io, json, resource, sys, time
from flask import Flask
from flask_babel import Babel
from models import photos
from models.core.errors import InvalidInput
import PIL.JpegImagePlugin, PIL.PngImagePlugin

app = Flask("probe")
app.config["PHOTO_DIR"] = sys.argv[2]
Babel(app)
with app.app_context():
    data = open(sys.argv[1], "rb").read()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    try:
        photo = photos.check(photos.Upload("big", io.BytesIO(data)))
        photos.write(photo, photos.new_token())
        outcome = {"stored": [photo.width, photo.height]}
    except InvalidInput as exc:
        outcome = {"refused": str(exc.message)}
    seconds = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_mb": (after - before) / 1024, "seconds": seconds, **outcome}))
"""


def probe(tmp_path, data: bytes) -> dict:
    """Check and store `data` in a child interpreter; its memory growth, time and outcome."""
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(source), str(tmp_path / "photos")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory):
    """A 7700 × 7700 JPEG, made in a child so the test process stays small."""
    path = tmp_path_factory.mktemp("big") / "big.jpg"
    code = (
        "import sys; from PIL import Image; "
        "Image.new('RGB', (7700, 7700), 'olive').save(sys.argv[1], quality=80)"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=120)
    return path.read_bytes()


def test_a_small_png_of_60_megapixels_is_answered_quickly_within_300_mb(tmp_path):
    data = flat_png(7700, 7700)
    assert len(data) < 400 * 1024  # the "230 KB PNG"
    result = probe(tmp_path, data)
    assert result["grew_mb"] < 300, result
    assert result["seconds"] < 5, result
    assert "too many pixels" in result["refused"] and "7700" in result["refused"]


def test_the_largest_png_within_the_budget_is_stored_smaller_within_300_mb(tmp_path):
    assert photos.DECODE_BUDGET >= 6400 * 6400 * 4  # Pillow keeps RGB in 4 bytes a pixel
    result = probe(tmp_path, flat_png(6400, 6400))
    assert result["grew_mb"] < 300, result
    assert result["seconds"] < 15, result
    assert result["stored"] == [photos.STORED_EDGE, photos.STORED_EDGE]


def test_a_60_megapixel_jpeg_decodes_at_a_reduced_size_within_300_mb(tmp_path, big_jpeg):
    result = probe(tmp_path, big_jpeg)
    assert result["grew_mb"] < 150, result  # decoded at half size (60 MB), not in full (237 MB)
    assert result["seconds"] < 10, result
    assert max(result["stored"]) <= photos.STORED_EDGE


def test_at_most_a_few_photos_are_decoded_at_once(app, monkeypatch):
    busy, most, lock = [0], [0], threading.Lock()
    prepare = photos._prepare

    def slow_prepare(*args):
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        time.sleep(0.2)
        with lock:
            busy[0] -= 1
        return prepare(*args)

    monkeypatch.setattr(photos, "_prepare", slow_prepare)

    def one():
        with app.app_context():
            photos.check(upload())

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == photos.DECODE_SLOTS


def test_too_many_pixels_is_refused_with_a_message_not_as_unreadable(app):
    with app.app_context(), pytest.raises(InvalidInput) as refused:
        photos.check(upload("scan.png", flat_png(7700, 7700)))
    assert "scan.png" in str(refused.value.message)
    assert "7700 × 7700" in str(refused.value.message)


GPS, MAKE, MODEL, ORIENTATION = 0x8825, 0x010F, 0x0110, 0x0112


def tagged_photo(fmt: str) -> bytes:
    """A landscape photo, red on the left and blue on the right, with GPS and camera tags and
    an orientation saying "turn 90° clockwise to show it" (so upright: red on top)."""
    image = Image.new("RGB", (120, 80), "blue")
    image.paste(Image.new("RGB", (60, 80), "red"), (0, 0))
    exif = Image.Exif()
    exif[MAKE] = "Apple"
    exif[MODEL] = "iPhone 15"
    exif[ORIENTATION] = 6
    exif.get_ifd(GPS).update({1: "N", 2: (25.0, 2.0, 0.0), 3: "E", 4: (121.0, 33.0, 0.0)})
    buffer = io.BytesIO()
    image.save(buffer, fmt, exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_every_stored_copy_is_upright_and_has_no_location_or_camera(people, fmt):
    data = tagged_photo(fmt)
    with Image.open(io.BytesIO(data)) as sent:  # the test photo does carry the tags
        assert sent.getexif().get(MAKE) == "Apple" and sent.getexif().get_ifd(GPS)
    defect = new_ticket(people["clerk"], uploads=[upload(f"IMG.{fmt.lower()}", data)])
    [stored] = defect.photos
    for variant in (None, "display", "thumb"):
        raw = stored.path(variant).read_bytes()
        assert b"Apple" not in raw and b"iPhone" not in raw
        with Image.open(io.BytesIO(raw)) as image:
            exif = image.getexif()
            assert not exif.get_ifd(GPS) and GPS not in exif
            assert MAKE not in exif and MODEL not in exif
            assert not image.info.get("exif") and not image.info.get("xmp")
            assert image.width < image.height, variant  # turned upright
            rgb = image.convert("RGB")
            red, _, blue = rgb.getpixel((image.width // 2, image.height // 5))
            assert red > 200 and blue < 60, (variant, red, blue)
            red, _, blue = rgb.getpixel((image.width // 2, image.height * 4 // 5))
            assert blue > 200 and red < 60, (variant, red, blue)
