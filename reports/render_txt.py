"""A plain-text summary: the figures and the breakdowns, readable in any mail client."""

from __future__ import annotations

from reports.document import NO_DATA, Document, Table
from reports.formatting import column_header, format_value, has_currency_column, is_numeric

MAX_ROWS = 15
WIDTH = 72


def _table_lines(table: Table) -> list[str]:
    frame = table.frame
    shown = frame.head(MAX_ROWS)
    currency_column = has_currency_column(frame.columns)
    header = [column_header(c, table.kinds.get(c), currency_column) for c in frame.columns]
    cells = [[format_value(v, table.kinds.get(c, "number"), with_currency=False) for c, v in zip(frame.columns, record)]
             for record in shown.itertuples(index=False, name=None)]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(header)]
    lines = [table.title, "-" * len(table.title)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    numeric = [is_numeric(frame[c], table.kinds.get(c)) for c in frame.columns]
    for row in cells:
        lines.append("  ".join(v.rjust(w) if right else v.ljust(w)
                               for v, w, right in zip(row, widths, numeric)).rstrip())
    if len(frame) > len(shown):
        lines.append(f"... {len(frame) - len(shown)} more rows in the CSV/XLSX files")
    if frame.empty:
        lines.append("None.")
    return lines + [""]


def render_txt(document: Document) -> bytes:
    lines = [document.title, document.subject, f"{document.period_label} (period {document.period_key})",
             "=" * WIDTH, ""]
    if document.empty:
        lines += [NO_DATA, ""]
        return "\n".join(lines).encode("utf-8")
    label_width = max((len(m.label) for m in document.summary), default=0)
    for metric in document.summary:
        value = format_value(metric.value, metric.kind)
        lines.append(f"{metric.label.ljust(label_width)}  {value}" + (f"  ({metric.note})" if metric.note else ""))
    lines.append("")
    for table in document.tables:
        if table.in_pdf:
            lines += _table_lines(table)
    lines += document.notes
    return ("\n".join(lines).rstrip() + "\n").encode("utf-8")
