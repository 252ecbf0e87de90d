"""Keep the message catalogue in step with the code.

python scripts/i18n.py update            # extract strings, merge into the .po files
python scripts/i18n.py fill FILE.py      # set zh_Hant_TW translations from a dict T in FILE.py
python scripts/i18n.py missing           # list msgids without a Chinese translation
"""

import runpy
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
POT = ROOT / "webapp/translations/messages.pot"
ZH = ROOT / "webapp/translations/zh_Hant_TW/LC_MESSAGES/messages.po"


def update() -> None:
    """Extract every translatable string and merge it into the catalogues."""
    subprocess.run(
        [
            "pybabel",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(POT),
            "--no-location",
            "--sort-output",
            "--omit-header",
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    subprocess.run(
        [
            "pybabel",
            "update",
            "-i",
            str(POT),
            "-d",
            "webapp/translations",
            "--no-fuzzy-matching",
            "--ignore-obsolete",
            "--omit-header",
        ],
        cwd=ROOT,
        check=True,
    )


def _load():
    with ZH.open("rb") as handle:
        return read_po(handle, locale="zh_Hant_TW")


def _save(catalog) -> None:
    with ZH.open("wb") as handle:
        write_po(
            handle,
            catalog,
            no_location=True,
            sort_output=True,
            omit_header=True,
            ignore_obsolete=True,
            width=100,
        )


def fill(path: str) -> None:
    """Set translations from a dict named T in a Python file."""
    table = runpy.run_path(path)["T"]
    catalog = _load()
    for message in catalog:
        if message.id and isinstance(message.id, str) and message.id in table:
            message.string = table[message.id]
            message.flags.discard("fuzzy")
        elif message.id and isinstance(message.id, tuple) and message.id[0] in table:
            value = table[message.id[0]]
            message.string = tuple(value) if isinstance(value, (list, tuple)) else (value,) * 2
    _save(catalog)


def missing() -> list[str]:
    """Msgids with no (or a fuzzy) Chinese translation."""
    catalog = _load()
    gaps = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            gaps.append(message.id if isinstance(message.id, str) else message.id[0])
    return gaps


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "missing"
    if command == "update":
        update()
    elif command == "fill":
        fill(sys.argv[2])
    else:
        gaps = missing()
        print("\n".join(gaps))
        sys.exit(1 if gaps else 0)
