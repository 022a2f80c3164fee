"""The OGC API's HTML pages in a browser: the items page's preview map renders the page's features over the
collection's tiles, with nothing fetched off 127.0.0.1 and no console error (the fixtures check both)."""

import requests

from tests.browser.conftest import shoot, wait_until

SOURCE_LOADED = ("window.__ogcPreview !== undefined && window.__ogcPreview.loaded()"
                 " && window.__ogcPreview.isSourceLoaded('drawn')")


def test_items_page_preview_map_renders(page, site):
    doc = requests.get(f"{site}/ogc/collections/parcels/items", params={"limit": 20}, timeout=30).json()
    tiles = []
    page.on("response", lambda r: tiles.append(r.url) if "/tiles/WebMercatorQuad/" in r.url and r.status == 200 else None)
    page.goto(f"{site}/ogc/collections/parcels/items?limit=20&f=html")
    wait_until(page, SOURCE_LOADED)
    assert page.locator("#preview canvas").count() == 1
    drawn = page.evaluate("window.__ogcPreview.querySourceFeatures('drawn').map(f => f.id)")
    assert set(drawn) <= {f["id"] for f in doc["features"]} and drawn  # the page's parcels, drawn
    rows = page.locator("table tbody tr").count()
    assert rows == doc["numberReturned"] == 20
    assert any("/collections/parcels/" in url for url in tiles)  # the collection's own tiles under them
    page.wait_for_timeout(300)  # let the last tiles paint before the picture
    shoot(page, "ogc-items.png", full_page=False)


def test_item_and_collection_previews_render(page, site):
    first = requests.get(f"{site}/ogc/collections/zones/items", params={"limit": 1}, timeout=30).json()["features"][0]
    page.goto(f"{site}/ogc/collections/zones/items/{first['id']}?f=html")
    wait_until(page, SOURCE_LOADED)
    assert page.evaluate("window.__ogcPreview.querySourceFeatures('drawn').length") >= 1
    page.goto(f"{site}/ogc/collections/zones?f=html")
    wait_until(page, SOURCE_LOADED)
    bounds = page.evaluate("window.__ogcPreview.getBounds().toArray()")
    doc = requests.get(f"{site}/ogc/collections/zones", timeout=30).json()
    w, s, e, n = doc["extent"]["spatial"]["bbox"][0]
    (bw, bs), (be, bn) = bounds
    assert bw <= w and bs <= s and be >= e and bn >= n  # the map frames the collection's extent
