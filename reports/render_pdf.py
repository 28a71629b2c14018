"""Documents as HTML (jinja2) and PDF (weasyprint), with no network access while rendering.

The CSS is inlined and charts are inline SVG, so a report needs no external resource at all;
the URL fetcher still refuses everything but `data:` URLs, so a template that references a
remote image or stylesheet renders without it instead of reaching out.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import jinja2
import weasyprint
from weasyprint.urls import URLFetcher

from reports.document import Document, Table
from reports.formatting import format_value, is_numeric, pretty

TEMPLATES_DIR = Path(__file__).parent / "templates"
log = logging.getLogger(__name__)


class OfflineURLFetcher(URLFetcher):
    """Serves `data:` URLs and refuses every other one (http, https, ftp, file...)."""

    def __init__(self, **kwargs):
        super().__init__(allowed_protocols=("data",), **kwargs)
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        if not url.lower().startswith("data:"):
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
    headers = [{"text": pretty(c), "numeric": numeric[c]} for c in frame.columns]
    rows = [[{"text": format_value(value, table.kinds.get(column, "number")), "numeric": numeric[column]}
             for column, value in zip(frame.columns, record)]
            for record in frame.itertuples(index=False, name=None)]
    return {"title": table.title, "headers": headers, "rows": rows}


def svg_image(svg: str) -> str:
    """A chart as a `data:` URL for an `<img>`, not inline SVG: inline, every chart element (~600 in a
    usage summary) goes through weasyprint's HTML cascade, about a fifth of the PDF's time; as an
    image it goes straight to weasyprint's SVG renderer, which keeps the text as text. Each image is
    its own document, so matplotlib's repeated element ids cannot clash between charts."""
    head, rest = svg.split(">", 1)
    if 'xmlns="http://www.w3.org/2000/svg"' not in head:  # required once the SVG stands alone
        head = head.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
    return "data:image/svg+xml;base64," + base64.b64encode(f"{head}>{rest}".encode()).decode("ascii")


def render_html(document: Document, templates_dir: Path = TEMPLATES_DIR, template: str = "report.html.j2") -> str:
    env = _environment(templates_dir)
    metrics = [{"label": m.label, "value": format_value(m.value, m.kind), "note": m.note,
                "wide": m.kind == "text" and len(str(m.value)) > 18} for m in document.summary]
    tables = [table_view(t) for t in document.tables if t.in_pdf]
    if document.daily_log is not None and document.daily_log.in_pdf:
        tables.append(table_view(document.daily_log))
    css = (templates_dir / "report.css").read_text() if (templates_dir / "report.css").exists() else ""
    charts = [{"title": c.title, "src": svg_image(c.svg)} for c in document.charts]
    return env.get_template(template).render(doc=document, metrics=metrics, tables=tables, charts=charts, css=css)


def html_to_pdf(html: str) -> tuple[bytes, int]:
    """PDF bytes and page count; every URL but `data:` is refused (and logged)."""
    fetcher = OfflineURLFetcher()
    rendered = weasyprint.HTML(string=html, base_url=None, url_fetcher=fetcher).render()
    if fetcher.refused:
        log.warning("Refused %s URL(s) while rendering: %s", len(fetcher.refused), fetcher.refused[:5])
    return rendered.write_pdf(), len(rendered.pages)


def render_pdf_with_pages(document: Document) -> tuple[bytes, int]:
    return html_to_pdf(render_html(document))


def render_pdf(document: Document) -> bytes:
    return render_pdf_with_pages(document)[0]
