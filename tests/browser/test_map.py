"""The public map in headless Chromium, over the sample territory: its style, legend and layer switcher, the date
and the draft in public inquiry, a click on a parcel, the shareable URL, Arabic and a phone; and, end to end
with the search endpoint and the panel, what issue 13 must show.

Every test fails on a request off 127.0.0.1 and on a console error (tests/browser/conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from api.i18n import translate
from layers.catalog import OTHER_FAMILY, ZONE_FAMILIES
from tests.browser.conftest import shoot, wait_until

READY = "window.__urbasigMap !== undefined && window.__urbasigMap.loaded() && window.__urbasigMap.areTilesLoaded()"
FAMILIES = [f.id for f in ZONE_FAMILIES] + [OTHER_FAMILY]


def _open(page, url: str):
    page.goto(url)
    wait_until(page, READY)
    wait_until(page, "document.getElementById('search-input').dataset.ready === '1'")


def _query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


@pytest.fixture(scope="module")
def parcel(sample_url):
    """A titled parcel of the sample (the largest one: easy to hit), with its centre in lon/lat."""
    with psycopg.connect(sample_url) as conn:
        return conn.execute(
            "SELECT land_ref, ST_X(c), ST_Y(c), id FROM parcels, LATERAL ST_Transform(ST_PointOnSurface(geom), 4326) c "
            "WHERE land_ref IS NOT NULL ORDER BY area_m2 DESC LIMIT 1").fetchone()


def test_style_layers_and_legend(page, site, sample_url):
    _open(page, site + "/")
    style = page.evaluate("window.__urbasigMap.getStyle()")
    assert "glyphs" not in style  # text drawn with the page's fonts: no glyph server, no request elsewhere
    sources = {name: s.get("tiles", [""])[0] for name, s in style["sources"].items()}
    for collection in ("zones", "prescriptions", "roads", "communes", "parcels"):
        assert f"/ogc/collections/{collection}/tiles/WebMercatorQuad/" in sources[collection]
    layers = {layer["id"]: layer for layer in style["layers"]}
    assert {"zones-fill", "zones-label", "presc-widening-hatch", "presc-alignment", "presc-servitude-line",
            "roads-fill", "communes-line", "communes-label", "parcels-line", "selected-line"} <= set(layers)
    colours = layers["zones-fill"]["paint"]["fill-color"]
    by_family = dict(zip(colours[2:-1:2], colours[3:-1:2], strict=True))
    assert set(by_family) == set(FAMILIES)
    legend = page.locator("ul.legend").first
    for family in FAMILIES:  # each family in the legend, named, with the map's colour
        item = legend.locator("li", has_text=translate(f"map.family.{family}", "fr"))
        assert item.count() == 1
        swatch = item.locator(".swatch").evaluate("e => getComputedStyle(e).backgroundColor")
        rgb = tuple(int(by_family[family][i:i + 2], 16) for i in (1, 3, 5))
        assert swatch == f"rgb({rgb[0]}, {rgb[1]}, {rgb[2]})"
    labels = page.evaluate("window.__urbasigMap.queryRenderedFeatures({layers: ['communes-label']})"
                           ".map(f => f.properties.name)")
    assert labels  # commune names are drawn (text without a glyph server)
    (w, s), (e, n) = page.evaluate("window.__urbasigMap.getBounds().toArray()")
    with psycopg.connect(sample_url) as conn:  # the first view: the data's extent, all of it
        dw, ds, de, dn = conn.execute("SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Transform("
                                      "ST_SetSRID(ST_Extent(geom)::geometry, 26191), 4326) b FROM communes) x").fetchone()
    assert w <= dw and s <= ds and e >= de and n >= dn
    assert (e - w) < 3 * (de - dw) or (n - s) < 3 * (dn - ds)  # fitted to it, not the whole country


def test_switcher_hides_a_layer_with_the_keyboard(page, site):
    _open(page, site + "/")
    box = page.locator("#layer-parcels")
    assert page.locator("label[for=layer-parcels]").inner_text() == translate("map.layer.parcels", "fr")
    box.focus()
    page.keyboard.press("Space")
    assert not box.is_checked()
    assert page.evaluate("window.__urbasigMap.getLayoutProperty('parcels-line', 'visibility')") == "none"
    assert _query(page)["masquer"] == ["parcels"]
    page.keyboard.press("Space")
    assert page.evaluate("window.__urbasigMap.getLayoutProperty('parcels-line', 'visibility')") == "visible"
    assert "masquer" not in _query(page)


def test_date_and_draft_change_the_tiles(page, site):
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/tiles/WebMercatorQuad/" in r.url else None)
    _open(page, site + "/")
    page.fill("#plans-date", "2010-01-01")
    page.dispatch_event("#plans-date", "change")
    wait_until(page, READY)
    tiles = page.evaluate("window.__urbasigMap.getSource('zones').tiles[0]")
    assert "datetime=2010-01-01" in tiles and _query(page)["date"] == ["2010-01-01"]
    assert any("/collections/zones/" in u and "datetime=2010-01-01" in u for u in asked)
    page.check("#layer-draft")
    wait_until(page, READY)
    assert any("versions=enquete_publique" in u for u in asked)
    assert _query(page)["projet"] == ["1"]
    assert page.evaluate("window.__urbasigMap.getLayoutProperty('draft-hatch', 'visibility')") == "visible"


def test_click_on_a_parcel_selects_it_and_the_url_follows(page, site, parcel):
    land, lon, lat, _ = parcel
    _open(page, f"{site}/#map=18/{lat}/{lon}")
    page.evaluate("window.__selected = []; document.addEventListener('urbasig:select', e => "
                  "window.__selected.push(e.detail))")
    x, y = page.evaluate(f"(() => {{ const p = window.__urbasigMap.project([{lon}, {lat}]); return [p.x, p.y]; }})()")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    detail = wait_until(page, "window.__selected[0]")
    assert detail["land"] == land and detail["date"] and detail["projet"] is False
    assert _query(page)["land"] == [land]
    # the panel's answer: the land is outlined
    page.evaluate("(d) => document.dispatchEvent(new CustomEvent('urbasig:land', {detail: d}))",
                  {"land": land, "bbox": None, "center": [lon, lat]})
    assert page.evaluate("window.__urbasigMap.getFilter('selected-line')") == ["==", ["get", "land_ref"], land]


def test_shared_url_restores_the_view_the_date_and_the_toggles(page, site, parcel):
    land, lon, lat, _ = parcel
    _open(page, f"{site}/?land={land}&date=2015-05-05&projet=1&masquer=roads#map=16.5/{lat:.5f}/{lon:.5f}")
    centre = page.evaluate("window.__urbasigMap.getCenter().toArray()")
    assert page.evaluate("window.__urbasigMap.getZoom()") == pytest.approx(16.5, abs=0.01)
    assert centre == pytest.approx([lon, lat], abs=1e-4)
    assert page.input_value("#plans-date") == "2015-05-05" and page.is_checked("#layer-draft")
    assert not page.is_checked("#layer-roads")
    assert page.evaluate("window.__urbasigMap.getLayoutProperty('roads-fill', 'visibility')") == "none"
    query = _query(page)
    assert query["land"] == [land] and query["date"] == ["2015-05-05"] and query["projet"] == ["1"]
    other = parse_qs(urlsplit(page.get_attribute("a.lang", "href")).query)  # the language link keeps it all
    assert other["lang"] == ["ar"] and other["land"] == [land] and other["date"] == ["2015-05-05"]
    assert "#map=16.50/" in page.get_attribute("a.lang", "href")


def test_arabic_is_right_to_left_with_arabic_controls(page, site):
    _open(page, site + "/?lang=ar")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]
    assert page.locator("label[for=layer-zones]").inner_text() == translate("map.layer.zones", "ar")
    zoom_in = page.locator(".maplibregl-ctrl-zoom-in")
    assert zoom_in.get_attribute("aria-label") == translate("map.zoom_in", "ar")
    assert translate("map.attribution", "ar") in page.locator(".maplibregl-ctrl-attrib").inner_text()
    width = page.viewport_size["width"]
    layers = page.locator("details.layers").bounding_box()
    assert layers["x"] < width / 2  # the switcher on the left, the end side in Arabic (on the right in French)
    assert page.locator(".maplibregl-ctrl-bottom-left .maplibregl-ctrl-zoom-in").count() == 1
    assert page.locator(".maplibregl-ctrl-scale").inner_text().endswith(translate("map.meters", "ar")) or \
        page.locator(".maplibregl-ctrl-scale").inner_text().endswith(translate("map.kilometers", "ar"))
    shoot(page, "map-arabic.png")


def test_phone_width(phone, site, parcel):
    land = parcel[0]
    _open(phone, site + "/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert not phone.evaluate("document.querySelector('details.layers').open")  # the map first
    search = phone.locator("#search-input").bounding_box()
    assert search["width"] > 250
    phone.evaluate("(land) => document.dispatchEvent(new CustomEvent('urbasig:select', {detail: {land}}))", land)
    wait_until(phone, f"document.querySelector('#panel section.land-panel')?.dataset.land === {json.dumps(land)}")
    wait_until(phone, "!window.__urbasigMap.isMoving() && window.__urbasigMap.getZoom() > 15")
    sheet = phone.locator("#panel").bounding_box()
    assert sheet["width"] >= 380 and sheet["y"] > 250  # a bottom sheet over the map's foot
    w, s, e, n = (float(v) for v in phone.get_attribute("#panel section.land-panel", "data-bbox").split(","))
    top = phone.evaluate(f"window.__urbasigMap.project([{(w + e) / 2}, {n}]).y")
    bottom = phone.evaluate(f"window.__urbasigMap.project([{(w + e) / 2}, {s}]).y")
    map_top = phone.locator("#map").bounding_box()["y"]
    assert top >= 0 and map_top + bottom <= sheet["y"]  # the land shows above the sheet, not under it
    shoot(phone, "map-phone.png")


def test_desktop_screenshot(page, site, parcel):
    land, lon, lat, _ = parcel
    _open(page, f"{site}/?projet=1#map=15.5/{lat}/{lon}")
    page.wait_for_timeout(500)  # the draft's tiles, asked after the switcher turned it on
    wait_until(page, READY)
    shoot(page, "map.png")
    assert json.loads(page.locator("#urbasig-config").text_content())["families"] == FAMILIES


# ------------------------------------------------------------------------------------ end to end (issue 13)
# The search endpoint (api/search.py) and the panel (api/panel.py, panel.js) in the same page: what the issue
# must show, typed into the box as a person would.


@pytest.fixture(scope="module")
def land(sample_url):
    """A titled parcel with a letter suffix and a one-parcel address: its reference, parts, Lambert point, address,
    and the zone the instruction gives it with its share (read from the database, never hard-coded)."""
    from instruction.engine import instruct
    from instruction.land import LandRequest

    with psycopg.connect(sample_url, autocommit=True) as conn:
        number, suffix, ref, x, y, address = conn.execute(
            "SELECT ref_number, ref_suffix, land_ref, ST_X(p), ST_Y(p), address FROM parcels, "
            "LATERAL ST_PointOnSurface(geom) p WHERE ref_kind = 'TF' AND ref_suffix ~ '^[A-Z]+$' AND address IN ("
            "SELECT address FROM parcels GROUP BY address HAVING count(*) = 1) ORDER BY id LIMIT 1 OFFSET 7").fetchone()
        result = instruct(conn, LandRequest(refs=(ref,)))
    zone = result["rules"][0]["zone"]["code"]
    return {"ref": ref, "number": number, "suffix": suffix, "x": x, "y": y, "address": address, "zone": zone}


def _type(page, text: str) -> None:
    page.fill("#search-input", "")
    page.focus("#search-input")
    page.keyboard.type(text, delay=15)


def _suggest(page, text: str) -> list[dict]:
    _type(page, text)
    wait_until(page, "!document.getElementById('search-suggestions').hidden")
    assert page.get_attribute("#search-input", "aria-expanded") == "true"
    return page.evaluate("[...document.querySelectorAll('#search-suggestions [role=option]')]"
                         ".map(o => ({id: o.id, text: o.innerText, kind: o.dataset.kind}))")


def _panel_land(page, ref: str) -> None:
    wait_until(page, f"document.querySelector('#panel section.land-panel')?.dataset.land === {json.dumps(ref)}")


def _in_view(page) -> None:
    """The panel's land is in the map's view, close enough to read (once the flight is over)."""
    wait_until(page, "!window.__urbasigMap.isMoving() && window.__urbasigMap.getZoom() > 15")
    bbox = [float(v) for v in page.get_attribute("#panel section.land-panel", "data-bbox").split(",")]
    (w, s), (e, n) = page.evaluate("window.__urbasigMap.getBounds().toArray()")
    assert w <= bbox[0] and s <= bbox[1] and e >= bbox[2] and n >= bbox[3]


def _pdf_text(data: bytes, tmp_path) -> str:
    import shutil
    import subprocess

    path = tmp_path / "note.pdf"
    path.write_bytes(data)
    return subprocess.run([shutil.which("pdftotext") or "pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def test_search_a_title_in_three_spellings_then_the_panel_and_the_pdf(page, site, land, tmp_path):
    _open(page, site + "/")
    ref, number, suffix = land["ref"], land["number"], land["suffix"]
    for spelling in (ref, f"tf{number}-{suffix.lower()}", f"T.{number}/{suffix}"):
        options = _suggest(page, spelling)
        assert ref in options[0]["text"] and options[0]["kind"] == "parcel", spelling
        page.keyboard.press("ArrowDown")
        assert page.get_attribute("#search-input", "aria-activedescendant") == options[0]["id"]
        page.keyboard.press("Enter")
        _panel_land(page, ref)
        assert page.evaluate("document.getElementById('search-suggestions').hidden")
    zone = page.locator("#panel .land-panel-zone").first
    assert zone.get_attribute("data-zone") == land["zone"] and float(zone.get_attribute("data-share")) > 0
    assert _query(page)["land"] == [ref]
    _in_view(page)
    wait_until(page, "window.__urbasigMap.getFilter('selected-line')[2] !== '\\u0000'")
    assert page.evaluate("window.__urbasigMap.getFilter('selected-line')") == ["==", ["get", "land_ref"], ref]
    with page.expect_download() as download:  # the indicative note, as a person gets it
        page.evaluate("(() => { const a = document.querySelector('#panel a.land-panel-pdf'); "
                      "a.setAttribute('download', ''); a.click(); })()")
    text = _pdf_text(Path(download.value.path()).read_bytes(), tmp_path)
    assert ref in text and land["zone"] in text


def test_search_lambert_coordinates_and_an_address(page, site, land):
    _open(page, site + "/")
    _type(page, f"{land['x']:.2f} {land['y']:.2f}")
    page.keyboard.press("Enter")  # no arrow: the first result of what is typed
    _panel_land(page, land["ref"])
    _in_view(page)
    number, street = land["address"].split(", ", 1)
    options = _suggest(page, f"{number} {street}")
    assert options[0]["kind"] == "address"
    page.click(f"#{options[0]['id']}")
    _panel_land(page, land["ref"])
    assert page.locator("#panel .land-panel-zone").first.get_attribute("data-zone") == land["zone"]


def test_nothing_found_says_what_was_understood(page, site):
    _open(page, site + "/")
    _type(page, "zzqx wvvk")
    wait_until(page, "document.getElementById('search-status').textContent.length > 0")
    status = page.inner_text("#search-status")
    assert "zzqx wvvk" in status and translate("map.search.none", "fr", q="zzqx wvvk") in status
    assert len(status) > len(translate("map.search.none", "fr", q="zzqx wvvk")) + 10  # understood and a hint
    assert page.evaluate("document.getElementById('search-suggestions').hidden")
    page.keyboard.press("Escape")


def test_keyboard_only_from_search_to_the_panel_and_the_note(page, site, land):
    _open(page, site + "/")
    page.keyboard.press("Tab")  # the skip link
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")  # to the search box
    assert page.evaluate("document.activeElement.id") == "search-input"
    page.keyboard.type(land["ref"], delay=15)
    wait_until(page, "!document.getElementById('search-suggestions').hidden")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    _panel_land(page, land["ref"])
    wait_until(page, "document.activeElement.closest('#panel') !== null")  # the panel takes the focus
    for _ in range(40):  # Tab through the panel to the note's link
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('#panel a.land-panel-pdf')"):
            break
    else:
        raise AssertionError("the note's link is not reachable by Tab from the panel")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # visible focus


def test_shared_land_url_opens_the_panel_on_it(page, site, land):
    _open(page, f"{site}/?land={land['ref']}")
    _panel_land(page, land["ref"])
    _in_view(page)


def test_arabic_search_and_panel(page, site, land):
    _open(page, site + "/?lang=ar")
    options = _suggest(page, land["ref"])
    assert translate("map.kind.parcel", "ar") in options[0]["text"]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    _panel_land(page, land["ref"])
    assert page.evaluate("document.documentElement.dir") == "rtl"
    _in_view(page)
    assert page.evaluate("window.__urbasigMap.getFilter('selected-line')") == ["==", ["get", "land_ref"], land["ref"]]
    wait_until(page, READY)
    shoot(page, "map-arabic-panel.png")
