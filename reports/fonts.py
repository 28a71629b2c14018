"""The fonts a PDF is set in: Noto, shipped by Python packages the project depends on.

An account can be named in any script ("Meridian Analytics 株式会社", "ООО Ромашка", "شركة"),
and a machine's own fonts rarely cover them all (a bare Debian has DejaVu only: CJK shows as
boxes). So the report never relies on fontconfig knowing a font: each face is registered with
weasyprint through an `@font-face` rule pointing at the package's file, and the CSS font-family
stack (`FONT_STACK`) lists the families in fallback order, so Pango takes each character from
the first family that has it.

- `manimgx-fonts`: Noto Sans (Latin, Greek, Cyrillic) and Noto Sans for the other scripts
  (Arabic, Hebrew, Thai, Devanagari...), variable weight.
- `noto-cjk-sans-jp-regular`/`-bold`: Noto Sans CJK JP, static OpenType, which covers Chinese,
  Japanese and Korean. Static, not variable: weasyprint turns a variable font into a static one
  with fontTools, which takes ~10 s per document for a CJK font.

All are SIL Open Font License 1.1. weasyprint copies every registered file into a temporary
folder per document, so only the faces a document's text needs are registered
(`font_face_css`): the 16 MB CJK faces cost nothing in a report without CJK text.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fontTools.ttLib import TTFont

FAMILY_PREFIX = "Report "  # our registered families never collide with a system font's name


@dataclass(frozen=True)
class FontFace:
    family: str  # CSS family name, FAMILY_PREFIX + the font's own family name
    path: Path
    weight: str | None = None  # None: a variable font, which serves every weight

    @property
    def css(self) -> str:
        weight = f" font-weight: {self.weight};" if self.weight else ""
        return f'@font-face {{ font-family: "{self.family}"; src: url("{self.path.as_uri()}");{weight} }}'


def _package_file(package: str, name: str) -> Path:
    try:
        path = Path(str(resources.files(package) / name))
    except ModuleNotFoundError as error:
        raise RuntimeError(f"The report fonts need the Python package {package!r} "
                           f"(a dependency in pyproject.toml): reinstall the project") from error
    if not path.is_file():
        raise RuntimeError(f"Font file {name!r} is missing from the package {package!r} ({path})")
    return path


# Fallback order: Latin/Greek/Cyrillic first, then the other scripts, then CJK.
_NOTO_SCRIPTS = ("Arabic", "Hebrew", "Armenian", "Georgian", "Thai", "Lao", "Khmer", "Myanmar",
                 "Devanagari", "Bengali", "Gujarati", "Gurmukhi", "Oriya", "Tamil", "Telugu",
                 "Kannada", "Malayalam", "Sinhala", "Ethiopic", "Symbols")


@functools.cache
def font_faces() -> tuple[FontFace, ...]:
    """Every face a report may use, in the font stack's fallback order."""
    faces = [FontFace(f"{FAMILY_PREFIX}Noto Sans", _package_file("manimgx_fonts", "NotoSans[wght].ttf"))]
    faces += [FontFace(f"{FAMILY_PREFIX}Noto Sans {script}",
                       _package_file("manimgx_fonts", f"NotoSans{script}[wght].ttf"))
              for script in _NOTO_SCRIPTS]
    cjk = f"{FAMILY_PREFIX}Noto Sans CJK JP"
    faces += [FontFace(cjk, _package_file("noto_cjk_sans_jp_regular", "NotoSansCJKjp-Regular.otf"), "normal"),
              FontFace(cjk, _package_file("noto_cjk_sans_jp_bold", "NotoSansCJKjp-Bold.otf"), "bold")]
    return tuple(faces)


FONT_STACK = ", ".join(
    [f'"{FAMILY_PREFIX}Noto Sans"'] + [f'"{FAMILY_PREFIX}Noto Sans {s}"' for s in _NOTO_SCRIPTS]
    + [f'"{FAMILY_PREFIX}Noto Sans CJK JP"', "sans-serif"])


@functools.cache
def characters_of(path: Path) -> frozenset[str]:
    """The characters a font file has a glyph for (its best Unicode cmap)."""
    return frozenset(chr(code) for code in TTFont(path, lazy=True).getBestCmap())


def faces_for(text: str) -> list[FontFace]:
    """The faces `text` needs: the base family always, every other family that has a character of
    the text the families before it lack (so fallback order decides, as it does in Pango)."""
    faces = font_faces()
    uncovered = set(text) - characters_of(faces[0].path)
    needed = [face for face in faces if face.family == faces[0].family]
    for family in dict.fromkeys(face.family for face in faces[1:]):
        family_faces = [face for face in faces if face.family == family]
        covered = uncovered & characters_of(family_faces[0].path)
        if covered:
            needed += family_faces
            uncovered -= covered
    return needed


def font_face_css(text: str) -> str:
    """`@font-face` rules for the faces `text` needs."""
    return "\n".join(face.css for face in faces_for(text))


def font_file_urls() -> frozenset[str]:
    """The `file:` URLs of every face: the only local files report rendering may read."""
    return frozenset(face.path.as_uri() for face in font_faces())
