"""Teach Schemathesis what a photo is: the API checks uploads by their content, so random
bytes declared as image/jpeg are rightly refused. With these strategies the fuzzer sends real
(small) images for the image media types the OpenAPI document declares."""

import io

from PIL import Image


def _image(fmt: str, size: tuple[int, int], colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def register() -> None:
    """Register image strategies with Schemathesis when it is installed."""
    try:
        import schemathesis
        from hypothesis import strategies as st
    except ImportError:  # pragma: no cover - only the fuzz tests need it
        return
    shapes = (((8, 6), "red"), ((3, 9), "teal"))
    for media_type, fmt in (("image/jpeg", "JPEG"), ("image/png", "PNG"), ("image/webp", "WEBP")):
        samples = [_image(fmt, size, colour) for size, colour in shapes]
        schemathesis.openapi.media_type(media_type, st.sampled_from(samples))


register()
