"""gis/geometry.py: validation with reasons, repair, coercion to the layer's kind, EWKB for COPY."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gis.geometry import check_geometries, closed_lines_to_polygons, describe_problems, invalidity_reason, to_ewkb_hex

BOWTIE = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])  # self-intersects at (5, 5)
SQUARE = shapely.box(0, 0, 10, 10)


def _arr(*geoms):
    return np.array(list(geoms), dtype=object)


def test_invalidity_reason_is_french_with_the_location():
    assert invalidity_reason(BOWTIE) == "auto-intersection en (5, 5)"


def test_valid_polygons_pass_and_become_multipolygons():
    geoms, report = check_geometries(_arr(SQUARE, shapely.MultiPolygon([SQUARE])), "polygon")
    assert report.ok and report.problems == [] and report.repaired == []
    assert [g.geom_type for g in geoms] == ["MultiPolygon", "MultiPolygon"]
    assert geoms[0].area == 100


def test_problems_carry_the_one_based_feature_number_in_order():
    geoms, report = check_geometries(_arr(SQUARE, None, shapely.Polygon(), shapely.Point(1, 1), BOWTIE), "polygon")
    assert not report.ok
    assert report.problems == [(2, "géométrie absente"), (3, "géométrie vide"), (4, "type point au lieu de polygone"),
                               (5, "géométrie invalide : auto-intersection en (5, 5)")]
    assert geoms[0].geom_type == "MultiPolygon"  # the good one is still returned


def test_repair_fixes_a_bowtie_into_two_triangles_and_reports_it():
    geoms, report = check_geometries(_arr(BOWTIE), "polygon", repair=True)
    assert report.ok
    assert report.repaired == [(1, "réparée (auto-intersection en (5, 5))")]
    assert geoms[0].is_valid and geoms[0].geom_type == "MultiPolygon"
    assert geoms[0].area == pytest.approx(50.0)


def test_repair_keeps_only_the_polygonal_part_for_a_polygon_layer():
    spiked = shapely.Polygon([(0, 0), (10, 0), (10, 5), (15, 5), (10, 5), (10, 10), (0, 10), (0, 0)])
    assert shapely.make_valid(spiked).geom_type == "GeometryCollection"  # the square and the spike as a line
    geoms, report = check_geometries(_arr(spiked), "polygon", repair=True)
    assert report.ok and [n for n, _ in report.repaired] == [1]
    assert geoms[0].geom_type == "MultiPolygon" and geoms[0].area == 100


def test_z_is_dropped():
    geoms, _ = check_geometries(_arr(shapely.Point(1, 2, 3)), "point")
    assert not shapely.has_z(geoms[0])


def test_closed_polylines_become_polygons_for_a_polygon_layer():
    ring = shapely.LineString([(0, 0), (4, 0), (4, 4), (0, 4), (0, 0)])
    opened = shapely.LineString([(0, 0), (4, 0), (4, 4)])
    out = closed_lines_to_polygons(_arr(ring, opened))
    assert out[0].geom_type == "Polygon" and out[0].area == 16
    assert out[1].geom_type == "LineString"
    geoms, report = check_geometries(_arr(ring), "polygon")
    assert report.ok and geoms[0].geom_type == "MultiPolygon"


def test_an_open_line_is_the_wrong_kind_for_a_polygon_layer():
    _, report = check_geometries(_arr(shapely.LineString([(0, 0), (1, 1)])), "polygon")
    assert report.problems == [(1, "type linestring au lieu de polygone")]


def test_any_kind_accepts_every_type():
    _, report = check_geometries(_arr(shapely.Point(0, 0), shapely.LineString([(0, 0), (1, 1)]), SQUARE), "any")
    assert report.ok


def test_describe_problems_lists_the_first_ones_and_counts_the_rest():
    problems = [(n, "géométrie vide") for n in range(1, 15)]
    text = describe_problems(problems, limit=2)
    assert text == "entité 1 : géométrie vide; entité 2 : géométrie vide ; et 12 autre(s)"
    assert describe_problems(problems[:1]) == "entité 1 : géométrie vide"


def test_ewkb_hex_carries_the_srid_and_keeps_missing_geometries_null():
    out = to_ewkb_hex(_arr(shapely.Point(1, 2), None), 26191)
    assert out[1] is None
    back = shapely.from_wkb(bytes.fromhex(out[0]))
    assert shapely.get_srid(back) == 26191 and (back.x, back.y) == (1, 2)
