"""The one XLSX writer of the workbooks CityDesk hands to people (the yearly report, the audit
trail): a bold header row that repeats on every printed page, columns sized for the Chinese
text they hold (a CJK character is about two width units), long text wrapped, and a print
setup (A4, fit to the page's width, the sheet's name and page numbers in the margins).

Text cells are written as strings and the workbook never turns text into formulas, so a cell
a user typed as "=1+2" stays the text "=1+2" (no formula injection: see webapp/csv_safe.py
for the CSV side)."""

import io
import math
import unicodedata
from datetime import date, datetime

import xlsxwriter

from models.core import clock

WRAP_AT = 42  # width units: longer text wraps in a column this wide
HEADER_WRAP_AT = 18  # a header over narrow figures wraps rather than widen its column
MIN_WIDTH = 6
PADDING = 2
LINE_POINTS = 16  # the height of one line of 11-point text with CJK glyphs
LANDSCAPE_OVER = 100  # a sheet wider than this (width units) prints in landscape
A4 = 9  # XlsxWriter's paper code
INSTANT_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
GREY = "#E8E8E8"  # the header row's background


def text_width(text: str) -> int:
    """Width units of `text` in a spreadsheet column: wide (CJK, full-width) characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _lines(width: int, column: float) -> int:
    return max(1, math.ceil(width / max(column - PADDING, 1)))


def _local(value: datetime) -> datetime:
    """An aware instant as Taipei wall time without tzinfo (Excel keeps no time zones)."""
    return clock.local(value).replace(tzinfo=None) if value.tzinfo else value


class Sheet:
    """A worksheet written row by row (constant memory): the header row first, then values;
    call `finish()` (the Book does) to size the columns and set up printing."""

    def __init__(self, book: "Book", title: str, header: list[str]):
        self.book = book
        self.sheet = book.workbook.add_worksheet(title[:31])
        self.columns = max(len(header), 1)
        self.widths = [MIN_WIDTH] * self.columns
        self.next = 0
        self._write(header, header=True)
        self.sheet.freeze_panes(1, 0)
        self.sheet.repeat_rows(0)

    def _grow(self, column: int, width: int, limit: int) -> None:
        while column >= len(self.widths):
            self.widths.append(MIN_WIDTH)
        self.widths[column] = max(self.widths[column], min(width + PADDING, limit))

    def _write(self, values: list, *, header: bool = False, rates: tuple[int, ...] = ()) -> None:
        formats, write, row = self.book.formats, self.sheet, self.next
        lines = 1
        limit = HEADER_WRAP_AT if header else WRAP_AT
        for column, value in enumerate(values):
            if value is None or value == "":
                if header:
                    write.write_blank(row, column, None, formats["header"])
                continue
            if isinstance(value, datetime):
                write.write_datetime(row, column, _local(value), formats["instant"])
                self._grow(column, len(INSTANT_FORMAT), limit)
            elif isinstance(value, date):
                write.write_datetime(row, column, value, formats["date"])
                self._grow(column, len(DATE_FORMAT), limit)
            elif isinstance(value, bool):
                write.write_boolean(row, column, value)
                self._grow(column, 5, limit)
            elif isinstance(value, int | float):
                rate = column in rates
                write.write_number(row, column, value, formats["rate"] if rate else None)
                self._grow(column, len(f"{value:.2f}" if rate else str(value)), limit)
            else:
                text = str(value)
                width = max(text_width(part) for part in text.split("\n"))
                wrapped = header or width + PADDING > limit or "\n" in text
                fmt = formats["header"] if header else formats["wrap"] if wrapped else None
                write.write_string(row, column, text, fmt)
                self._grow(column, width, limit)
                if wrapped:
                    cell_lines = sum(_lines(text_width(p), limit) for p in text.split("\n"))
                    lines = max(lines, cell_lines)
        if lines > 1:
            write.set_row(row, LINE_POINTS * lines + 4)
        self.next += 1

    def row(self, values: list, rates: tuple[int, ...] = ()) -> None:
        """Write one row; the columns in `rates` get two decimals."""
        self._write(values, rates=rates)

    def heading(self, text: str) -> None:
        """A bold line of its own (the title of what follows)."""
        self.sheet.write_string(self.next, 0, text, self.book.formats["bold"])
        self.next += 1

    def note(self, text: str) -> None:
        """A long text (a narrative sentence) across the whole width of the table, wrapped."""
        span = sum(self.widths[: self.columns])
        row = self.next
        self.sheet.set_row(row, LINE_POINTS * _lines(text_width(text), span) + 4)
        if self.columns > 1:
            self.sheet.merge_range(row, 0, row, self.columns - 1, text, self.book.formats["wrap"])
        else:
            self.sheet.write_string(row, 0, text, self.book.formats["wrap"])
        self.next += 1

    def blank(self) -> None:
        """An empty row."""
        self.next += 1

    def finish(self) -> None:
        """Size the columns and set up printing: A4, fit to width, header row on every page."""
        sheet, widths = self.sheet, self.widths
        for column, width in enumerate(widths):
            sheet.set_column(column, column, width)
        sheet.set_paper(A4)
        if sum(widths) > LANDSCAPE_OVER:
            sheet.set_landscape()
        sheet.fit_to_pages(1, 0)
        sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
        sheet.print_area(0, 0, max(self.next - 1, 0), len(widths) - 1)
        sheet.set_header("&L&A", {"margin": 0.25})
        sheet.set_footer("&R&P / &N", {"margin": 0.25})
        sheet.hide_gridlines(0)  # gridlines on screen and on paper


class Book:
    """A workbook for people: `sheet(title, header)` adds a Sheet; `close()` gives the bytes."""

    def __init__(self):
        self.out = io.BytesIO()
        self.workbook = xlsxwriter.Workbook(
            self.out,
            {"constant_memory": True, "strings_to_formulas": False},  # text stays text
        )
        add = self.workbook.add_format
        self.formats = {
            "bold": add({"bold": True}),
            "header": add(
                {"bold": True, "text_wrap": True, "valign": "top", "bottom": 1, "bg_color": GREY}
            ),
            "wrap": add({"text_wrap": True, "valign": "top"}),
            "rate": add({"num_format": "0.00"}),
            "instant": add({"num_format": INSTANT_FORMAT}),
            "date": add({"num_format": DATE_FORMAT}),
        }
        self.sheets: list[Sheet] = []

    def sheet(self, title: str, header: list[str]) -> Sheet:
        """A new sheet with its header row."""
        sheet = Sheet(self, title, [str(h) for h in header])
        self.sheets.append(sheet)
        return sheet

    def close(self) -> bytes:
        """Finish every sheet and return the workbook's bytes."""
        for sheet in self.sheets:
            sheet.finish()
        self.workbook.close()
        return self.out.getvalue()
