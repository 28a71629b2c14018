"""Documents as HTML (jinja2) and PDF (weasyprint), with no network access while rendering.

The CSS is inlined and each chart is an SVG `data:` image, so a report needs no external resource
at all; the URL fetcher still refuses everything but `data:` URLs and the report fonts' own files
(reports/fonts.py), so a template that references a remote image or stylesheet renders without
it instead of reaching out.

A chart is an `<img>` of its SVG, not SVG markup inline in the HTML: weasyprint draws both the
same way (the PDF is byte for byte the same), but inline, every one of a chart's ~600 elements also
went through the HTML parser and the CSS cascade, about a fifth of a usage summary's rendering.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
from pathlib import Path

import jinja2
import weasyprint
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from reports.document import Document, Table
from reports.fonts import FONT_STACK, font_face_css, font_file_urls
from reports.formatting import column_header, format_value, has_currency_column, is_numeric

TEMPLATES_DIR = Path(__file__).parent / "templates"
# Fonts embedded in a PDF carry this time (1970-01-01), not the moment of rendering.
FONT_TIMESTAMP_EPOCH = "0"
log = logging.getLogger(__name__)


class OfflineURLFetcher(URLFetcher):
    """Serves `data:` URLs and the given local files; refuses every other URL (http, https, ftp, file...)."""

    def __init__(self, local_files: frozenset[str] = frozenset(), **kwargs):
        super().__init__(allowed_protocols=("data", "file"), **kwargs)
        self.local_files = local_files
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        if not (url.lower().startswith("data:") or url in self.local_files):
            self.refused.append(url)
            raise ValueError(f"report rendering never fetches URLs; refused {url}")
        return super().fetch(url, headers)


@functools.cache
def _environment(templates_dir: Path) -> jinja2.Environment:
    """One environment per templates folder, so a template is compiled once per process, not per
    document (jinja2 still reloads it when the file changes)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def table_view(table: Table) -> dict:
    """Headers and formatted cells of a table, ready for the template."""
    frame = table.frame
    numeric = {c: is_numeric(frame[c], table.kinds.get(c)) for c in frame.columns}
    currency_column = has_currency_column(frame.columns)
    headers = [{"text": column_header(c, table.kinds.get(c), currency_column), "numeric": numeric[c]}
               for c in frame.columns]
    rows = [[{"text": format_value(value, table.kinds.get(column, "number"), with_currency=False),
              "numeric": numeric[column]}
             for column, value in zip(frame.columns, record)]
            for record in frame.itertuples(index=False, name=None)]
    return {"title": table.title, "headers": headers, "rows": rows}


def svg_data_url(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def render_html(document: Document, templates_dir: Path = TEMPLATES_DIR, template: str = "report.html.j2") -> str:
    env = _environment(templates_dir)
    metrics = [{"label": m.label, "value": format_value(m.value, m.kind), "note": m.note,
                "wide": m.kind == "text" and len(str(m.value)) > 18} for m in document.summary]
    tables = [table_view(t) for t in document.tables if t.in_pdf]
    if document.daily_log is not None and document.daily_log.in_pdf:
        tables.append(table_view(document.daily_log))
    css = (templates_dir / "report.css").read_text() if (templates_dir / "report.css").exists() else ""
    charts = [{"title": c.title, "src": svg_data_url(c.svg)} for c in document.charts]
    return env.get_template(template).render(doc=document, metrics=metrics, tables=tables, charts=charts, css=css)


class _FirstFontToolsNotice(logging.Filter):
    """weasyprint warns, for every font of every document, that it subsets with fontTools because
    HarfBuzz's subsetter (Debian libharfbuzz-subset0) is missing: hundreds of identical lines in a
    report run. The first one tells the operator what to install; the repeats are dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if "instead of HarfBuzz-Subset" not in record.getMessage():
            return True
        first, self.seen = not self.seen, True
        return first


@functools.cache
def _quiet_repeated_subsetter_notice() -> None:
    logging.getLogger("weasyprint").addFilter(_FirstFontToolsNotice())


def html_to_pdf(html: str, image_text: str = "") -> tuple[bytes, int]:
    """PDF bytes and page count; every URL but `data:` and the report fonts is refused (and logged).

    The text is set in the project's own fonts (reports/fonts.py), whatever the machine has: the
    faces registered are those the characters of the HTML and of `image_text` (the text of the
    SVG images, which the HTML holds base64-encoded) need.

    Without HarfBuzz's subsetter weasyprint subsets fonts with fontTools, which stamps each font
    with the current second: the same document would give different bytes (and data hashes) a
    second later. SOURCE_DATE_EPOCH (the reproducible-builds convention fontTools follows) pins it.
    """
    _quiet_repeated_subsetter_notice()
    fetcher = OfflineURLFetcher(local_files=font_file_urls())
    font_config = FontConfiguration()
    fonts = weasyprint.CSS(string=f"{font_face_css(html + image_text)}\nhtml {{ font-family: {FONT_STACK}; }}",
                           font_config=font_config, url_fetcher=fetcher)
    rendered = weasyprint.HTML(string=html, base_url=None, url_fetcher=fetcher).render(
        stylesheets=[fonts], font_config=font_config)
    if fetcher.refused:
        log.warning("Refused %s URL(s) while rendering: %s", len(fetcher.refused), fetcher.refused[:5])
    os.environ.setdefault("SOURCE_DATE_EPOCH", FONT_TIMESTAMP_EPOCH)
    return rendered.write_pdf(), len(rendered.pages)


def render_pdf_with_pages(document: Document) -> tuple[bytes, int]:
    return html_to_pdf(render_html(document), image_text="".join(chart.svg for chart in document.charts))


def render_pdf(document: Document) -> bytes:
    return render_pdf_with_pages(document)[0]
