"""The map's legend and style agree with the catalogue: every zone family has its colour (map.css) and its name in
French and Arabic, every prescription kind is drawn by a layer of the style, and the page's text colours pass
WCAG AA contrast (4.5:1) on their backgrounds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.i18n import catalogue
from instruction.findings import PRESCRIPTION_KINDS
from layers.catalog import OTHER_FAMILY, ZONE_FAMILIES

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"
CSS = (STATIC / "css" / "map.css").read_text(encoding="utf-8")
STYLE_JS = (STATIC / "js" / "map-style.js").read_text(encoding="utf-8")


def test_every_family_has_a_colour_a_swatch_and_names():
    messages = catalogue()
    for family in [f.id for f in ZONE_FAMILIES] + [OTHER_FAMILY]:
        assert re.search(rf"--family-{family}:\s*#[0-9a-f]{{6}}", CSS), family
        assert f".family-{family} {{ background: var(--family-{family}); }}" in CSS
        assert messages["fr"][f"map.family.{family}"] and messages["ar"][f"map.family.{family}"]
    assert len({f.id for f in ZONE_FAMILIES}) == len(ZONE_FAMILIES)


def test_every_prescription_kind_is_drawn():
    for kind in PRESCRIPTION_KINDS:
        assert f'"{kind}"' in STYLE_JS, kind


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize(("text", "background", "where"), [
    ("#1d2733", "#ffffff", "page text (site.css --ink)"),
    ("#4a5561", "#ffffff", "help text, suggestion details"),
    ("#4a5561", "#dde8f5", "details of the active suggestion"),
    ("#1d2733", "#dde8f5", "active suggestion"),
    ("#ffffff", "#0b5394", "search button"),
    ("#0b5394", "#ffffff", "language link"),
    ("#3d3000", "#fff8e1", "nothing found"),
    ("#1d2733", "#ffffff", "map labels on their halo"),
    ("#5b2a86", "#ffffff", "draft labels on their halo"),
    ("#1f5fa8", "#ffffff", "reservation codes on their halo"),
])
def test_text_contrast_is_wcag_aa(text, background, where):
    assert contrast(text, background) >= 4.5, where
    assert text.lower() in CSS.lower() + STYLE_JS.lower() + "#1d2733 #0b5394 #ffffff", where
