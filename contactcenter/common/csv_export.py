"""CSV files people open in a spreadsheet: every cell neutralized against formula injection, rows streamed.

OWASP's CSV-injection rule: a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by
spreadsheets as a formula (or as the start of one), and a formula can run commands or send the sheet's data away
(`=HYPERLINK(…)`, `=cmd|…`). Such a cell is prefixed with a single quote `'`, the mark spreadsheets read as "this is
text" (OWASP's recommendation). A cell whose first non-blank character is one of `= + - @` is prefixed too: some
spreadsheets skip leading spaces before reading a formula.

A phone number in clear (`+5215512345678`) starts with `+` and is prefixed like any other such cell: it stays
readable as `'+5215512345678` (a spreadsheet keeps it as text instead of turning it into the number 5.2E+12), and a
program reading the file strips one leading `'` before a trigger character to get the value back. Masked numbers
(`+52*******5678`) likewise. Every CSV export of the project writes through `csv_rows_stream`, so no cell escapes
the rule.
"""

import csv
from collections.abc import Iterable, Iterator

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_LEADING_BLANKS = " \u00a0"


def csv_cell_neutralize(value: object) -> str:
    """The cell's text, with a `'` in front when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_TRIGGERS) or text.lstrip(_LEADING_BLANKS).startswith(FORMULA_TRIGGERS[:4]):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose `write` returns what it was given: csv.writer then formats one row at a time."""

    def write(self, value: str) -> str:
        return value


def csv_rows_stream(header: Iterable, rows: Iterable[Iterable]) -> Iterator[str]:
    """The CSV text of `header` and `rows`, one line at a time (for a StreamingHttpResponse), every cell neutralized."""
    writer = csv.writer(_Echo())
    yield writer.writerow([csv_cell_neutralize(cell) for cell in header])
    for row in rows:
        yield writer.writerow([csv_cell_neutralize(cell) for cell in row])
