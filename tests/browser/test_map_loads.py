"""The map page loads MapLibre from /vendor/ and renders the vector tiles, with nothing fetched elsewhere."""

from tests.browser.conftest import wait_until


def test_map_renders_tiles(page, site):
    tiles = []
    page.on("response", lambda r: tiles.append(r.url) if "/tiles/WebMercatorQuad/" in r.url and r.status == 200 else None)
    page.goto(site + "/")
    wait_until(page, "window.__urbasigMap !== undefined && window.__urbasigMap.loaded()")
    assert any("/collections/zones/" in url for url in tiles)
