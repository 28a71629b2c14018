"""Documents as HTML (jinja2) and PDF (weasyprint), with no network access while rendering.

The CSS is inlined and charts are inline SVG, so a report needs no external resource at all;
the URL fetcher still refuses everything but `data:` URLs and the report fonts' own files
(reports/fonts.py), so a template that references a remote image or stylesheet renders without
it instead of reaching out.
"""

from __future__ import annotations

import logging
import os
import re
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


class _SvgPresentationFilter(logging.Filter):
    """Drops weasyprint's "unknown property" warnings for SVG presentation styles (fill, stroke...).

    matplotlib writes them as style attributes; weasyprint's SVG renderer uses them, but its HTML
    cascade also sees them and warns once per chart element, burying real warnings.
    """

    _SVG_STYLE = re.compile(r"^Ignored `(fill|stroke|font|text-anchor|clip-path|stroke-[a-z-]+|fill-[a-z-]+)\b")

    def filter(self, record: logging.LogRecord) -> bool:
        return not self._SVG_STYLE.match(record.getMessage())


logging.getLogger("weasyprint").addFilter(_SvgPresentationFilter())


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


def _environment(templates_dir: Path) -> jinja2.Environment:
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


def scoped_svg(svg: str, prefix: str) -> str:
    """The SVG with its element ids (and references to them) prefixed: matplotlib numbers ids the
    same way in every chart, and several charts share one HTML document."""
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = svg.replace("url(#", f"url(#{prefix}-")
    return re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', svg)


def render_html(document: Document, templates_dir: Path = TEMPLATES_DIR, template: str = "report.html.j2") -> str:
    env = _environment(templates_dir)
    metrics = [{"label": m.label, "value": format_value(m.value, m.kind), "note": m.note,
                "wide": m.kind == "text" and len(str(m.value)) > 18} for m in document.summary]
    tables = [table_view(t) for t in document.tables if t.in_pdf]
    if document.daily_log is not None and document.daily_log.in_pdf:
        tables.append(table_view(document.daily_log))
    css = (templates_dir / "report.css").read_text() if (templates_dir / "report.css").exists() else ""
    charts = [{"title": c.title, "svg": scoped_svg(c.svg, f"chart{i}")} for i, c in enumerate(document.charts)]
    return env.get_template(template).render(doc=document, metrics=metrics, tables=tables, charts=charts, css=css)


def html_to_pdf(html: str) -> tuple[bytes, int]:
    """PDF bytes and page count; every URL but `data:` and the report fonts is refused (and logged).

    The text is set in the project's own fonts (reports/fonts.py), whatever the machine has.

    Without HarfBuzz's subsetter weasyprint subsets fonts with fontTools, which stamps each font
    with the current second: the same document would give different bytes (and data hashes) a
    second later. SOURCE_DATE_EPOCH (the reproducible-builds convention fontTools follows) pins it.
    """
    fetcher = OfflineURLFetcher(local_files=font_file_urls())
    font_config = FontConfiguration()
    fonts = weasyprint.CSS(string=f"{font_face_css(html)}\nhtml {{ font-family: {FONT_STACK}; }}",
                           font_config=font_config, url_fetcher=fetcher)
    rendered = weasyprint.HTML(string=html, base_url=None, url_fetcher=fetcher).render(
        stylesheets=[fonts], font_config=font_config)
    if fetcher.refused:
        log.warning("Refused %s URL(s) while rendering: %s", len(fetcher.refused), fetcher.refused[:5])
    os.environ.setdefault("SOURCE_DATE_EPOCH", FONT_TIMESTAMP_EPOCH)
    return rendered.write_pdf(), len(rendered.pages)


def render_pdf_with_pages(document: Document) -> tuple[bytes, int]:
    return html_to_pdf(render_html(document))


def render_pdf(document: Document) -> bytes:
    return render_pdf_with_pages(document)[0]
