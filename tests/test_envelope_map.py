"""GET /carte/enveloppe, the map's 3D envelope, on the hand-built world (figures in tests/test_notes_envelope.py):
features in CRS84 raised to the zone's height, the legend in French and Arabic, errors as JSON in the page's
language; and the panel's « Voir en 3D » button that asks for it."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import shape

from app import create_app
from gis.crs import parse_crs, reproject
from tests import instruction_world as world
from tests.helpers import X0, Y0, app_settings


@pytest.fixture
def client(db_url, conn):
    world.build(conn)
    return create_app(app_settings(db_url, pool_min=1, pool_max=2)).test_client()


def test_the_buildable_footprint_in_crs84_raised_to_the_zone_height(client):
    r = client.get("/carte/enveloppe?land=TF%2010/T&date=2015-01-01&lang=fr")
    assert r.status_code == 200 and r.mimetype == "application/json" and r.headers["Cache-Control"] == "no-store"
    body = r.get_json()
    assert body["schema"] == "urbasig/envelope/1" and body["buildable"] is True
    (feature,) = body["features"]["features"]
    assert feature["properties"] == {"zone": "V2", "height_m": 11.5, "height_from": "height_max_m",
                                     "footprint_max_m2": 480.0, "floor_area_max_m2": 960.0}
    # the footprint back in EPSG:26191: x 8–32 × y 204–236 of the world (24 × 32 = 768 m²)
    back = reproject(np.array([shape(feature["geometry"])], dtype=object), parse_crs("OGC:CRS84"), parse_crs(26191))[0]
    assert back.area == pytest.approx(768, abs=0.5)
    assert back.bounds == pytest.approx((X0 + 8, Y0 + 204, X0 + 32, Y0 + 236), abs=0.01)
    w, s, e, n = body["bbox"]
    assert -8 < w < e < -7 and 33 < s < n < 34  # Casablanca, lon/lat
    legend = body["legend"]
    assert legend["title"] == "Enveloppe constructible en 3D (indicative)"
    assert legend["lines"][0].startswith("Enveloppe indicative, zone V2 : emprise au sol max. 480")
    assert legend["heights"] == ["Zone V2 : volume élevé à 11,5\u00a0m, la hauteur maximale du règlement."]
    assert legend["mention"].startswith("Indicatif")


def test_arabic_legend(client):
    body = client.get("/carte/enveloppe?land=TF%2010/T&date=2015-01-01&lang=ar").get_json()
    assert body["legend"]["title"] == "الغلاف القابل للبناء ثلاثي الأبعاد (إرشادي)"
    assert body["legend"]["lines"][0].startswith("الغلاف الإرشادي، المنطقة") and "يحدها COS" in body["legend"]["lines"][0]
    assert "11,5\u00a0m" in body["legend"]["heights"][0]


def test_a_land_with_nothing_to_raise_says_why(client):
    body = client.get("/carte/enveloppe?land=TF%205/T&date=2015-01-01").get_json()
    assert body["buildable"] is False and body["features"]["features"] == [] and body["bbox"] is None
    assert body["legend"]["lines"][0].startswith("Terrain non constructible en l'état : aucune zone")


@pytest.mark.parametrize(("query", "status", "key"), [
    ("land=TF%20999/T", 404, "panel.error.unknown_title"),
    ("", 400, "panel.error.no_land"),
    ("land=TF%2010/T&date=hier", 400, "panel.error.bad_date"),
    ("lon=abc&lat=1", 400, "panel.error.bad_point"),
])
def test_errors_are_json_in_the_page_language(client, query, status, key):
    r = client.get(f"/carte/enveloppe?{query}&lang=ar")
    assert r.status_code == status and r.mimetype == "application/json"
    body = r.get_json()
    assert body["code"] == key and any("\u0600" <= ch <= "\u06ff" for ch in body["message"])


def test_the_draft_in_public_inquiry_gives_its_own_envelope(client):
    # TF 4/T (400–440 × 100–150, on no road) on 2019-06-01: zone C in force (15 m minimum frontage: not
    # buildable), zone B in the draft (no minimum frontage; R+8, 30 m)
    now = client.get("/carte/enveloppe?land=TF%204/T&date=2019-06-01").get_json()
    draft = client.get("/carte/enveloppe?land=TF%204/T&date=2019-06-01&projet=1").get_json()
    assert now["features"]["features"] == [] and "façade minimale" in now["legend"]["lines"][0]
    assert [f["properties"]["height_m"] for f in draft["features"]["features"]] == [30.0]


def test_the_panel_fragment_has_the_3d_button_and_the_page_has_none(client):
    fragment = client.get("/carte/terrain?land=TF%2010/T&date=2015-01-01", headers={"X-Requested-With": "fetch"})
    html = fragment.get_data(as_text=True)
    assert 'class="land-panel-button land-panel-3d" data-url="/carte/enveloppe?land=TF+10%2FT&amp;date=2015-01-01' in html
    assert "Voir en 3D" in html and 'id="land-panel-3d"' in html
    page = client.get("/carte/terrain?land=TF%2010/T&date=2015-01-01").get_data(as_text=True)
    assert "land-panel-3d" not in page  # no map on the shared link's page
