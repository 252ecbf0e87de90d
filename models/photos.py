"""Photos of defects: checked by content, size-limited, stored with random names.

Files live under the instance folder (`PHOTO_DIR`, default `<instance>/photos`), never under
`static/`: the web layer serves them to signed-in users who may see the ticket. Each photo is
kept as uploaded plus two resized JPEG copies without metadata (`display`, `thumb`).
"""

import io
import secrets
import warnings
from dataclasses import dataclass
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
MAX_PIXELS = 60_000_000  # larger than any phone camera, small enough to resize safely

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
    """Read and check one upload: size first, then its real type by content (not by name)."""
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
                width, height = image.size
                if fmt not in FORMATS:
                    raise not_an_image
                if width * height > MAX_PIXELS:
                    raise not_an_image
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # verify() misses truncated data; decoding finds it
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
    return CheckedPhoto(filename=name, data=data, format=fmt, width=width, height=height)


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
    """Write the original and its resized JPEG copies (upright, without metadata)."""
    folder = photo_dir() / token[:2]
    folder.mkdir(parents=True, exist_ok=True)
    path_for(token, photo.extension).write_bytes(photo.data)
    with Image.open(io.BytesIO(photo.data)) as source:
        upright = ImageOps.exif_transpose(source)
        if upright.mode not in ("RGB", "L"):
            background = Image.new("RGB", upright.size, "white")
            rgba = upright.convert("RGBA")
            background.paste(rgba, mask=rgba.getchannel("A"))
            upright = background
        for variant, edge in VARIANTS.items():
            copy = upright.copy()
            copy.thumbnail((edge, edge))
            copy.convert("RGB").save(path_for(token, "", variant), "JPEG", quality=82)
