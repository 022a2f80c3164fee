"""The plan impact layer on the public map, in headless Chromium: the « Impact du projet » toggle beside the draft
in public inquiry, its tiles and legend, and the panel's line for an impacted parcel, in French and Arabic.

Over its own copy of the sample territory, where the plan impact of the first arrondissement's revision (in public
inquiry) was computed and published by instruction/impact.py; every test fails on a request off 127.0.0.1 and on a
console error (tests/browser/conftest.py).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from api.i18n import translate
from tests.browser.conftest import shoot, wait_until
from tests.helpers import SAMPLE_PARCELS, SAMPLE_SEED, app_settings, free_port, sample_database, serve

READY = "window.__urbasigMap !== undefined && window.__urbasigMap.loaded() && window.__urbasigMap.areTilesLoaded()"
CHANGES = ("gain", "loss", "reserved", "outside", "unchanged")


@pytest.fixture(scope="module")
def impact_url(server_url, template_name):
    """The sample with the impact of the plan in public inquiry against the plan it replaces, published."""
    from instruction.impact import plan_impact

    for url in sample_database(server_url, template_name, "urbasig_impactmap", SAMPLE_PARCELS, SAMPLE_SEED):
        with psycopg.connect(url) as conn:
            from_code, to_code = conn.execute(
                "SELECT f.code, t.code FROM plans t JOIN plans f ON f.id = t.replaces_id "
                "WHERE plan_status_on(t.id, CURRENT_DATE) = 'enquete_publique' ORDER BY t.code LIMIT 1").fetchone()
            plan_impact(conn, from_code, to_code, publish=True)
            conn.commit()
        yield url


@pytest.fixture(scope="module")
def impact_site(impact_url):
    from app import create_app

    port = free_port()
    app = create_app(app_settings(impact_url, pool_min=1, pool_max=6, public_url=f"http://127.0.0.1:{port}",
                                  indicative_per_minute=100_000, checks_per_minute=100_000))
    server, base = serve(app, port)
    yield base
    server.shutdown()


@pytest.fixture(scope="module")
def gained(impact_url):
    """The largest titled parcel whose maximum floor area the draft raises: reference, centre, its row."""
    with psycopg.connect(impact_url) as conn:
        counts = dict(conn.execute("SELECT change, count(*) FROM plan_impact GROUP BY change").fetchall())
        assert counts.get("gain", 0) > 0, counts  # the sample's revision is denser on part of the arrondissement
        row = conn.execute(
            "SELECT i.land_ref, ST_X(c), ST_Y(c), i.zone_before, i.zone_after, i.to_plan FROM plan_impact i, "
            "LATERAL ST_Transform(ST_PointOnSurface(i.geom), 4326) c WHERE i.change = 'gain' AND i.land_ref IS NOT NULL "
            "ORDER BY ST_Area(i.geom) DESC LIMIT 1").fetchone()
    return row


def _open(page, url: str):
    page.goto(url)
    wait_until(page, READY)


def test_the_toggle_shows_the_layer_coloured_by_change_with_its_legend(page, impact_site, gained):
    land, lon, lat, *_ = gained
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/collections/plan-impact/tiles/" in r.url else None)
    _open(page, f"{impact_site}/#map=16/{lat}/{lon}")
    box = page.locator("#layer-impact")
    assert page.locator("label[for=layer-impact]").inner_text() == translate("map.impact.layer", "fr")
    assert not box.is_checked() and not asked  # off at first: no tile asked
    assert page.evaluate("window.__urbasigMap.getLayoutProperty('impact-fill', 'visibility')") == "none"
    # beside the draft in public inquiry, in the same switcher
    assert page.evaluate("document.querySelector('#layer-draft').closest('fieldset') === "
                         "document.querySelector('#layer-impact').closest('fieldset')")
    legend = page.locator("ul.impact-legend li")
    assert legend.all_inner_texts() == [translate(f"map.impact.{c}", "fr") for c in CHANGES]
    colours = page.evaluate("window.__urbasigMap.getStyle().layers.find(l => l.id === 'impact-fill')"
                            ".paint['fill-color']")
    by_change = dict(zip(colours[2:-1:2], colours[3:-1:2], strict=True))
    for change in CHANGES:  # each legend swatch has the map's colour
        swatch = page.locator(f"ul.impact-legend .swatch.impact-{change}").evaluate(
            "e => getComputedStyle(e).backgroundColor + ' ' + getComputedStyle(e).backgroundImage")
        hex_ = by_change[change]
        rgb = f"rgb({int(hex_[1:3], 16)}, {int(hex_[3:5], 16)}, {int(hex_[5:7], 16)})"
        assert rgb in swatch, (change, swatch)
    box.check()
    wait_until(page, READY)
    assert page.evaluate("window.__urbasigMap.getLayoutProperty('impact-fill', 'visibility')") == "visible"
    assert asked and parse_qs(urlsplit(page.url).query)["impact"] == ["1"]
    drawn = wait_until(page, "window.__urbasigMap.queryRenderedFeatures({layers: ['impact-fill']})"
                             ".map(f => f.properties.change)")
    assert set(drawn) <= set(CHANGES) and "gain" in drawn
    seen = page.evaluate(f"window.__urbasigMap.queryRenderedFeatures({{layers: ['impact-fill']}})"
                         f".filter(f => f.properties.land_ref === {json.dumps(land)}).map(f => f.properties.change)")
    assert seen and set(seen) == {"gain"}
    box.uncheck()
    assert page.evaluate("window.__urbasigMap.getLayoutProperty('impact-fill', 'visibility')") == "none"
    assert "impact" not in parse_qs(urlsplit(page.url).query)


def test_the_panel_says_what_the_draft_changes_and_the_screenshot(page, impact_site, gained):
    land, lon, lat, before, after, to_plan = gained
    _open(page, f"{impact_site}/?impact=1&land={land}#map=16.5/{lat}/{lon}")
    assert page.is_checked("#layer-impact")
    wait_until(page, f"document.querySelector('#panel section.land-panel')?.dataset.land === {json.dumps(land)}")
    line = page.locator("#panel .land-panel-impact li").first.inner_text()
    assert line.startswith(f"Avec le projet {to_plan} : zone {before} → {after}" if before != after
                           else f"Avec le projet {to_plan} : zone {before} inchangée")
    assert "surface de plancher max" in line and "(+" in line
    assert page.locator("#panel .land-panel-impact li.land-panel-impact-gain").count() >= 1
    page.evaluate("document.querySelector('details.layers').open = true; "
                  "document.querySelector('ul.impact-legend').scrollIntoView({block: 'end'}); "
                  "document.querySelector('#panel .land-panel-impact').scrollIntoView({block: 'center'})")
    wait_until(page, READY)
    page.wait_for_timeout(300)
    shoot(page, "map-impact.png")  # the switcher open on its legend, the panel on the impact line


def test_arabic_right_to_left(page, impact_site, gained):
    land, lon, lat, *_ = gained
    _open(page, f"{impact_site}/?lang=ar&impact=1&land={land}#map=16/{lat}/{lon}")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.locator("label[for=layer-impact]").text_content() == translate("map.impact.layer", "ar")
    assert page.locator("ul.impact-legend li").all_text_contents() == [translate(f"map.impact.{c}", "ar")
                                                                     for c in CHANGES]
    wait_until(page, f"document.querySelector('#panel section.land-panel')?.dataset.land === {json.dumps(land)}")
    text = page.locator("#panel .land-panel-impact").inner_text()
    assert translate("panel.impact.title", "ar") in text and "مع المشروع" in text
    assert page.evaluate("getComputedStyle(document.querySelector('#panel .land-panel-impact')).direction") == "rtl"
