"""Photos of defects: checked by content, size-limited, stored with random names.

Files live under the instance folder (`PHOTO_DIR`, default `<instance>/photos`), never under
`static/`: the web layer serves them to signed-in users who may see the ticket. Each photo is
kept in its own format, re-encoded upright, at most `STORED_EDGE` pixels long and without
metadata (no GPS, no camera), plus two resized JPEG copies (`display`, `thumb`).
"""

import io
import secrets
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from models.core.errors import InvalidInput

try:  # HEIC/HEIF from phones, when the maintained pillow-heif plug-in is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF = True
except ImportError:  # pragma: no cover - an optional extra
    HEIF = False

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_COUNT = 6
MAX_PIXELS = 60_000_000  # larger than any phone camera
# Decoding is where memory goes: a 230 KB PNG can hold 60 Mpx. Formats that can only decode at
# full size must fit this (40 Mpx in RGB); JPEGs decode at a reduced size instead.
DECODE_BUDGET = 160 * 1024 * 1024
DECODE_SLOTS = 2  # images decoded at once per process; further uploads wait their turn
STORED_EDGE = 3072  # longest side of the stored original (7 Mpx from a 4:3 phone photo)
_DECODING = threading.BoundedSemaphore(DECODE_SLOTS)

ORIENTATION = 0x0112  # the EXIF tag; its value → the turn that makes the photo upright
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Pillow's format name → (file extension, content type)
FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
}
if HEIF:
    FORMATS["HEIF"] = ("heic", "image/heic")

VARIANTS = {"display": 1600, "thumb": 360}


class PhotoTooLarge(InvalidInput):
    """A photo above the size limit (HTTP 413)."""

    status = 413
    code = "too_large"


@dataclass
class Upload:
    """A file as received: the name the sender gave it and its bytes."""

    filename: str
    stream: BinaryIO


@dataclass
class CheckedPhoto:
    """An upload that passed the checks, ready to be stored."""

    filename: str
    data: bytes
    format: str
    width: int
    height: int
    variants: dict[str, bytes] = field(default_factory=dict)

    @property
    def extension(self) -> str:
        """The file extension for its real type."""
        return FORMATS[self.format][0]

    @property
    def content_type(self) -> str:
        """The MIME type for its real type."""
        return FORMATS[self.format][1]


def max_bytes() -> int:
    """The largest photo accepted, in bytes (setting PHOTO_MAX_BYTES)."""
    return int(current_app.config.get("PHOTO_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_count() -> int:
    """How many photos one submission may carry (setting PHOTO_MAX_COUNT)."""
    return int(current_app.config.get("PHOTO_MAX_COUNT", DEFAULT_MAX_COUNT))


def photo_dir() -> Path:
    """Where photos are stored (setting PHOTO_DIR, default `<instance>/photos`)."""
    configured = current_app.config.get("PHOTO_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "photos"


def accepted_types() -> str:
    """The formats accepted, for messages and the file picker hint."""
    return ", ".join("HEIC" if name == "HEIF" else name for name in FORMATS)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g}"


def check(upload: Upload) -> CheckedPhoto:
    """Read and check one upload (size, real type by content, pixels), then prepare its copies.

    The stored copies are re-encoded here, under a bounded decode: what is refused is refused
    before anything is written.
    """
    raw = (upload.filename or "photo").replace("\x00", "").replace("\\", "/")
    name = Path(raw).name[:200] or "photo"
    limit = max_bytes()
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise PhotoTooLarge(
            _l(
                "%(name)s is larger than %(limit)s MB. Take the photo again at a lower "
                "resolution or send a smaller copy.",
                name=name,
                limit=_megabytes(limit),
            )
        )
    if not data:
        raise InvalidInput(_l("%(name)s is empty.", name=name))
    not_an_image = InvalidInput(
        _l(
            "%(name)s is not a photo we can read. Send a %(types)s image.",
            name=name,
            types=accepted_types(),
        )
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format
                if fmt not in FORMATS:
                    raise not_an_image
                _refuse_too_many_pixels(name, image)
                image.verify()
            with _DECODING, Image.open(io.BytesIO(data)) as image:
                return _prepare(name, fmt, image)
    except InvalidInput:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise not_an_image from exc


def _decode_cost(image: Image.Image) -> int:
    """Bytes needed to decode `image` at full size, with a conversion to RGB(A) if it needs one."""
    if image.format == "JPEG":
        return 0  # decoded at a reduced size (`_draft`), whatever its size
    return image.width * image.height * _bytes_per_pixel(image.mode)


def _bytes_per_pixel(mode: str) -> int:
    """Pillow's memory per pixel for `mode` (RGB takes 4), plus 4 if it is converted."""
    size = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    return size if mode in ("L", "LA", "RGB", "RGBA") else size + 4


def _refuse_too_many_pixels(name: str, image: Image.Image) -> None:
    """Refuse, by its header, an image too large to decode within the limits."""
    width, height = image.size
    if width * height > MAX_PIXELS or _decode_cost(image) > DECODE_BUDGET:
        raise InvalidInput(
            _l(
                "%(name)s has too many pixels (%(width)s × %(height)s). Send a smaller copy, "
                "for example as the phone's camera takes it.",
                name=name,
                width=width,
                height=height,
            )
        )


def _draft(image: Image.Image) -> None:
    """Let a JPEG decode at 1/2, 1/4 or 1/8 size: no larger than stored nor the budget allows."""
    if image.format != "JPEG":
        return
    width, height = image.size
    per_pixel = _bytes_per_pixel(image.mode)
    scale = 1
    while scale < 8 and (
        width * height * per_pixel > DECODE_BUDGET * scale * scale
        or max(width, height) >= STORED_EDGE * scale * 2
    ):
        scale *= 2
    image.draft("RGB", (max(1, width // scale), max(1, height // scale)))


def _prepare(name: str, fmt: str, image: Image.Image) -> CheckedPhoto:
    """Decode once (bounded), turn upright, shrink, and encode every copy without metadata."""
    orientation = image.getexif().get(ORIENTATION, 1)
    icc = image.info.get("icc_profile") if image.mode in ("RGB", "RGBA") else None
    _draft(image)
    image.load()  # verify() misses truncated data; decoding finds it
    if image.mode not in ("L", "LA", "RGB", "RGBA"):
        has_alpha = image.has_transparency_data
        image = image.convert("RGBA" if has_alpha else "RGB")
    image.thumbnail((STORED_EDGE, STORED_EDGE))
    if orientation in TRANSPOSE:
        image = image.transpose(TRANSPOSE[orientation])
    image.info = {}  # no EXIF (GPS, camera), XMP or text chunks in any copy
    image.getexif().clear()  # an encoder may read the parsed tags too (pillow-heif does)
    stored = _encode(image, fmt, icc)
    flat = image
    if image.mode in ("LA", "RGBA"):
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
    variants = {}
    for variant, edge in VARIANTS.items():
        small = ImageOps.contain(flat, (edge, edge)) if max(flat.size) > edge else flat
        variants[variant] = _encode(small, "JPEG", icc)
    return CheckedPhoto(
        filename=name,
        data=stored,
        format=fmt,
        width=image.width,
        height=image.height,
        variants=variants,
    )


def _encode(image: Image.Image, fmt: str, icc: bytes | None) -> bytes:
    """`image` in `fmt`, with only its colour profile as metadata."""
    if fmt == "JPEG" and image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    options = {"JPEG": {"quality": 88}, "WEBP": {"quality": 88}, "HEIF": {"quality": 88}}
    extra = dict(options.get(fmt, {}))
    if icc:
        extra["icc_profile"] = icc
    buffer = io.BytesIO()
    image.save(buffer, fmt, **extra)
    return buffer.getvalue()


def check_all(uploads, field: str = "photos") -> list[CheckedPhoto]:
    """Check every upload (skipping empty file fields); refuses too many at once.

    An error names the form `field` the uploads came from (`exc.field`).
    """
    present = [u for u in uploads or () if u is not None and (u.filename or "").strip()]
    try:
        if len(present) > max_count():
            raise InvalidInput(_l("At most %(count)s photos at a time.", count=max_count()))
        return [check(upload) for upload in present]
    except InvalidInput as exc:
        exc.field = field
        raise


def new_token() -> str:
    """A random, unguessable file name stem."""
    return secrets.token_hex(16)


def path_for(token: str, extension: str, variant: str | None = None) -> Path:
    """Where a stored file lives (sharded by the token's first two characters)."""
    suffix = f"_{variant}.jpg" if variant else f".{extension}"
    return photo_dir() / token[:2] / f"{token}{suffix}"


def write(photo: CheckedPhoto, token: str) -> None:
    """Write the prepared copies: the original (re-encoded, upright, no metadata) and JPEGs."""
    folder = photo_dir() / token[:2]
    folder.mkdir(parents=True, exist_ok=True)
    path_for(token, photo.extension).write_bytes(photo.data)
    for variant, data in photo.variants.items():
        path_for(token, "", variant).write_bytes(data)
