"""The one CSV writer of CityDesk: a text cell a spreadsheet would run as a formula is
neutralised (OWASP "CSV injection": a cell starting with =, +, -, @, tab or CR gets a leading
single quote). Numbers stay numbers: a figure is never text a user typed, and a bare number
cannot call a function, so only str cells are escaped."""

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """`value`, with a leading ' when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """A csv.writer whose every text cell goes through `neutralise`."""

    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable) -> None:
        """Write one row, neutralised."""
        self._writer.writerow([neutralise(value) for value in row])

    def writerows(self, rows: Iterable[Iterable]) -> None:
        """Write many rows, each neutralised."""
        for row in rows:
            self.writerow(row)


def csv_writer(out) -> SafeWriter:
    """The CSV writer for every file CityDesk hands out (CRLF lines, as Excel expects)."""
    return SafeWriter(out, lineterminator="\r\n")
