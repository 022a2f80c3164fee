"""The 3D view of the buildable envelope on the public map: click a parcel, « Voir en 3D », the fill-extrusion layer
holds the land's footprint raised to the zone's height and the camera is tilted, the legend gives the figures;
then leave 3D (the button, or closing the panel). French on a desktop (docs/map-3d.png), Arabic on a phone.

Every test fails on a request off 127.0.0.1 and on a console error (tests/browser/conftest.py).
"""

from __future__ import annotations

import json

import psycopg
import pytest

from api.i18n import translate
from tests.browser.conftest import shoot, wait_until

READY = "window.__urbasigMap !== undefined && window.__urbasigMap.loaded() && window.__urbasigMap.areTilesLoaded()"
RAISED = ("(() => { const m = window.__urbasigMap; const layer = m.getLayer('envelope-3d');"
          " return layer && layer.type === 'fill-extrusion' && m.querySourceFeatures('envelope-3d').length > 0"
          " && !m.isMoving() && m.getPitch() > 50; })()")
FLAT = ("(() => { const m = window.__urbasigMap; return !m.getLayer('envelope-3d') && !m.getSource('envelope-3d')"
        " && !m.isMoving() && m.getPitch() === 0; })()")


@pytest.fixture(scope="module")
def buildable(sample_url):
    """A large titled parcel of the sample whose envelope is buildable (computed here, never hard-coded): its
    reference, a point inside it (lon/lat), its first part's zone and height."""
    from instruction.envelope import envelope
    from instruction.land import LandRequest

    with psycopg.connect(sample_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT land_ref, ST_X(c), ST_Y(c) FROM parcels, LATERAL ST_Transform(ST_PointOnSurface(geom), 4326) c "
            "WHERE ref_kind = 'TF' ORDER BY area_m2 DESC LIMIT 40").fetchall()
        for ref, lon, lat in rows:
            result = envelope(conn, LandRequest(refs=(ref,)))
            parts = [p for p in result["parts"] if not p["marginal"] and p["buildable_area_m2"] > 50
                     and p["height"]["max_m"]]
            if result["buildable"] and parts:
                return ref, lon, lat, parts[0]["zone"]["code"], parts[0]["height"]["max_m"]
    pytest.fail("aucun terrain constructible parmi les 40 plus grands titres de l'échantillon")


def _open_land(page, site, land, lon, lat, lang="fr"):
    page.goto(f"{site}/?lang={lang}#map=18/{lat}/{lon}")
    wait_until(page, READY)
    x, y = page.evaluate(f"(() => {{ const p = window.__urbasigMap.project([{lon}, {lat}]); return [p.x, p.y]; }})()")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)  # a person's click on the parcel
    wait_until(page, f"document.querySelector('#panel section.land-panel')?.dataset.land === {json.dumps(land)}")


def test_view_in_3d_then_leave(page, site, buildable):
    land, lon, lat, zone, height = buildable
    _open_land(page, site, land, lon, lat)
    button = page.locator("#panel button.land-panel-3d")
    assert button.inner_text() == translate("panel.view_3d", "fr") and button.get_attribute("aria-pressed") == "false"
    button.click()
    wait_until(page, RAISED)
    layer = page.evaluate("window.__urbasigMap.getStyle().layers.find(l => l.id === 'envelope-3d')")
    assert layer["paint"]["fill-extrusion-height"] == ["get", "height_m"]
    heights = page.evaluate("window.__urbasigMap.querySourceFeatures('envelope-3d').map(f => f.properties.height_m)")
    assert height in heights
    legend = page.inner_text("#land-panel-3d")
    assert translate("panel.3d.title", "fr") in legend and f"Enveloppe indicative, zone {zone}" in legend
    assert "surface de plancher max." in legend and "Indicatif" in legend
    assert button.get_attribute("aria-pressed") == "true" and button.inner_text() == translate("panel.leave_3d", "fr")
    page.wait_for_timeout(300)  # the extrusion drawn after the camera stopped
    shoot(page, "map-3d.png")
    button.click()
    wait_until(page, FLAT)
    assert page.is_hidden("#land-panel-3d") and button.inner_text() == translate("panel.view_3d", "fr")


def test_another_land_leaves_3d_and_is_flown_to(page, site, buildable, sample_url):
    land, lon, lat, _, _ = buildable
    with psycopg.connect(sample_url) as conn:
        other = conn.execute("SELECT land_ref FROM parcels WHERE ref_kind = 'TF' AND land_ref <> %s ORDER BY id "
                             "LIMIT 1", (land,)).fetchone()[0]
    _open_land(page, site, land, lon, lat)
    page.click("#panel button.land-panel-3d")
    wait_until(page, RAISED)
    page.evaluate("(land) => document.dispatchEvent(new CustomEvent('urbasig:select', {detail: {land}}))", other)
    wait_until(page, f"document.querySelector('#panel section.land-panel')?.dataset.land === {json.dumps(other)}")
    wait_until(page, FLAT)
    w, s, e, n = (float(v) for v in page.get_attribute("#panel section.land-panel", "data-bbox").split(","))
    assert page.evaluate(f"window.__urbasigMap.getBounds().contains([{(w + e) / 2}, {(s + n) / 2}])")


def test_arabic_phone_3d_then_close_the_panel(phone, site, buildable):
    land, lon, lat, zone, _ = buildable
    _open_land(phone, site, land, lon, lat, lang="ar")
    assert phone.evaluate("document.documentElement.dir") == "rtl"
    button = phone.locator("#panel button.land-panel-3d")
    assert button.inner_text() == translate("panel.view_3d", "ar")
    button.click()
    wait_until(phone, RAISED)
    legend = phone.inner_text("#land-panel-3d")
    assert translate("panel.3d.title", "ar") in legend and "الغلاف الإرشادي" in legend and zone in legend
    assert phone.evaluate("getComputedStyle(document.querySelector('#land-panel-3d')).direction") == "rtl"
    # the raised land shows above the bottom sheet, not under it
    sheet_top = phone.locator("#panel").bounding_box()["y"]
    y = phone.evaluate(f"window.__urbasigMap.project([{lon}, {lat}]).y") + phone.locator("#map").bounding_box()["y"]
    assert 0 < y < sheet_top
    shoot(phone, "map-3d-ar-phone.png")
    phone.click("#panel .land-panel-close")
    wait_until(phone, FLAT)


def test_the_note_page_shows_the_envelope_drawing_and_line(page, site, buildable):
    """The indicative note's page: the envelope's drawing (an SVG data URI, allowed by the page's CSP) is loaded and
    its lines follow; the section is docs/note-envelope.png."""
    land, _, _, zone, _ = buildable
    page.goto(f"{site}/notes/indicative?land={land}&format=html")
    section = page.locator("section.envelope")
    section.scroll_into_view_if_needed()
    wait_until(page, "document.querySelector('section.envelope img').complete")
    assert page.evaluate("document.querySelector('section.envelope img').naturalWidth") == 480
    assert f"Enveloppe indicative, zone {zone}" in section.inner_text()
    shoot(page, "note-envelope.png", clip=section.bounding_box())
