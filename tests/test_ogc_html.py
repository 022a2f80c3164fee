"""The OGC API's HTML pages (f=html or a browser's Accept): every document has one, with readable labels and
values (no Python literal, no internal code in the text a person reads), links between them, paging, a preview
map's data, Arabic on request; the JSON stays the same document."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
import requests

from instruction.vocabulary import PRESCRIPTIONS, STATUSES

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
RAW_CODES = sorted({*PRESCRIPTIONS, "enquete_publique", "remplace", "homologue"} - {"other"})  # not French words


class _Text(HTMLParser):
    """The text a person reads: element contents outside <script> and <style>, no attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible(page: str) -> str:
    """The visible text of an HTML page."""
    parser = _Text()
    parser.feed(page)
    return " ".join(parser.parts)


def html_page(live, path, **params) -> str:
    r = requests.get(f"{live}{path}", params={**params, "f": "html"}, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), (path, r.status_code, r.text[:300])
    return r.text


def assert_readable(page: str, path: str) -> str:
    """No Python literal and no raw internal code in what a person reads."""
    text = visible(page)
    for literal in ("True", "False", "None", "['", "{'", "[]"):
        assert literal not in text, (path, literal)
    for code in RAW_CODES:
        assert not re.search(rf"(?<![\w/]){code}(?![\w/])", text), (path, code)
    return text


def _first_id(live, collection, **params) -> str | None:
    doc = requests.get(f"{live}/collections/{collection}/items", params={"limit": 1, **params}, timeout=30).json()
    return str(doc["features"][0]["id"]) if doc["features"] else None  # plan-impact: empty until a run is published


def _routes(live) -> list[str]:
    routes = ["/", "/conformance", "/collections", "/processes", "/tileMatrixSets", "/tileMatrixSets/WebMercatorQuad",
              "/tileMatrixSets/WorldCRS84Quad"]
    for c in requests.get(f"{live}/collections", timeout=30).json()["collections"]:
        routes += [f"/collections/{c['id']}", f"/collections/{c['id']}/items", f"/collections/{c['id']}/queryables"]
        first = _first_id(live, c["id"], datetime="../..")
        if first is not None:
            routes.append(f"/collections/{c['id']}/items/{first}")
        if any(link["rel"].endswith("tilesets-vector") for link in c["links"]):
            routes += [f"/collections/{c['id']}/tiles", f"/collections/{c['id']}/tiles/WebMercatorQuad"]
    routes += [f"/processes/{p['id']}" for p in requests.get(f"{live}/processes", timeout=30).json()["processes"]]
    return routes


def test_every_route_answers_readable_html_with_f_html_and_to_a_browser(live):
    routes = _routes(live)
    assert len(routes) > 30
    for path in routes:
        params = {"datetime": "../.."} if "/items" in path and path.count("/") == 3 else {}
        assert_readable(html_page(live, path, **params), path)
        r = requests.get(f"{live}{path}", headers=BROWSER, timeout=30)  # a link opened in a browser
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), path
        for accept in ("*/*", "application/json"):  # curl, requests, an API client: the JSON document
            assert not requests.get(f"{live}{path}", headers={"Accept": accept}, timeout=30).headers[
                "Content-Type"].startswith("text/html"), (path, accept)


def _same(doc: dict) -> dict:
    """A document without what names the request itself (its links echo the query, its time stamp)."""
    return {k: v for k, v in doc.items() if k not in ("links", "timeStamp")}


def test_json_is_the_same_document_with_or_without_f_json(live):
    for path in ("/collections/zones", "/collections/zones/items", "/processes/instruction", "/tileMatrixSets"):
        plain = requests.get(f"{live}{path}", timeout=30).json()
        asked = requests.get(f"{live}{path}", params={"f": "json"}, headers=BROWSER, timeout=30)
        assert asked.headers["Content-Type"].startswith("application/") and _same(asked.json()) == _same(plain)


def test_values_are_written_for_a_person(live):
    """Booleans, lists, codes and dates of the JSON appear on the page as oui/non, joined, labelled, long form."""
    every = requests.get(f"{live}/collections/zones/items", params={"limit": 100, "datetime": "../.."}, timeout=30).json()
    zone = next(f for f in every["features"] if isinstance(f["properties"].get("continuous_frontage"), bool)
                and f["properties"].get("uses_allowed"))
    page = html_page(live, f"/collections/zones/items/{zone['id']}")
    text = assert_readable(page, "zone")
    props = zone["properties"]
    assert ("oui" if props["continuous_frontage"] else "non") in text and "Front bâti continu" in text
    assert ", ".join(props["uses_allowed"]) in text
    assert STATUSES[props["plan_status"]]["fr"] in text and f'title="{props["plan_status"]}"' in page  # raw kept
    if props.get("storeys_max") is not None:
        assert f"R+{props['storeys_max']}" in text
    prescriptions = requests.get(f"{live}/collections/prescriptions/items",
                                 params={"limit": 100, "datetime": "../.."}, timeout=30).json()["features"]
    kinds = {f["properties"]["kind"] for f in prescriptions}
    text = assert_readable(html_page(live, "/collections/prescriptions/items", limit=100, datetime="../.."), "presc")
    assert all(PRESCRIPTIONS[k]["fr"] in text for k in kinds if k in PRESCRIPTIONS) and kinds
    plan = requests.get(f"{live}/collections/plans/items", params={"limit": 1, "datetime": "../.."}, timeout=30).json()
    day = plan["features"][0]["properties"].get("approval_date")
    if day:
        from datetime import date

        from gis.l10n import long_date

        text = visible(html_page(live, f"/collections/plans/items/{plan['features'][0]['id']}"))
        assert long_date(date.fromisoformat(day), "fr") in text and day not in text


def test_items_page_has_paging_links_and_the_preview_data(live):
    page = html_page(live, "/collections/parcels/items", limit=3)
    data = json.loads(re.search(r'<script type="application/json" id="ogc-preview-data">(.*?)</script>', page, re.S)[1])
    doc = requests.get(f"{live}/collections/parcels/items", params={"limit": 3}, timeout=30).json()
    assert [f["id"] for f in data["features"]["features"]] == [f["id"] for f in doc["features"]]
    assert data["tiles"].endswith("/collections/parcels/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert 'src="/vendor/maplibre-gl/dist/maplibre-gl-csp.js"' in page and "js/ogc-preview.js" in page
    following = re.search(r'<a href="([^"]+)" rel="next">', page)[1].replace("&amp;", "&")
    assert "f=html" in following and following.startswith("/ogc/collections/parcels/items?")
    second = requests.get(live.removesuffix("/ogc") + following, timeout=30)
    assert second.headers["Content-Type"].startswith("text/html")
    ids = re.findall(r'/items/(\d+)\?f=html">', page)
    assert ids and not set(ids) & set(re.findall(r'/items/(\d+)\?f=html">', second.text))
    assert 'rel="first"' in second.text  # keyset paging: back to the first page


def test_collection_page_previews_its_extent_and_links_its_tiles(live):
    doc = requests.get(f"{live}/collections/zones", timeout=30).json()
    page = html_page(live, "/collections/zones")
    data = json.loads(re.search(r'id="ogc-preview-data">(.*?)</script>', page, re.S)[1])
    assert data["bbox"] == doc["extent"]["spatial"]["bbox"][0] and "/collections/zones/tiles/" in data["tiles"]
    assert "/ogc/collections/zones/tiles?f=html" in page and "/ogc/collections/zones/queryables?f=html" in page
    assert "id=\"ogc-preview-data\"" not in html_page(live, "/conformance")  # no map where there is nothing to draw


def test_process_description_lists_its_inputs(live):
    doc = requests.get(f"{live}/processes/licence-check", timeout=30).json()
    text = visible(html_page(live, "/processes/licence-check"))
    for name, spec in doc["inputs"].items():
        assert name in text and spec["title"] in text
    assert "pharmacy" in text and "POST /ogc/processes/licence-check/execution" in text  # the values to send


def test_queryables_and_tileset_pages(live):
    doc = requests.get(f"{live}/collections/zones/queryables", timeout=30).json()
    text = assert_readable(html_page(live, "/collections/zones/queryables"), "queryables")
    assert all(name in text for name in doc["properties"]) and "oui ou non" in text
    text = visible(html_page(live, "/collections/zones/tiles/WebMercatorQuad"))
    assert "{tileMatrix}/{tileRow}/{tileCol}" in text and "WebMercatorQuad" in text


@pytest.mark.parametrize("path", ["/collections/zones", "/processes", "/collections/parcels/items"])
def test_arabic_pages(live, path):
    page = html_page(live, path, lang="ar")
    assert 'lang="ar" dir="rtl"' in page and re.search("[\u0600-\u06ff]", visible(page))


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_geometry_type_is_said_in_words(live, lang):
    """« multipolygone » (or its Arabic), not GeoJSON's « MultiPolygon »; the raw type stays in a title."""
    from api.i18n import translate

    zone = requests.get(f"{live}/collections/zones/items", params={"limit": 1, "datetime": "../.."},
                        timeout=30).json()["features"][0]
    kind = zone["geometry"]["type"]
    page = html_page(live, f"/collections/zones/items/{zone['id']}", lang=lang)
    text = visible(page)
    assert translate(f"ogc.geom.{kind}", lang) in text and kind not in text
    assert f'title="{kind}"' in page
