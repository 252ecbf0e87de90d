"""Masking a petitioner's personal data for lists (王○明, 09xx-xxx-123)."""

import re

MASK = "○"


def mask_name(name: str | None) -> str:
    """A name with every character but the first and the last masked: 王小明 → 王○明.

    Two characters keep the first (王○), one is fully masked; spaces stay where they are.
    """
    if not name or not name.strip():
        return ""
    chars = list(name.strip())
    letters = [i for i, c in enumerate(chars) if not c.isspace()]
    if len(letters) == 1:
        keep = set()
    elif len(letters) == 2:
        keep = {letters[0]}
    else:
        keep = {letters[0], letters[-1]}
    return "".join(c if (i in keep or c.isspace()) else MASK for i, c in enumerate(chars))


def mask_phone(phone: str | None) -> str:
    """A phone number with only its first two and last three digits: 0912345123 → 09xx-xxx-123."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 6:
        return "x" * len(digits)
    masked = digits[:2] + "x" * (len(digits) - 5) + digits[-3:]
    if len(masked) == 10:
        return f"{masked[:4]}-{masked[4:7]}-{masked[7:]}"
    return masked
