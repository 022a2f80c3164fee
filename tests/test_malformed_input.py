"""Malformed input, class by class, on every endpoint that reads it, over real HTTP against a real PostGIS:
each is a 400 with a French message in the route's form (OGC exception JSON under /ogc, JSON elsewhere),
never a 500, and a refused write leaves every table as it was."""

from __future__ import annotations

import base64
import json
import os

import psycopg
import pytest
import requests

from app import create_app
from layers.accounts import create_account
from layers.db import drop_database, ensure_database, with_dbname
from tests import instruction_world as world
from tests.helpers import app_settings, free_port, serve

PASSWORD = "mot de passe solide"
FRENCH = ("attendu", "invalide", "interdit", "trop", "illisible", "obligatoire", "inconnu", "hors", "doit", "au plus",
          "refusé", "nombre", "vide", "seule", "entier", "non pris en charge", "SCR")
WRITTEN = ("accounts", "outbox", "audit_log", "note_requests", "check_results", "rate_hits")


@pytest.fixture(scope="module")
def site(server_url, template_name):
    """A live app on its own database with an instructor and a verified applicant: (base URL, database URL)."""
    name = f"urbasig_inputs_{os.getpid()}"
    ensure_database(server_url, name, template=template_name)
    url = with_dbname(server_url, name)
    with psycopg.connect(url) as conn:
        world.build(conn)
        create_account(conn, "instructeur@auc.ma", "Instructeur", PASSWORD, role="instructor", verified=True)
        create_account(conn, "amina@example.ma", "Amina Alaoui", PASSWORD, verified=True)
        conn.commit()
    port = free_port()  # the server's own address is its public URL (links, CSRF's Origin check)
    server, base = serve(create_app(app_settings(url, pool_min=1, pool_max=3, payment_secret="s", max_json_depth=64,
                                                 max_filter_depth=32, public_url=f"http://127.0.0.1:{port}",
                                                 # this suite signs in and registers hundreds of times from one address
                                                 signin_per_account_hour=10_000, signin_per_address_hour=10_000,
                                                 registrations_per_address_hour=10_000)), port)
    yield base, url
    server.shutdown()
    drop_database(server_url, name)


def _session(base: str, mail: str) -> requests.Session:
    s = requests.Session()
    s.headers["Origin"] = base  # a browser on the service's own pages (CSRF check)
    assert s.post(f"{base}/notes/session", json={"email": mail, "password": PASSWORD}, timeout=30).status_code == 200
    return s


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        present = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in WRITTEN if t in present}  # noqa: S608


def refused(response: requests.Response, status: int = 400) -> str:
    """The French message of a refusal in JSON or OGC form (never a 500, never an exception's own text)."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    message = body.get("message") or body.get("description")
    assert message and any(word in message for word in FRENCH), body
    for word in ("Traceback", "psycopg", "NUL (0x00)", "RecursionError", "Error:"):
        assert word not in response.text
    if response.url.split("//", 1)[1].split("/", 1)[1].startswith("ogc"):
        assert set(body) == {"code", "description"}
    return message


# ------------------------------------------------------------------------------------------ JSON bodies
DEEP = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 3000 + "1" + "}" * 3000
BAD_BODIES = {
    "nul-in-value": ('{"email": "a\\u0000@example.ma", "full_name": "x", "password": "0123456789abc"}', "nul"),
    "nul-in-key": ('{"em\\u0000ail": "a@example.ma"}', "nul"),
    "lone-surrogate": ('{"email": "\\ud800@example.ma", "full_name": "x", "password": "0123456789abc"}', "Unicode"),
    "invalid-utf8": (b'{"email": "\xff\xfe@example.ma"}', "UTF-8"),
    "deep-array": (DEEP, "imbriqué"),
    "deep-object": (DEEP_OBJECT, "imbriqué"),
    "nan": ('{"email": NaN}', "NaN"),
    "truncated": ('{"email": ', "illisible"),
    "not-an-object": ("[1, 2]", "objet"),
}


@pytest.mark.parametrize("path", ["/notes/accounts", "/notes/session", "/notes/requests/N-0001/review",
                                  "/ogc/processes/instruction/execution"])
@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_a_malformed_json_body_is_a_400_and_writes_nothing(site, path, case):
    base, url = site
    data, word = BAD_BODIES[case]
    client = _session(base, "instructeur@auc.ma") if "review" in path else requests
    before = _counts(url)
    r = client.post(f"{base}{path}", data=data, headers={"Content-Type": "application/json"}, timeout=30)
    message = refused(r)
    if not (path.startswith("/ogc") and case == "not-an-object"):
        assert word.lower() in message.lower(), message
    assert _counts(url) == before


def test_a_json_endpoint_wants_a_json_content_type(site):
    base, url = site
    before = _counts(url)
    r = requests.post(f"{base}/notes/accounts", data="email=a@example.ma", timeout=30,
                      headers={"Content-Type": "text/plain"})
    assert "Content-Type: application/json" in refused(r)
    refused(requests.post(f"{base}/ogc/processes/instruction/execution", data=b"", timeout=30,
                          headers={"Content-Type": "application/json"}))
    assert _counts(url) == before


WRONG_TYPES = [
    ("/notes/accounts", {"email": 5, "full_name": "A", "password": PASSWORD}, "« email » : du texte attendu, reçu un"),
    ("/notes/accounts", {"email": ["a@example.ma"], "full_name": "A", "password": PASSWORD}, "« email » : du texte"),
    ("/notes/accounts", {"email": "b@example.ma", "full_name": {"x": 1}, "password": PASSWORD}, "« full_name » : du texte"),
    ("/notes/accounts", {"email": "b@example.ma", "full_name": "B", "password": 12345678901}, "« password » : du texte"),
    ("/notes/accounts", {"email": "b@example.ma", "full_name": "B", "password": True}, "reçu un booléen"),
    ("/notes/session", {"email": {"$ne": ""}, "password": PASSWORD}, "« email » : du texte attendu, reçu un objet"),
    ("/notes/session", {"email": "amina@example.ma", "password": None}, None),  # null is absent: a wrong password
    ("/notes/session", {"email": "amina@example.ma", "password": [PASSWORD]}, "« password » : du texte"),
]


@pytest.mark.parametrize("path,body,message", WRONG_TYPES)
def test_a_field_of_the_wrong_type_says_which_and_what(site, path, body, message):
    base, url = site
    before = _counts(url)
    r = requests.post(f"{base}{path}", json=body, timeout=30)
    if message is None:  # a refused sign-in, like any wrong password: audited (session.echec), nothing else
        assert r.status_code == 401
        before["audit_log"] += 1
    else:
        assert message in refused(r)
    assert _counts(url) == before


@pytest.mark.parametrize("body,message", [
    ({"accept": "oui"}, "« accept » : un booléen (true / false) attendu, reçu du texte"),
    ({"accept": 1}, "« accept » : un booléen"),
    ({}, "« accept » est obligatoire"),
    ({"accept": False, "text": 42}, "« text » : du texte attendu, reçu un nombre"),
    ({"accept": True, "text": ["RAS"]}, "« text » : du texte attendu, reçu une liste"),
    ({"accept": True, "text": "x" * 5001}, "5000 caractères au plus"),
])
def test_review_fields_are_typed(site, body, message):
    base, url = site
    instructor = _session(base, "instructeur@auc.ma")
    before = _counts(url)
    assert message in refused(instructor.post(f"{base}/notes/requests/N-0001/review", json=body, timeout=30))
    # the same call well typed reaches the workflow: this request does not exist
    assert instructor.post(f"{base}/notes/requests/N-0001/review", json={"accept": True}, timeout=30).status_code == 404
    assert _counts(url) == before


POINT = {"point": [-7.6, 33.59]}
PROCESS_CASES = [
    ("instruction", {"land": POINT, "crs": 4326}, "« inputs.crs » : du texte"),
    ("instruction", {"land": POINT, "geometry": "oui"}, "« inputs.geometry » : un booléen"),
    ("instruction", {"land": POINT, "date": 20260101}, "« date » : date AAAA-MM-JJ attendue"),
    ("instruction", {"land": POINT, "date": "0000-01-01"}, "date AAAA-MM-JJ attendue"),
    ("instruction", {"land": POINT, "date": "99999-01-01"}, "date AAAA-MM-JJ attendue"),
    ("instruction", {"land": "TF 1/C"}, "objet attendu"),
    ("instruction", {"land": {"refs": [5]}}, "liste de références"),
    ("instruction", {"land": {"point": [float("nan"), 1]}}, "NaN"),
    ("instruction", {"land": {"point": [1e308, 1e308]}}, "hors"),
    ("instruction", {"land": {"geometry": {"type": "Polygon", "coordinates": 5}}}, "illisible"),
    ("instruction", {"land": {"geometry": {"type": "Polygon", "coordinates": [[[1e308, 1e308], [1e308, -1e308],
                                                                               [-1e308, 0], [1e308, 1e308]]]}}},
     "hors"),
    ("instruction", {"land": {"geometry": {"type": "Polygon", "coordinates": [[["a", "b"]]]}}}, "illisible"),
    ("instruction", {"land": {"geometry": {"type": ["Polygon"], "coordinates": []}}}, "géométrie"),
    ("permit-check", {"land": POINT, "project": "R+4"}, "« project » : un objet"),
    ("permit-check", {"land": POINT, "project": {"use": 5}}, "« project.use » : du texte"),
    ("permit-check", {"land": POINT, "project": {"storeys": "4"}}, "« project.storeys » : un nombre entier"),
    ("permit-check", {"land": POINT, "project": {"height_m": [12]}}, "« project.height_m » : un nombre"),
    ("permit-check", {"land": POINT, "project": {"basement": "non"}}, "« project.basement » : un booléen"),
    ("permit-check", {"land": POINT, "project": {"footprint": "POLYGON"}}, "« project.footprint » : un objet"),
    ("lot-check", {"land": POINT, "lots": {"id": "1"}}, "« inputs.lots » : une liste attendu"),
    ("lot-check", {"land": POINT, "lots": ["lot 1"]}, "« lots[0] » : un objet"),
    ("lot-check", {"land": POINT, "lots": [{"id": [1], "geometry": {}}]}, "« lots[0].id »"),
    ("lot-check", {"land": POINT, "lots": [{"id": "1", "geometry": "x"}]}, "« lots[0].geometry » : un objet"),
    ("lot-check", {"land": POINT, "lots": [{"id": "1", "geometry": {}}], "internal_roads": "x"},
     "« internal_roads » : une liste"),
    ("lot-check", {"land": POINT, "lots": [{"id": "1", "geometry": {}}], "green_spaces": [5]},
     "« green_spaces[0] »"),
    ("licence-check", {"location": POINT, "activity": ["pharmacy"]}, "« inputs.activity » : du texte"),
    ("licence-check", {"location": POINT, "activity": "pharmacy", "filed_at": 5}, "« inputs.filed_at » : du texte"),
]


@pytest.mark.parametrize("pid,inputs,message", PROCESS_CASES)
def test_process_inputs_of_the_wrong_type_are_400(site, pid, inputs, message):
    base, url = site
    before = _counts(url)
    body = json.dumps({"inputs": inputs}, allow_nan=True)
    r = requests.post(f"{base}/ogc/processes/{pid}/execution", data=body, timeout=60,
                      headers={"Content-Type": "application/json"})
    assert message in refused(r)
    assert _counts(url) == before


# ---------------------------------------------------------------------------------- NUL bytes elsewhere
NUL_GETS = [
    "/ogc/collections/parcels/items?limit=1&x%00y=1",
    "/ogc/collections/parcels/items?land_ref=TF%001",
    "/ogc/collections/parcels/items?filter=land_ref%3D%27a%00%27",
    "/ogc/collections/parc%00els/items",
    "/ogc/collections/parcels/items/1%00",
    "/ogc/collections/communes/items/AN%00FA",
    "/ogc/collections/parcels/tiles/WebMercatorQuad/15/0/0%00",
    "/ogc/processes/instr%00uction",
    "/notes/indicative?land=TF%003875/C",
    "/notes/accounts/verify?token=abc%00def",
    "/verify/AB%00CD",
    "/notes/requests/N%00-1",
]


@pytest.mark.parametrize("path", NUL_GETS)
def test_a_nul_character_in_the_url_is_a_400(site, path):
    base, _ = site
    client = _session(base, "instructeur@auc.ma") if path.startswith("/notes/requests") else requests
    assert "caractère nul" in refused(client.get(f"{base}{path}", timeout=30))


def test_a_nul_character_in_a_form_or_an_upload_is_a_400_and_writes_nothing(site):
    base, url = site
    applicant = _session(base, "amina@example.ma")
    before = _counts(url)
    pdf = ("titre.pdf", b"%PDF-1.4 x", "application/pdf")
    for data, files in ((({"refs": "TF 7/T\x00", "standing": "proprietaire"}), {"documents": pdf}),
                        ({"refs": "TF 7/T", "standing": "propri\x00etaire"}, {"documents": pdf}),
                        ({"refs": "TF 7/T", "standing": "proprietaire"}, {"documents": ("ti\x00tre.pdf", b"%PDF", "x")}),
                        ({"ref\x00s": "TF 7/T"}, {"documents": pdf})):
        r = applicant.post(f"{base}/notes/requests", data=data, files=files, timeout=30)
        assert "caractère nul" in refused(r)
    r = requests.post(f"{base}/notes/payments/callback", data={"oid": "1\x00", "HASH": "x"}, timeout=30)
    assert "caractère nul" in refused(r)
    r = requests.post(f"{base}/verify", data={"code": "AB\x00CD"}, timeout=30)
    assert "caractère nul" in refused(r)
    r = requests.post(f"{base}/verify", files={"pdf": ("n\x00ote.pdf", b"%PDF-1.4", "application/pdf")}, timeout=30)
    assert "caractère nul" in refused(r)
    assert _counts(url) == before


def test_a_nul_character_in_a_header_is_a_400(site):
    _, url = site
    client = create_app(app_settings(url, pool_min=1, pool_max=1)).test_client()
    for path, headers in (("/ogc/collections", {"X-API-Key": "abc\x00"}),
                          ("/ogc/collections/parcels/tiles/WebMercatorQuad/15/0/0", {"If-None-Match": '"a\x00"'})):
        r = client.get(path, headers=headers)
        assert r.status_code == 400 and "caractère nul" in r.get_json()["description"], r.get_data(as_text=True)


# ----------------------------------------------------------------------------------------- OGC queries
def _cursor(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


ITEMS = "/ogc/collections/parcels/items"
BAD_QUERIES = [
    ("filter=" + "(" * 400 + "land_ref = 'x'" + ")" * 400, "trop imbriqué"),
    ("filter=" + "NOT " * 3000 + "land_ref = 'x'", "trop imbriqué"),
    ("filter=S_INTERSECTS(geometry, " + "GEOMETRYCOLLECTION(" * 300 + "POINT(1 1)" + ")" * 300 + ")", "imbriqué"),
    ("filter-lang=cql2-json&filter=" + "[" * 5000 + "]" * 5000, "trop imbriqué"),
    ("filter-lang=cql2-json&filter=" + '{"op":"not","args":[' * 200 + '{"op":"=","args":[{"property":"land_ref"},"x"]}'
     + "]}" * 200, "trop imbriqué"),
    ('filter-lang=cql2-json&filter={"op":"t_intersects","args":[{"property":"validity"},{"date":5}]}', "date"),
    ('filter-lang=cql2-json&filter={"op":"t_intersects","args":[{"property":"validity"},{"timestamp":[]}]}', "date"),
    ('filter-lang=cql2-json&filter={"op":"t_intersects","args":[{"property":"validity"},{"interval":"x"}]}',
     "intervalle"),
    ('filter-lang=cql2-json&filter={"op":"t_intersects","args":[{"property":"validity"},{"interval":[1,2]}]}', "date"),
    ('filter-lang=cql2-json&filter={"op":5,"args":[]}', "« op »"),
    ('filter-lang=cql2-json&filter={"op":"=","args":[{"property":["land_ref"]},"x"]}', "property"),
    ('filter-lang=cql2-json&filter={"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[NaN,0,1,1]}]}',
     "NaN"),
    ("filter=land_ref LIKE '\\'", "barre oblique"),
    ("filter=land_ref LIKE 'TF\\\\\\'", "barre oblique"),
    ("filter=area_m2 > 1e999", "nombre"),
    ("filter=S_INTERSECTS(geometry, BBOX(-1e999, 0, 1, 1))", "BBOX"),
    ("cursor=" + _cursor({"a": "abc"}), "cursor"),
    ("cursor=" + _cursor({"a": True}), "cursor"),
    ("cursor=" + _cursor({"o": "10"}), "cursor"),
    ("cursor=" + _cursor({"o": True}), "cursor"),
    ("cursor=" + _cursor({"o": 1.5}), "cursor"),
    ("cursor=" + _cursor({"a": 2**70}), "cursor"),
    ("cursor=" + _cursor([[[[]]]]), "cursor"),
    ("cursor=" + base64.urlsafe_b64encode(b"[" * 5000).decode(), "cursor"),
    ("cursor=%%%%not-base64", "cursor"),
    ("cursor=" + base64.urlsafe_b64encode(b"\xff\xfe").decode(), "cursor"),
    ("bbox=nan,nan,nan,nan", "bbox"),
    ("bbox=-inf,-inf,inf,inf", "bbox"),
    ("bbox=0,0,1e400,1", "bbox"),
    ("bbox=1,2,3", "bbox"),
    ("bbox-crs=EPSG:99999999999&bbox=0,0,1,1", "bbox-crs"),
    ("crs=http://www.opengis.net/def/crs/EPSG/0/%2F..%2F", "crs"),
    ("crs=" + "x" * 5000, "crs"),
    ("datetime=0000-01-01", "datetime"),
    ("datetime=99999-01-01", "datetime"),
    ("datetime=2020-13-45/..", "datetime"),
    ("datetime=2020-01-01T25:00:00Z", "datetime"),
    ("limit=-1", "limit"),
    ("limit=1e3", "limit"),
    ("limit=99999999999999999999999999", None),  # capped at the maximum: a 200
    ("offset=-5", "offset"),
    ("offset=99999999999999999999999999", "offset"),
    ("area_m2=nan", "area_m2"),
    ("area_m2=1e999", "area_m2"),
]


@pytest.mark.parametrize("query,word", BAD_QUERIES, ids=[q[:60] for q, _ in BAD_QUERIES])
def test_malformed_item_queries_are_400(live, query, word):
    r = requests.get(f"{live}/collections/parcels/items?{query}", timeout=60)
    if word is None:
        assert r.status_code == 200, r.text[:300]
        return
    assert word.lower() in refused(r).lower()


@pytest.mark.parametrize("path", [
    "/collections/parcels/tiles/WebMercatorQuad/99999999999999999999/0/0",
    "/collections/parcels/tiles/WebMercatorQuad/15/99999999999999999999/0",
    "/collections/parcels/tiles/WebMercatorQuad/15/-1/0",
    "/collections/parcels/tiles/WebMercatorQuad/15/0/1e3",
    "/collections/parcels/tiles/WorldCRS84Quad/15/%C2%B2/0",
    "/collections/parcels/items/99999999999999999999999",
    "/collections/parcels/items/%EF%BF%BF",
])
def test_tile_and_item_addresses_out_of_range_are_4xx(live, path):
    r = requests.get(f"{live}{path}", timeout=30)
    assert r.status_code in (400, 404), (r.status_code, r.text[:300])
    assert r.json()["description"]


def test_a_legitimate_filter_still_passes(live):
    """The limits leave real filters alone: a few levels of parentheses and NOT, an escaped backslash."""
    ok = requests.get(f"{live}{ITEMS[4:]}", params={"filter": "NOT (NOT ((land_ref LIKE 'TF%') OR "
                                                              "land_ref LIKE '%\\\\'))"}, timeout=30)
    assert ok.status_code == 200, ok.text[:300]
    deep = "(" * 30 + "land_ref LIKE 'TF%'" + ")" * 30
    assert requests.get(f"{live}{ITEMS[4:]}", params={"filter": deep}, timeout=30).status_code == 200


# a lone surrogate as a JSON escape: real only once parsed, then neither UTF-8 nor psycopg can encode it
SURROGATE_READS = [
    ("parcels", {"filter-lang": "cql2-json", "filter": '{"op":"=","args":[{"property":"land_ref"},"\\ud800"]}'},
     "caractère invalide"),
    ("parcels", {"filter-lang": "cql2-json", "filter": '{"op":"like","args":[{"property":"land_ref"},"\\ud800%"]}'},
     "caractère invalide"),
    ("parcels", {"filter-lang": "cql2-json", "filter": '{"op":"in","args":[{"property":"land_ref"},["\\ud800"]]}'},
     "caractère invalide"),
    ("parcels", {"filter-lang": "cql2-json", "filter": '{"op":"=","args":[{"property":"\\ud800"},"x"]}'},
     "caractère invalide"),
    ("parcels", {"filter-lang": "cql2-json", "filter": '{"op":"=","args":[{"property":"land_ref"},"\\u0000"]}'},
     "caractère nul"),
    ("communes", {"cursor": _cursor({"a": "\ud800"})}, "cursor"),
    ("plans", {"cursor": _cursor({"a": "\udc00"})}, "cursor"),
    ("communes", {"cursor": _cursor({"\ud800": 1})}, "cursor"),
    ("communes", {"cursor": _cursor({"a": "\x00"})}, "cursor"),
]


@pytest.mark.parametrize("collection,params,word", SURROGATE_READS, ids=[str(p)[:60] for _, p, _ in SURROGATE_READS])
def test_a_lone_surrogate_in_a_filter_or_cursor_is_a_400(live, collection, params, word):
    r = requests.get(f"{live}/collections/{collection}/items", params=params, timeout=30)
    assert word in refused(r)
