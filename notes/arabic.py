"""Arabic in the PDF notes: the embedded font, letters joined (shaped), lines set right to left.

The font is Noto Sans Arabic, the one the web pages use, from node_modules/ (@fontsource/noto-sans-arabic,
pinned by package-lock.json and installed by the project's set-up, `npm ci`): its Arabic subset merged with
Noto Sans Latin (@fontsource/noto-sans) into one TrueType font (fontTools), so the titles (« TF 56883/C »),
digits, « m² » and « % » of an Arabic line are in the same embedded font. The merge takes about a second per
weight: it is kept under var/fonts/ (named by the sources' digest: a new font version makes a new file), or
made in memory by each process when that folder cannot be written. A deployment that prefers another font
names a TrueType file by URBASIG_PDF_ARABIC_FONT (and URBASIG_PDF_ARABIC_FONT_BOLD); a missing font is a clear
error (503, « police-arabe-absente »), never a PDF of empty boxes.

Shaping is arabic-reshaper (contextual forms and lam-alef ligatures, as Unicode presentation forms), the
order python-bidi's Unicode bidirectional algorithm (with mirrored brackets): a paragraph is wrapped into
lines in logical order first, then each line is reordered for display, so a long text reads right.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import arabic_reshaper
from bidi.algorithm import get_display
from reportlab.lib import colors
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable

from gis.errors import ConfigError

REGULAR = "NotoSansArabic-urbasig"
BOLD = "NotoSansArabic-urbasig-Bold"
_SOURCES = {  # weight: (Arabic subset, Latin subset) inside node_modules/@fontsource
    400: ("noto-sans-arabic/files/noto-sans-arabic-arabic-400-normal.woff",
          "noto-sans/files/noto-sans-latin-400-normal.woff"),
    700: ("noto-sans-arabic/files/noto-sans-arabic-arabic-700-normal.woff",
          "noto-sans/files/noto-sans-latin-700-normal.woff"),
}
_RESHAPER = arabic_reshaper.ArabicReshaper({"delete_harakat": False, "support_ligatures": True})


class FontMissing(ConfigError):
    """The Arabic font of the PDF notes cannot be found (or is not TrueType)."""

    status = 503
    code = "police-arabe-absente"


@dataclass(frozen=True)
class FontFiles:
    """Where the Arabic font comes from: explicit TrueType files, else node_modules/@fontsource."""

    node_modules: Path
    regular: Path | None = None
    bold: Path | None = None
    cache_dir: Path | None = None  # where merged fonts are kept (var/fonts)


def _sources(node_modules: Path, weight: int) -> list[Path]:
    paths = [node_modules / "@fontsource" / rel for rel in _SOURCES[weight]]
    for path in paths:
        if not path.is_file():
            raise FontMissing(f"police arabe des notes introuvable : {path} (installez les bibliothèques web avec "
                              "« make assets » (npm ci), ou nommez un fichier TrueType par URBASIG_PDF_ARABIC_FONT)")
    return paths


def _cached_merge(node_modules: Path, weight: int, cache_dir: Path | None) -> bytes:
    """The merged font, from var/fonts when it was made before with the same sources."""
    paths = _sources(node_modules, weight)
    if cache_dir is None:
        return _merged(paths)
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()[:16]
    cached = cache_dir / f"noto-sans-arabic-latin-{weight}-{digest}.ttf"
    if cached.is_file():
        return cached.read_bytes()
    data = _merged(paths)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(data)
        os.replace(partial, cached)  # atomic: another worker never reads half a font
    except OSError:
        pass  # a read-only deployment: the font is made in memory by each process
    return data


def _merged(paths: list[Path]) -> bytes:
    """Noto Sans Arabic (Arabic subset) and Noto Sans (Latin subset) of one weight, as one TrueType font."""
    from fontTools.merge import Merger
    from fontTools.ttLib import TTFont as FontFile

    parts = []
    for path in paths:
        font = FontFile(str(path))
        font.flavor = None  # WOFF → plain TrueType
        out = io.BytesIO()
        font.save(out)
        out.seek(0)
        parts.append(out)
    quiet = logging.getLogger("fontTools.merge")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # « Dropped mapping … U+00A0 »: both subsets have the no-break space
    try:
        merged = Merger().merge(parts)
    finally:
        quiet.setLevel(level)
    out = io.BytesIO()
    merged.save(out)
    return out.getvalue()


def _font_bytes(files: FontFiles, weight: int) -> bytes:
    explicit = files.bold if weight == 700 else files.regular
    if explicit is None and weight == 700 and files.regular is not None:
        explicit = files.regular  # one explicit file serves both weights
    if explicit is not None:
        if not explicit.is_file():
            raise FontMissing(f"police arabe des notes introuvable : {explicit} (URBASIG_PDF_ARABIC_FONT)")
        return explicit.read_bytes()
    return _cached_merge(files.node_modules, weight, files.cache_dir)


@lru_cache(maxsize=4)
def register(files: FontFiles) -> tuple[str, str]:
    """Register the regular and bold Arabic fonts with reportlab once per process; their names."""
    for name, weight in ((REGULAR, 400), (BOLD, 700)):
        try:
            pdfmetrics.registerFont(TTFont(name, io.BytesIO(_font_bytes(files, weight))))
        except FontMissing:
            raise
        except Exception as exc:  # reportlab's TTFError and fontTools' errors: not a usable TrueType font
            raise FontMissing(f"police arabe des notes illisible ({type(exc).__name__}: {exc}) : il faut un fichier "
                              "TrueType (URBASIG_PDF_ARABIC_FONT)") from exc
    return REGULAR, BOLD


_CONTROLS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def visual(text: str) -> str:
    """A line of logical text as it is drawn left to right: letters joined, runs in display order."""
    return get_display(_RESHAPER.reshape(text), base_dir="R").translate(_CONTROLS)


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Break logical text into lines that fit `width` (measured shaped), each still in logical order."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and pdfmetrics.stringWidth(_RESHAPER.reshape(candidate), font, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    return lines


class RtlParagraph(Flowable):
    """A right-to-left paragraph: wrapped in logical order, each line shaped and drawn right-aligned."""

    def __init__(self, text: str, font: str, size: float = 8.5, leading: float | None = None, indent: float = 0,
                 color: colors.Color = colors.black, background: colors.Color | None = None, padding: float = 0,
                 align: str = "right"):
        super().__init__()
        self.text, self.font, self.size = text, font, size
        self.leading = leading or size * 1.3
        self.indent, self.color, self.background, self.padding, self.align = indent, color, background, padding, align
        self.lines: list[str] = []

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        """Lay the lines out for the width the frame or cell gives."""
        self.width = available_width
        inner = available_width - self.indent - 2 * self.padding
        self.lines = [visual(line) for line in wrap(self.text, self.font, self.size, max(inner, self.size * 4))]
        self.height = len(self.lines) * self.leading + 2 * self.padding
        return self.width, self.height

    def draw(self) -> None:
        """Draw each line from the right edge (minus the indent), top to bottom."""
        canvas = self.canv
        if self.background is not None:
            canvas.setFillColor(self.background)
            canvas.rect(0, 0, self.width, self.height, stroke=0, fill=1)
        canvas.setFillColor(self.color)
        canvas.setFont(self.font, self.size)
        right = self.width - self.indent - self.padding
        y = self.height - self.padding - self.size
        for line in self.lines:
            if self.align == "center":
                canvas.drawCentredString((right + self.padding) / 2, y, line)
            else:
                canvas.drawRightString(right, y, line)
            y -= self.leading
