"""gis/crs.py: CRS parsing, cached transformers in x/y order, reprojection and the extent check."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gis.crs import STORAGE_SRID, check_extent, crs_label, parse_crs, reproject, srid_of, transformer
from gis.errors import CRSError

# Casablanca, Place Mohammed V, in CRS84 and in Merchich / Nord Maroc (pyproj's own figures, rounded)
LON, LAT = -7.6187, 33.5928


@pytest.mark.parametrize("text", [26191, "26191", " EPSG:26191 ", "epsg:26191",
                                  "http://www.opengis.net/def/crs/EPSG/0/26191", "urn:ogc:def:crs:EPSG::26191"])
def test_every_spelling_of_an_epsg_code_gives_the_same_crs(text):
    crs = parse_crs(text)
    assert srid_of(crs) == 26191
    assert crs == parse_crs("EPSG:26191")


@pytest.mark.parametrize("text", ["CRS84", "OGC:CRS84", "http://www.opengis.net/def/crs/OGC/1.3/CRS84"])
def test_crs84_spellings_map_to_srid_4326(text):
    crs = parse_crs(text)
    assert crs.is_geographic
    assert srid_of(crs) == 4326


def test_unknown_crs_is_a_crs_error_with_examples():
    with pytest.raises(CRSError) as err:
        parse_crs("EPSG:999999")
    assert "EPSG:999999" in err.value.message and "EPSG:26191" in err.value.message
    assert err.value.status == 400


def test_label_names_code_and_crs():
    assert crs_label(parse_crs(26191)) == "EPSG:26191 (Merchich / Nord Maroc)"


def test_transformer_is_cached_and_always_lon_lat():
    a = transformer(parse_crs(4326), parse_crs(STORAGE_SRID))
    assert a is transformer(parse_crs("EPSG:4326"), parse_crs(26191))
    x, y = a.transform(LON, LAT)  # lon first although EPSG:4326 declares lat/lon
    assert 250_000 < x < 350_000 and 300_000 < y < 400_000


def test_reproject_round_trip_within_a_centimetre():
    point = np.array([shapely.Point(LON, LAT)], dtype=object)
    there = reproject(point, parse_crs("CRS84"), parse_crs(26191))
    back = reproject(there, parse_crs(26191), parse_crs("CRS84"))
    assert there[0].x != pytest.approx(LON)
    assert back[0].x == pytest.approx(LON, abs=1e-7) and back[0].y == pytest.approx(LAT, abs=1e-7)


def test_reproject_to_the_same_crs_returns_the_input():
    geoms = np.array([shapely.Point(1, 2)], dtype=object)
    assert reproject(geoms, parse_crs(26191), parse_crs("EPSG:26191")) is geoms


def test_extent_accepts_casablanca_in_26191():
    check_extent((295_000.0, 332_000.0, 296_000.0, 333_000.0), parse_crs(26191))  # no error


def test_degrees_labelled_26191_are_refused_with_a_hint():
    with pytest.raises(CRSError) as err:
        check_extent((LON, LAT, LON + 0.01, LAT + 0.01), parse_crs(26191))
    assert "ressemblent à des degrés" in err.value.message
    assert "--crs" in err.value.message


def test_metres_labelled_4326_are_refused_without_the_degrees_hint():
    with pytest.raises(CRSError) as err:
        check_extent((295_000.0, 332_000.0, 296_000.0, 333_000.0), parse_crs(4326))
    assert "degrés" not in err.value.message


def test_empty_bounds_are_not_checked():
    check_extent((np.nan, np.nan, np.nan, np.nan), parse_crs(26191))  # an empty layer has NaN bounds
