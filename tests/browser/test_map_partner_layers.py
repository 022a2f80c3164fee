"""Partner layers on the public map, in headless Chromium (issue 16): the switcher lists the public ones (not a
layer kept to its organisation), off at first; toggling one draws it from its own tiles; a click on a feature shows
its declared attributes, labelled, and the organisation. Over the shared sample territory, where the test writes two
partner layers and removes them after; it fails on a request off 127.0.0.1 and on a console error.
"""

from __future__ import annotations

import psycopg
import pytest

from api.i18n import translate
from tests.browser.conftest import wait_until
from tests.partner_world import add_partner_layer, remove_partner_layer, square

PUBLIC, HIDDEN = "jardins-essai", "projets-essai"
FILL = f"partenaire-{PUBLIC}-fill"


@pytest.fixture
def partner_layers(sample_url):
    """A public polygon layer of the « Commune d'Anfa » over the sample's largest parcel, and one of its layers kept
    to the organisation; the centre (lon, lat) of the first."""
    with psycopg.connect(sample_url) as conn:
        lon, lat = conn.execute("SELECT ST_X(c), ST_Y(c) FROM parcels, LATERAL ST_Transform(ST_PointOnSurface(geom), "
                                "4326) c ORDER BY area_m2 DESC LIMIT 1").fetchone()
        attributes = [{"name": "nom", "type": "text", "label": "Nom du jardin"},
                      {"name": "surface_ha", "type": "float", "label": "Surface (ha)"}]
        add_partner_layer(conn, PUBLIC, "Commune d'Anfa", "public", "polygon", attributes,
                          [({"nom": "Jardin d'essai", "surface_ha": 2.5}, square(lon - 0.0015, lat - 0.0015, 0.003))],
                          "Jardins publics", "الحدائق العمومية")
        add_partner_layer(conn, HIDDEN, "Commune d'Anfa", "owner", "point", [], [({}, f"POINT({lon} {lat})")])
        conn.commit()
    try:
        yield lon, lat
    finally:
        with psycopg.connect(sample_url) as conn:
            remove_partner_layer(conn, PUBLIC)
            remove_partner_layer(conn, HIDDEN)
            conn.commit()


def test_the_switcher_shows_a_public_partner_layer_that_draws_and_tells_its_attributes(page, site, partner_layers):
    lon, lat = partner_layers
    asked = []
    page.on("request", lambda r: asked.append(r.url) if f"/collections/partenaire-{PUBLIC}/tiles/" in r.url else None)
    page.goto(f"{site}/#map=16/{lat}/{lon}")
    wait_until(page, f"window.__urbasigMap !== undefined && window.__urbasigMap.getLayer('{FILL}') !== undefined")
    box = page.locator(f"#layer-partenaire-{PUBLIC}")
    assert page.locator(f"label[for=layer-partenaire-{PUBLIC}]").inner_text().strip() == "Jardins publics"
    assert translate("map.partner.source", "fr", organisation="Commune d'Anfa") in \
        page.locator(f"#layer-partenaire-{PUBLIC}-source").inner_text()
    assert page.locator(f"#layer-partenaire-{HIDDEN}").count() == 0  # kept to its organisation: not for the public
    assert not box.is_checked() and not asked  # off at first: no tile asked
    assert page.evaluate(f"window.__urbasigMap.getLayoutProperty('{FILL}', 'visibility')") == "none"
    box.check()
    drawn = wait_until(page, f"window.__urbasigMap.queryRenderedFeatures({{layers: ['{FILL}']}})"
                             ".map(f => f.properties.nom)")
    assert set(drawn) == {"Jardin d'essai"} and asked
    box.uncheck()
    assert page.evaluate(f"window.__urbasigMap.getLayoutProperty('{FILL}', 'visibility')") == "none"
    wait_until(page, f"window.__urbasigMap.queryRenderedFeatures({{layers: ['{FILL}']}}).length === 0")  # not drawn
    box.check()
    wait_until(page, f"window.__urbasigMap.queryRenderedFeatures({{layers: ['{FILL}']}}).length")
    x, y = page.evaluate(f"(() => {{ const p = window.__urbasigMap.project([{lon}, {lat}]); "
                         "const r = window.__urbasigMap.getCanvas().getBoundingClientRect(); "
                         "return [r.left + p.x, r.top + p.y]; })()")
    page.mouse.click(x, y)
    popup = page.locator(".partner-popup")
    popup.wait_for()
    assert popup.locator("dt").all_inner_texts() == ["Nom du jardin", "Surface (ha)"]
    assert popup.locator("dd").all_inner_texts() == ["Jardin d'essai", "2,5"]  # a number, written in French
    assert "Commune d'Anfa" in popup.locator(".source").inner_text()
