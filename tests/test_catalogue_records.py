"""The catalogue for machines: OGC API Records (read with OWSLib), DCAT JSON-LD (read with pyld), ISO 19139 (lxml).

All against the live server of tests/conftest.py (tests/fixtures/ogc_world.sql: its six plan versions, of which
PA-ANFA-1989 alone was valid in 1995, and the layers of the one catalogue). Partner datasets come from a provider
registered for the test (layers/datasets.PROVIDERS, as partner layers register theirs).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import psycopg
import pytest
import requests
from lxml import etree
from owslib.ogcapi.records import Records
from pyld import jsonld

from layers import datasets
from layers.apikeys import create_key
from layers.datasets import LICENCE, PUBLIC, Dataset, Part

DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"
ISO = {"gmd": "http://www.isotc211.org/2005/gmd", "gco": "http://www.isotc211.org/2005/gco",
       "gml": "http://www.opengis.net/gml/3.2", "gmx": "http://www.isotc211.org/2005/gmx",
       "xlink": "http://www.w3.org/1999/xlink"}


@pytest.fixture(scope="module")
def public(ogc_url) -> dict[str, Dataset]:
    """The public datasets, by id in catalogue order."""
    with psycopg.connect(ogc_url) as conn:
        return {d.id: d for d in datasets.list_datasets(conn, PUBLIC)}


@pytest.fixture(scope="module")
def public_ids(public) -> list[str]:
    return list(public)


def _partner_dataset(slug: str, audience: str, organisation: str) -> Dataset:
    return Dataset(
        id=f"partenaire-{slug}", kind="partner", title={"fr": f"Réseau {slug}", "ar": f"شبكة {slug}"},
        description={"fr": "Canalisations d'assainissement du partenaire.", "ar": "قنوات التطهير."},
        producer={"fr": organisation, "ar": organisation}, licence=LICENCE, theme="utilitiesCommunication",
        keywords=("assainissement",), parts=(Part(f"partenaire-{slug}", {"fr": "Réseau", "ar": "شبكة"},
                                                   "partner_features"),),
        updated=datetime(2026, 11, 2, 9, 30, tzinfo=UTC), extent=[-7.64, 33.58, -7.6, 33.6],
        feature_count=12, version_key="partner:1", audience=audience, owner_organisation=organisation)  # type: ignore[arg-type]


@pytest.fixture
def partner_datasets(monkeypatch):
    """Two partner datasets, one for every partner, one for its own organisation (« Lydec »)."""
    shown = [_partner_dataset("egouts", "partners", "Lydec"), _partner_dataset("vannes", "owner", "Lydec")]
    monkeypatch.setattr(datasets, "PROVIDERS", [*datasets.PROVIDERS, lambda conn, viewer: shown])
    return shown


@pytest.fixture(scope="module")
def keys(ogc_url) -> dict[str, str]:
    """A partner key of Lydec's and one of another organisation (removed afterwards: test_ogc_world counts keys)."""
    stamp = time.monotonic_ns()
    names = {"lydec": (f"lydec-{stamp}", "Lydec"), "autre": (f"autre-{stamp}", "Commune de Mohammedia")}
    with psycopg.connect(ogc_url) as conn:
        made = {who: create_key(conn, name, organisation) for who, (name, organisation) in names.items()}
        conn.commit()
        yield made
        conn.execute("DELETE FROM api_keys WHERE name = ANY(%s)", ([n for n, _ in names.values()],))
        conn.commit()


def _records_with_key(live: str, key: str) -> Records:
    """OWSLib's Records client sending a partner key. Not through its `headers=`: OWSLib (0.35) updates its
    module-wide REQUEST_HEADERS with them, so every later OWSLib client of the run would send this key (a 401 once
    the key is removed)."""
    api = Records(live)
    api.headers = {**api.headers, "X-API-Key": key}
    return api


def _ids(doc: dict) -> list[str]:
    return [f["id"] for f in doc["features"]]


def test_owslib_reads_the_catalogue_records(live, public_ids):
    api = Records(live)
    assert "catalogue" in api.records()  # the collections of itemType « record »
    every = api.collection_items("catalogue", limit=1000)
    assert every["numberMatched"] == len(public_ids) == every["numberReturned"]
    assert _ids(every) == public_ids and {"parcels", "zones", "plan-pa-anfa-1989", "plan-sdau-casa-2010"} <= set(
        public_ids)
    record = api.collection_item("catalogue", "plan-pa-anfa-1989")
    assert record["type"] == "Feature" and record["geometry"]["type"] == "Polygon"
    props = record["properties"]
    assert props["type"] == "dataset" and props["license"] == "CC-BY-4.0" and "Anfa" in props["title"]
    assert props["contacts"][0]["organization"] == "Agence urbaine de Casablanca"
    assert record["time"] == {"interval": ["1989-07-18", "2006-06-12"]}
    site = live.removesuffix("/ogc")
    links = {(link["rel"], link["href"]) for link in record["links"]}
    assert ("describedby", f"{site}/donnees/plan-pa-anfa-1989") in links  # the dataset's page
    assert ("describedby", f"{site}/donnees/plan-pa-anfa-1989/metadonnees.xml") in links
    assert ("data", f"{live}/collections/zones") in links
    assert ("items", f"{live}/collections/zones/items?filter=plan+%3D+%27PA-ANFA-1989%27&datetime=..%2F..") in links
    downloads = {href for rel, href in links if rel == "enclosure"}
    assert len(downloads) == 8  # gpkg, geojson, csv, shp × EPSG:26191, 4326
    assert f"{site}/donnees/plan-pa-anfa-1989/telecharger?format=gpkg&crs=26191" in downloads
    # the zones of that version, followed from the record, are those of the plan
    zones = requests.get(next(h for r, h in links if r == "items" and "zones" in h), timeout=30).json()
    assert zones["features"] and {f["properties"]["plan"] for f in zones["features"]} == {"PA-ANFA-1989"}


def test_q_bbox_datetime_and_paging(live, public_ids):
    api = Records(live)
    # the SDAU layer's keywords, the SDAU version's description (« Schéma directeur… »)
    assert _ids(api.collection_items("catalogue", q="schéma directeur")) == ["sdau", "plan-sdau-casa-2010"]
    assert _ids(api.collection_items("catalogue", q="SCHEMA DIRECTEUR,routes")) == [  # either term
        "sdau", "roads", "plan-sdau-casa-2010"]
    assert _ids(api.collection_items("catalogue", q="Maârif révision")) == ["plan-pa-maarif-2026"]
    assert api.collection_items("catalogue", bbox=[10, 10, 11, 11])["numberMatched"] == 0  # far from Casablanca
    near = api.collection_items("catalogue", bbox=[-7.7, 33.5, -7.5, 33.7], limit=1000)
    assert 0 < near["numberMatched"] <= len(public_ids) and "parcels" in _ids(near)
    assert _ids(api.collection_items("catalogue", datetime="1995-01-01")) == ["plan-pa-anfa-1989"]
    assert api.collection_items("catalogue", type="service")["numberMatched"] == 0
    seen, url = [], f"{live}/collections/catalogue/items?limit=4"
    while url:
        page = requests.get(url, timeout=30).json()
        seen += _ids(page)
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert seen == public_ids


def test_bad_parameters_are_400_in_french(live):
    for params, words in (({"bbox": "1,2,3"}, "bbox"), ({"bbox": "-7,33,-8,34"}, "coin minimal"),
                          ({"bbox": "200,0,201,1"}, "CRS84"), ({"limit": "0"}, "limit"), ({"limit": "dix"}, "entier"),
                          ({"offset": "-1"}, "offset"), ({"datetime": "hier"}, "datetime"), ({"q": " , "}, "q"),
                          ({"tri": "titre"}, "inconnu")):
        r = requests.get(f"{live}/collections/catalogue/items", params=params, timeout=30)
        assert r.status_code == 400, params
        assert words in r.json()["description"], (params, r.json())
    missing = requests.get(f"{live}/collections/catalogue/items/nulle-part", timeout=30)
    assert missing.status_code == 404 and "fiche inconnue" in missing.json()["description"]


def test_a_partner_key_sees_partner_datasets_and_anonymous_does_not(live, partner_datasets, keys, public_ids):
    anonymous = Records(live).collection_items("catalogue", limit=1000)
    assert _ids(anonymous) == public_ids
    assert requests.get(f"{live}/collections/catalogue/items/partenaire-egouts", timeout=30).status_code == 404
    lydec = _records_with_key(live, keys["lydec"]).collection_items("catalogue", limit=1000)
    assert _ids(lydec) == [*public_ids, "partenaire-egouts", "partenaire-vannes"]  # its own « owner » layer too
    other = _records_with_key(live, keys["autre"]).collection_items("catalogue", limit=1000)
    assert _ids(other) == [*public_ids, "partenaire-egouts"]  # another organisation's partners-only layer
    one = requests.get(f"{live}/collections/catalogue/items/partenaire-vannes", headers={"X-API-Key": keys["lydec"]},
                       timeout=30)
    assert one.status_code == 200 and one.headers["Cache-Control"].startswith("private")
    assert one.json()["properties"]["contacts"][0]["organization"] == "Lydec"
    site = live.removesuffix("/ogc")
    dcat = requests.get(f"{site}/donnees/catalogue.jsonld", headers={"X-API-Key": keys["lydec"]}, timeout=30).json()
    assert len(dcat["dcat:dataset"]) == len(public_ids) + 2
    assert requests.get(f"{site}/donnees/partenaire-vannes/metadonnees.xml", timeout=30).status_code == 404


def _values(node: dict, prop: str) -> list:
    return node.get(prop, [])


def test_dcat_catalogue_expands_and_flattens_with_every_required_property(live, public, public_ids):
    site = live.removesuffix("/ogc")
    r = requests.get(f"{site}/donnees/catalogue.jsonld", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/ld+json")
    doc = r.json()
    expanded = jsonld.expand(doc)
    assert expanded[0]["@type"] == [DCAT + "Catalog"]
    graph = {n["@id"]: n for n in jsonld.flatten(doc)}
    found = [n for n in graph.values() if DCAT + "Dataset" in n.get("@type", [])]
    assert sorted(n[DCT + "identifier"][0]["@value"] for n in found) == sorted(public_ids)
    for node in found:
        what = node[DCT + "identifier"][0]["@value"]
        assert {t["@language"] for t in node[DCT + "title"]} == {"fr", "ar"}, what
        assert {t["@language"] for t in node[DCT + "description"]} == {"fr", "ar"}, what
        assert graph[node[DCT + "publisher"][0]["@id"]]["@type"] == ["http://xmlns.com/foaf/0.1/Organization",
                                                                     "http://xmlns.com/foaf/0.1/Agent"]
        assert node[DCT + "license"][0]["@id"] == "https://creativecommons.org/licenses/by/4.0/"
        assert node[DCAT + "landingPage"][0]["@id"] == f"{site}/donnees/{what}"
        assert node[DCAT + "theme"] and node[DCAT + "keyword"], what
        if public[what].extent:  # a version without features yet (a draft) has none
            spatial = graph[node[DCT + "spatial"][0]["@id"]]
            assert spatial[DCAT + "bbox"][0]["@value"].startswith("POLYGON((-7."), what
        else:
            assert DCT + "spatial" not in node and public[what].feature_count == 0, what
        distributions = [graph[d["@id"]] for d in node[DCAT + "distribution"]]
        downloads = [d for d in distributions if DCAT + "downloadURL" in d]
        assert len(downloads) == 8, what
        for d in downloads:
            assert d[DCAT + "accessURL"] and d[DCT + "format"] and d[DCAT + "mediaType"], what
    plan = next(n for n in found if n[DCT + "identifier"][0]["@value"] == "plan-pa-anfa-1989")
    period = graph[plan[DCT + "temporal"][0]["@id"]]
    assert period[DCAT + "startDate"][0]["@value"] == "1989-07-18"
    assert period[DCAT + "endDate"][0]["@value"] == "2006-06-12"
    assert plan[DCT + "issued"][0]["@value"] == "1989-07-18"


def test_iso_19139_record_carries_title_abstract_extent_date_and_licence(live, ogc_url):
    site = live.removesuffix("/ogc")
    with psycopg.connect(ogc_url) as conn:
        expected = datasets.get_dataset(conn, "plan-pa-anfa-1989")
    r = requests.get(f"{site}/donnees/plan-pa-anfa-1989/metadonnees.xml", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/vnd.iso.19139+xml")
    root = etree.fromstring(r.content)
    ident = "gmd:identificationInfo/gmd:MD_DataIdentification"
    assert root.tag == "{http://www.isotc211.org/2005/gmd}MD_Metadata"
    assert root.findtext(f"{ident}/gmd:citation/gmd:CI_Citation/gmd:title/gco:CharacterString", namespaces=ISO) \
        == expected.title["fr"]
    assert root.findtext(f"{ident}/gmd:citation/gmd:CI_Citation/gmd:title/gmd:PT_FreeText/gmd:textGroup/"
                         "gmd:LocalisedCharacterString", namespaces=ISO) == expected.title["ar"]
    assert root.findtext(f"{ident}/gmd:abstract/gco:CharacterString", namespaces=ISO) == expected.description["fr"]
    box = f"{ident}/gmd:extent/gmd:EX_Extent/gmd:geographicElement/gmd:EX_GeographicBoundingBox"
    bounds = [float(root.findtext(f"{box}/gmd:{n}/gco:Decimal", namespaces=ISO))
              for n in ("westBoundLongitude", "southBoundLatitude", "eastBoundLongitude", "northBoundLatitude")]
    assert bounds == expected.extent
    dates = root.xpath(f"{ident}/gmd:citation/gmd:CI_Citation/gmd:date/gmd:CI_Date", namespaces=ISO)
    published = [d for d in dates if d.find("gmd:dateType/gmd:CI_DateTypeCode", ISO).get("codeListValue")
                 == "publication"]
    assert published[0].findtext("gmd:date/gco:Date", namespaces=ISO) == "1989-07-18"
    period = root.find(f"{ident}/gmd:extent/gmd:EX_Extent/gmd:temporalElement//gml:TimePeriod", ISO)
    assert (period.findtext("gml:beginPosition", namespaces=ISO), period.findtext("gml:endPosition", namespaces=ISO)) \
        == ("1989-07-18", "2006-06-12")
    anchor = root.find(f"{ident}/gmd:resourceConstraints/gmd:MD_LegalConstraints/gmd:otherConstraints/gmx:Anchor", ISO)
    assert anchor.get(f"{{{ISO['xlink']}}}href") == "https://creativecommons.org/licenses/by/4.0/"
    links = root.xpath("//gmd:CI_OnlineResource/gmd:linkage/gmd:URL/text()", namespaces=ISO)
    assert f"{site}/donnees/plan-pa-anfa-1989/telecharger?format=shp&crs=4326" in links
    unknown = requests.get(f"{site}/donnees/nulle-part/metadonnees.xml", timeout=30)
    assert unknown.status_code == 404


def test_the_catalogue_has_html_pages(live):
    for path, text in (("/collections/catalogue", "Catalogue des données ouvertes"),
                       ("/collections/catalogue/items", "Plan d&#39;aménagement d&#39;Anfa (1989)"),
                       ("/collections/catalogue/items/roads", "télécharger : GeoPackage")):
        r = requests.get(f"{live}{path}", params={"f": "html"}, timeout=30)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), path
        assert text in r.text, path
    arabic = requests.get(f"{live}/collections/catalogue/items/roads", params={"f": "html", "lang": "ar"}, timeout=30)
    assert "الطرق الموجودة" in arabic.text  # the record's Arabic title on the Arabic page
