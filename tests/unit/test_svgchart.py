"""The server-side charts (gis/svgchart.py): round axis steps, every text escaped, the figures on the marks."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gis.svgchart import Chart, bars, line, nice_step

SVG = "{http://www.w3.org/2000/svg}"
CHART = Chart("c", "Demandes <par> jour", "Du 1er au 3 & fin", "demandes", "Aucune donnée")


def test_axis_steps_are_round_and_whole_for_counts():
    assert [nice_step(v) for v in (2, 10, 50, 0.1, 144)] == [0.5, 2.5, 20, 0.025, 50]
    assert [nice_step(v, integers=True) for v in (2, 3, 10, 50)] == [1, 1, 5, 20]
    assert nice_step(0) == 1.0


def test_bars_carry_their_figures_and_escape_every_text():
    svg = bars(CHART, [("1/11", 0), ("2/11", 2), ("<3/11>", None)], lambda v: f"{v:g}", integers=True)
    root = ET.fromstring(svg)  # well-formed XML: every text escaped
    assert root.get("role") == "img" and root.find(f"{SVG}title").text == "Demandes <par> jour"
    assert [(r.get("data-label"), r.get("data-value")) for r in root.iter(f"{SVG}rect")] == [("1/11", "0"), ("2/11", "2")]
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "chart-tick"]
    assert ticks == ["0", "1", "2"]
    assert "<3/11>" in ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_an_empty_chart_says_so_and_a_line_breaks_on_a_gap():
    assert "Aucune donnée" in bars(CHART, [("a", None)], str) and "Aucune donnée" in line(CHART, [], str)
    root = ET.fromstring(line(CHART, [("a", 1), ("b", 2), ("c", None), ("d", 3), ("e", 4)], str))
    assert len(list(root.iter(f"{SVG}polyline"))) == 2 and len(list(root.iter(f"{SVG}circle"))) == 4
