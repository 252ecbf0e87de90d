"""Reading printed output back: the text of a PDF, and converting a workbook to PDF the way
LibreOffice Calc prints it (`soffice --headless --convert-to pdf`)."""

import shutil
import subprocess  # nosec B404: runs LibreOffice on a file the test wrote
import unicodedata
from pathlib import Path

from pypdf import PdfReader

# Fonts map a few ideographs to radical code points that NFKC leaves alone.
RADICALS = str.maketrans({"\u2ea0": "\u6c11"})


def plain(text: str) -> str:
    """Text compared as a PDF gives it back: NFKC (full-width punctuation as ASCII), the
    radicals as ideographs, without line breaks and spaces."""
    text = unicodedata.normalize("NFKC", text).translate(RADICALS)
    return text.replace("\n", "").replace(" ", "")


def pdf_text(pdf: PdfReader) -> str:
    """The text of every page of `pdf`, made plain()."""
    return plain("".join(page.extract_text() for page in pdf.pages))


SOFFICE = shutil.which("soffice")


def xlsx_to_pdf(data: bytes, folder: Path, name: str = "book") -> PdfReader:
    """The workbook `data` printed to PDF by LibreOffice Calc (its own profile in `folder`, so
    that runs side by side do not share one)."""
    source = folder / f"{name}.xlsx"
    source.write_bytes(data)
    profile = (folder / "lo-profile").as_uri()
    subprocess.run(  # nosec B603: a fixed command on our own file
        [
            SOFFICE,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return PdfReader(folder / f"{name}.pdf")
