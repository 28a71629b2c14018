"""Documents as sectioned CSV and as XLSX workbooks; numbers stay numbers.

CSV layout (one file a spreadsheet opens cleanly): a report block, then sections, each a row
`[<section title>]`, a header row and its rows, sections separated by a blank row:
`[Summary metrics]`, one per breakdown table, then `[Daily log: <title>]`. UTF-8 with a BOM so
spreadsheets detect the encoding. A text cell that a spreadsheet would run as a formula
(starting with = + - @) gets a leading apostrophe; `read_sectioned_csv` removes it again.

Amounts carry their currency the way an analyst filters on it: a `currency` column (ISO 4217)
beside them, in the summary and in every table with amounts (a table of invoices keeps its own).
Numbers are rounded to their column's precision (money to the cent; reports.formatting.PRECISION).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from reports.document import NO_DATA, Document, Table
from reports.formatting import CURRENCY, PRECISION, has_currency_column

SUMMARY = "Summary metrics"
DAILY_PREFIX = "Daily log: "
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SECTION = re.compile(r"^\[(.+)\]$")
FLOAT_DECIMALS = 9
SHEET_TITLE_MAX = 31  # Excel's limit
_FILLER_WORDS = ("for", "of", "the", "per", "by", "and", "in")
_XLSX_FORMATS = {"integer": "#,##0", "money": "#,##0.00", "number": "#,##0.00", "percent": '0.0"%"',
                 "ratio": "0.0%"}


def guard_text(value: object) -> object:
    """Text a spreadsheet would evaluate as a formula, made inert."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def without_float_noise(value: float) -> float:
    """-35069.332, not -35069.33200000001: sums of binary fractions carry error in their last
    digits, which a reader takes for data. Nine decimals is far below any amount or ratio shown."""
    return round(value, FLOAT_DECIMALS)


def rounded(value: float, kind: str | None) -> float:
    """The value at its kind's precision (money: cents), else just without float noise."""
    return round(value, PRECISION[kind]) if kind in PRECISION else without_float_noise(value)


def _cell(value: object, kind: str | None = None) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        value = rounded(value, kind)
        if value.is_integer():
            return int(value)  # 98, not 98.0, where a column mixes counts and amounts
    return guard_text(value)


def with_currency(table: Table) -> Table:
    """The table with a `currency` column after its amounts, unless it has none or its own."""
    if has_currency_column(table.frame.columns) or "money" not in table.kinds.values():
        return table
    return Table(table.title, table.frame.assign(currency=CURRENCY), table.kinds, table.in_pdf)


def _sections(document: Document) -> list[tuple[str, Table]]:
    summary = pd.DataFrame([{"metric": m.label, "value": m.value,
                             "currency": CURRENCY if m.kind == "money" else "", "note": m.note}
                            for m in document.summary], columns=["metric", "value", "currency", "note"])
    sections = [(SUMMARY, Table(SUMMARY, summary))]
    sections += [(t.title, with_currency(t)) for t in document.tables]
    if document.daily_log is not None:
        sections.append((DAILY_PREFIX + document.daily_log.title, with_currency(document.daily_log)))
    return sections


def _row_kinds(title: str, table: Table, document: Document) -> list[list[str | None]]:
    """Each cell's kind: by column, except the summary's value column, which is by metric."""
    kinds = [table.kinds.get(c) for c in table.frame.columns]
    if title != SUMMARY:
        return [kinds] * len(table.frame)
    return [[m.kind if c == "value" else None for c in table.frame.columns] for m in document.summary]


def _info(document: Document) -> list[list[object]]:
    return [["Report", document.title], ["Account", document.subject],
            ["Period", document.period_key, document.period_label]]


def render_csv(document: Document) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in _info(document):
        writer.writerow([_cell(v) for v in row])
    if document.empty:
        writer.writerow([])
        writer.writerow([f"[{SUMMARY}]"])
        writer.writerow([NO_DATA])
        return ("\ufeff" + buffer.getvalue()).encode("utf-8")
    for title, table in _sections(document):
        writer.writerow([])
        writer.writerow([f"[{title}]"])
        writer.writerow(list(table.frame.columns))
        for record, kinds in zip(table.frame.itertuples(index=False, name=None),
                                 _row_kinds(title, table, document), strict=True):
            writer.writerow([_cell(v, k) for v, k in zip(record, kinds)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def read_sectioned_csv(content: bytes | str) -> dict[str, pd.DataFrame]:
    """The sections of a CSV written by `render_csv`, by title (values as text, guards removed).

    The leading report block is returned under "Report".
    """
    text = content.decode("utf-8-sig") if isinstance(content, bytes) else content.lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    sections: dict[str, pd.DataFrame] = {}
    current, block = "Report", []

    def close() -> None:
        if current == "Report":
            sections[current] = pd.DataFrame([r[:2] for r in block], columns=["field", "value"])
        elif block:
            header, *data = block
            sections[current] = pd.DataFrame(data, columns=header) if data or len(header) > 1 else \
                pd.DataFrame({"message": header})
        else:
            sections[current] = pd.DataFrame()

    for row in rows:
        match = _SECTION.match(row[0]) if len(row) == 1 else None
        if match:
            close()
            current, block = match.group(1), []
        elif row:
            block.append([c[1:] if c.startswith("'") and c[1:].startswith(_FORMULA_START) else c for c in row])
    close()
    return sections


def _short_title(title: str) -> str:
    """A title within Excel's 31 characters that still reads as the title: filler words go
    first ("Projected usage December 2026"), then whole words from the end, marked with "…"."""
    if len(title) <= SHEET_TITLE_MAX:
        return title
    words = title.split()
    kept = [w for i, w in enumerate(words) if i == 0 or w.lower() not in _FILLER_WORDS]
    if len(" ".join(kept)) <= SHEET_TITLE_MAX:
        return " ".join(kept)
    while len(kept) > 1 and len(" ".join(kept)) + 1 > SHEET_TITLE_MAX:
        kept.pop()
    return (" ".join(kept)[:SHEET_TITLE_MAX - 1]) + "…"


def _sheet_title(title: str, used: set[str]) -> str:
    base = _short_title(re.sub(r"\s+", " ", re.sub(r"[\[\]:*?/\\']", " ", title)).strip()) or "Sheet"
    name, n = base, 2
    while name.lower() in used:
        suffix = f" ({n})"
        name, n = base[:SHEET_TITLE_MAX - len(suffix)] + suffix, n + 1
    used.add(name.lower())
    return name


def _xlsx_value(value: object, kind: str | None = None) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        value = rounded(value, kind)
        if value.is_integer():
            return int(value)
    return value


def _write_sheet(ws, table: Table, header_fill: PatternFill, row_kinds: list[list[str | None]] | None = None
                 ) -> None:
    frame = table.frame
    ws.append(list(frame.columns))
    row_kinds = row_kinds or [[table.kinds.get(c) for c in frame.columns]] * len(frame)
    for record, kinds in zip(frame.itertuples(index=False, name=None), row_kinds, strict=True):
        ws.append([_xlsx_value(v, k) for v, k in zip(record, kinds)])
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = header_fill
        cell.alignment = Alignment(vertical="center")
    for index, column in enumerate(frame.columns, start=1):
        kind = table.kinds.get(column)
        letter = get_column_letter(index)
        width = len(str(column))
        for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
            elif isinstance(cell.value, datetime | date):
                cell.number_format = "yyyy-mm-dd"
            elif isinstance(cell.value, int | float) and not isinstance(cell.value, bool) and kind in _XLSX_FORMATS:
                whole = isinstance(cell.value, int) and kind == "number"
                cell.number_format = _XLSX_FORMATS["integer" if whole else kind]
            width = max(width, len(str(cell.value)) if cell.value is not None else 0)
        ws.column_dimensions[letter].width = min(60, width + 2)
    ws.freeze_panes = "A2"


def _format_summary_values(ws, document: Document) -> None:
    """The summary's value column mixes kinds: format each cell by its metric's kind (rows are
    written in the order of document.summary)."""
    for (value,), metric in zip(ws.iter_rows(min_row=2, min_col=2, max_col=2), document.summary, strict=True):
        if isinstance(value.value, int | float) and not isinstance(value.value, bool) and metric.kind in _XLSX_FORMATS:
            whole = isinstance(value.value, int) and metric.kind == "number"
            value.number_format = _XLSX_FORMATS["integer" if whole else metric.kind]


def render_xlsx(document: Document) -> bytes:
    """One sheet per section (Summary, breakdowns, Daily log), header row styled, panes frozen."""
    workbook = Workbook()
    stamp = datetime.combine(date.fromisoformat(document.period_key), datetime.min.time())
    workbook.properties.created = workbook.properties.modified = stamp
    workbook.properties.title = f"{document.title} - {document.period_label}"
    fill = PatternFill("solid", fgColor="1D3F6E")
    used: set[str] = set()
    sheet = workbook.active
    if document.empty:
        sheet.title = _sheet_title("Summary", used)
        _write_sheet(sheet, Table(SUMMARY, pd.DataFrame({"message": [NO_DATA]})), fill)
    else:
        for position, (title, table) in enumerate(_sections(document)):
            ws = sheet if position == 0 else workbook.create_sheet()
            ws.title = _sheet_title("Summary" if title == SUMMARY else
                                    "Daily log" if title.startswith(DAILY_PREFIX) else title, used)
            _write_sheet(ws, table, fill, _row_kinds(title, table, document))
            if title == SUMMARY:
                _format_summary_values(ws, document)
    info = workbook.create_sheet(_sheet_title("Report", used))
    for row in _info(document):
        info.append(row)
    for cell in info["A"]:
        cell.font = Font(bold=True)
    for row in info.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    info.column_dimensions["A"].width = 10
    info.column_dimensions["B"].width = min(60, max(len(str(c.value or "")) for c in info["B"]) + 2)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _fixed_zip_times(buffer.getvalue(), (stamp.year, stamp.month, stamp.day, 0, 0, 0))


def _fixed_zip_times(content: bytes, date_time: tuple[int, ...]) -> bytes:
    """The workbook with its zip entries and "modified" property stamped `date_time` instead of
    the wall clock, so re-rendering the same data gives byte-identical files (and manifest)."""
    source = zipfile.ZipFile(io.BytesIO(content))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" with the wall clock on save
                stamp = "{:04d}-{:02d}-{:02d}T00:00:00Z".format(*date_time[:3])
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            target.writestr(entry, data)
    return output.getvalue()
