"""Account names in six scripts render in a report PDF with real glyphs, from the project's fonts.

The check reads the PDF itself: for every embedded font, its ToUnicode map says which glyph ids
stand for which characters, and the embedded font program (parsed by fontTools) says whether that
glyph exists and has an outline. weasyprint maps a character no font has to .notdef (glyph 0) or
to a glyph id past the font's end, so either one is a failure. No poppler needed.

ToUnicode is not an inverse of shaping for Arabic: a letter with dots is drawn as a base glyph
plus a dot glyph that other letters share, and weasyprint lists each glyph under the first letter
it met. So an Arabic letter is proved through the embedded face's source file (its cmap), next to
the fact that every glyph the PDF draws is real; the other scripts through ToUnicode itself.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pandas as pd
import pytest
from fontTools.pens.boundsPen import BoundsPen
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from reports.builders.usage import build_usage_summary
from reports.catalogue import load_catalogue
from reports.charts import bar_chart
from reports.document import Chart, Document, Metric
from reports.fonts import FAMILY_PREFIX, characters_of, faces_for, font_faces
from reports.periods import period_for
from reports.render_pdf import html_to_pdf, render_html, render_pdf

NAMES = {
    "Latin": "Façade Études GmbH",
    "Cyrillic": "ООО Ромашка",
    "Greek": "Ελληνική Εταιρεία",
    "CJK": "Meridian Analytics 株式会社 数据 데이터",
    "Arabic": "شركة البيانات",
    "Hebrew": "חברת נתונים",
}
ACCOUNT_NAME = " · ".join(NAMES.values())


def usage_dataset(account_name: str, audio_per_day: float = 12.5, projection_days: int | None = None
                  ) -> dict[str, pd.DataFrame]:
    """One free-plan account (120 audio minutes a month) with three days of February usage, shaped
    like reports/sql/usage_summary; with `projection_days`, a projection for March resting on that
    many days of March."""
    days = [date(2026, 2, 1) + timedelta(days=i) for i in range(3)]
    usage = {"sessions_created": 4, "audio_minutes_processed": audio_per_day, "transcriptions_completed": 3,
             "exports_generated": 1, "api_calls": 20, "share_links_created": 1, "storage_used_mb": 40.0}
    daily = pd.DataFrame([{"account_id": 1, "usage_date": d, **usage} for d in days])
    monthly = pd.DataFrame([{"account_id": 1, "usage_month": date(2026, 2, 1), "transcriptions_failed": 0,
                             "share_links_accessed": 0, "concurrent_sessions_peak": 1,
                             **{k: v * 3 for k, v in usage.items()}, "storage_used_mb": 40.0}])
    limits = {"limit_audio_minutes": 120.0, "limit_sessions": 50.0, "limit_exports": 10.0, "limit_storage_mb": 500.0}
    utilization = pd.DataFrame([{"account_id": 1, **limits,
                                 "audio_minutes_utilization_pct": round(100 * 3 * audio_per_day / 120, 1),
                                 "sessions_utilization_pct": 24.0, "exports_utilization_pct": 30.0,
                                 "storage_utilization_pct": 8.0, "max_utilization_pct": 31.3,
                                 "is_near_limit": False}])
    accounts = pd.DataFrame([{"account_id": 1, "account_name": account_name, "plan_id": "free",
                              "plan_name": "Free", "is_trial": False}])
    columns = ["account_id", "as_of_date", "usage_month", "days_observed", "plan_id", "projected_audio_minutes",
               *limits, "projected_sessions", "projected_exports", "projected_storage_mb"]
    rows = [] if projection_days is None else [{
        "account_id": 1, "as_of_date": date(2026, 3, projection_days), "usage_month": date(2026, 3, 1),
        "days_observed": projection_days, "plan_id": "free", **limits,
        "projected_audio_minutes": 31 * audio_per_day, "projected_sessions": 40.0, "projected_exports": 5.0,
        "projected_storage_mb": 45.0}]
    return {"accounts": accounts, "usage_monthly": monthly, "usage_daily": daily,
            "utilization": utilization, "projections": pd.DataFrame(rows, columns=columns)}


def _to_unicode(font) -> dict[int, str]:
    """Glyph id -> characters, from the font's ToUnicode CMap (bfchar and bfrange entries)."""
    cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
    mapping: dict[int, str] = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
        for source, target in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            mapping[int(source, 16)] = bytes.fromhex(target).decode("utf-16-be")
    for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.S):
        for low, high, target in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            first = bytes.fromhex(target).decode("utf-16-be")
            for offset, gid in enumerate(range(int(low, 16), int(high, 16) + 1)):
                mapping[gid] = first[:-1] + chr(ord(first[-1]) + offset)
    return mapping


def embedded_glyphs(pdf: bytes) -> list[tuple[str, str, int, bool]]:
    """(font name, characters, glyph id, glyph is real) for every glyph every page's fonts map.

    Real: a glyph id other than 0 (.notdef) inside the embedded font, with an outline unless the
    characters are whitespace. Fonts are CIDFontType2/0 with an identity CID-to-glyph map."""
    found = []
    fonts = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            fonts[font["/BaseFont"]] = font
    for name, font in fonts.items():
        descendant = font["/DescendantFonts"][0].get_object()
        assert descendant["/CIDToGIDMap"] == "/Identity" if "/CIDToGIDMap" in descendant else True
        descriptor = descendant["/FontDescriptor"].get_object()
        program = next(descriptor[k] for k in ("/FontFile2", "/FontFile3", "/FontFile") if k in descriptor)
        ttfont = TTFont(io.BytesIO(program.get_object().get_data()))
        order, glyph_set = ttfont.getGlyphOrder(), ttfont.getGlyphSet()
        for gid, characters in _to_unicode(font).items():
            real = 0 < gid < len(order)
            if real and not characters.isspace():
                pen = BoundsPen(glyph_set)
                glyph_set[order[gid]].draw(pen)
                real = pen.bounds is not None
            found.append((str(name), characters, gid, real))
    return found


def mapped_characters(glyphs: list[tuple[str, str, int, bool]]) -> set[str]:
    return {c for _, characters, _, real in glyphs if real for c in characters}


@pytest.fixture(scope="module")
def six_script_pdf() -> bytes:
    spec = load_catalogue()["usage_summary"]
    documents = build_usage_summary(spec, period_for("monthly", "2026-02-01"), usage_dataset(ACCOUNT_NAME))
    assert [d.account_name for d in documents] == [ACCOUNT_NAME]
    return render_pdf(documents[0])


def test_every_character_of_six_scripts_is_a_real_glyph_of_a_project_font(six_script_pdf):
    glyphs = embedded_glyphs(six_script_pdf)
    assert glyphs, "the PDF embeds no font"
    assert [g for g in glyphs if not g[3]] == []  # no .notdef, no glyph past a font's end, no empty outline
    # Every font is one the project ships (reports/fonts.py), not whatever the machine has.
    assert {name.split("+", 1)[1] for name, *_ in glyphs} <= {
        f"{FAMILY_PREFIX}{suffix}".replace(" ", "-") for suffix in
        ["Noto Sans", "Noto Sans Bold", "Noto Sans CJK JP", "Noto Sans CJK JP Bold", "Noto Sans Arabic",
         "Noto Sans Arabic Bold", "Noto Sans Hebrew", "Noto Sans Hebrew Bold"]}
    mapped = mapped_characters(glyphs)
    for script, name in NAMES.items():
        if script != "Arabic":
            missing = {c for c in name if not c.isspace()} - mapped
            assert not missing, f"{script}: {sorted(missing)} have no real glyph in the PDF"
    embedded = {name.split("+", 1)[1] for name, *_ in glyphs}
    arabic = [f for f in font_faces() if f.family.endswith("Arabic")
              and {f.family.replace(" ", "-"), f.family.replace(" ", "-") + "-Bold"} & embedded]
    assert len(arabic) == 1 and set(NAMES["Arabic"].replace(" ", "")) <= characters_of(arabic[0].path)


def characters_by_font(pdf: bytes) -> dict[str, set[str]]:
    by_font: dict[str, set[str]] = {}
    for name, characters, _, real in embedded_glyphs(pdf):
        if real:
            by_font.setdefault(name.split("+", 1)[1], set()).update(characters)
    return by_font


def test_cjk_text_uses_the_regular_and_the_bold_cjk_face(six_script_pdf):
    """The account name is bold in the report's header: the bold CJK face is embedded, not a
    synthetic bold; regular text takes the regular face."""
    cjk = f"{FAMILY_PREFIX}Noto Sans CJK JP".replace(" ", "-")
    assert set("株式会社데이터") <= characters_by_font(six_script_pdf)[f"{cjk}-Bold"]
    regular = characters_by_font(html_to_pdf(f"<p>{NAMES['CJK']}</p>")[0])
    assert set("株式会社데이터") <= regular[cjk] and f"{cjk}-Bold" not in regular


def test_the_check_catches_a_character_no_font_has(caplog):
    """The glyph check is not vacuous: a private-use character comes out as a missing glyph, and
    rendering says which character no report font has."""
    glyphs = embedded_glyphs(html_to_pdf("<p>Acme \ue000 Ltd</p>")[0])
    assert "\ue000" not in mapped_characters(glyphs)
    assert set("AcmeLtd") <= mapped_characters(glyphs)
    assert ".notdef glyph rendered" in caplog.text and "U+E000" in caplog.text  # weasyprint's own warning


def test_only_the_faces_a_text_needs_are_registered():
    """A report without CJK text does not load the 16 MB CJK faces."""
    assert [f.family for f in faces_for("Acme Ltd · 1,234.50")] == [f"{FAMILY_PREFIX}Noto Sans"]
    families = [f.family for f in faces_for(ACCOUNT_NAME)]
    assert families.count(f"{FAMILY_PREFIX}Noto Sans CJK JP") == 2  # regular and bold
    assert {f"{FAMILY_PREFIX}Noto Sans Arabic", f"{FAMILY_PREFIX}Noto Sans Hebrew"} <= set(families)


def test_a_chart_label_gets_its_font_though_only_the_chart_has_it():
    """A chart is an SVG image that the HTML holds base64-encoded: its text still decides which
    faces are registered, so a label in a script no other text of the document uses gets real glyphs."""
    label = "東京"
    document = Document("usage_summary", "Sessions by city", "February 2026", "2026-02-01", None, None,
                        summary=[Metric("Sessions", 3, "integer")],
                        charts=[Chart("Sessions by city", bar_chart([label, "Paris"], [3, 1], "sessions"))])
    html = render_html(document)
    assert label not in html and "<svg" not in html and 'src="data:image/svg+xml;base64,' in html
    assert set(label) <= mapped_characters(embedded_glyphs(render_pdf(document)))
