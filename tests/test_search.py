"""The search box against the real database: GET /api/recherche and /recherche over the sample territory.

Every expectation is read from the database (a title, an address, a commune, a parcel's interior point), never
written down from the sample's output.
"""

from __future__ import annotations

import re
from urllib.parse import quote_plus

import psycopg
import pytest

from gis.search_text import fold
from tests.helpers import SAMPLE_PARCELS


@pytest.fixture(scope="module")
def sample_db(sample_url):
    """The session's sample territory (tests/conftest.py `sample_url`, shared with the panel and the browser): read
    only here."""
    return sample_url


@pytest.fixture(scope="module")
def client(sample_db):
    from app import create_app
    from tests.helpers import app_settings

    return create_app(app_settings(sample_db, pool_min=1, pool_max=2)).test_client()


@pytest.fixture(scope="module")
def db(sample_db):
    with psycopg.connect(sample_db, autocommit=True) as conn:
        yield conn


def ask(client, q: str, **params) -> dict:
    response = client.get("/api/recherche", query_string={"q": q, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def a_title(db) -> tuple[int, str, str]:
    """A titre foncier with a letter suffix: (number, suffix, canonical text)."""
    row = db.execute("SELECT ref_number, ref_suffix, land_ref FROM parcels WHERE ref_kind = 'TF' "
                     "AND ref_suffix ~ '^[A-Z]+$' ORDER BY id LIMIT 1 OFFSET 17").fetchone()
    assert row, "the sample has titles with a letter suffix"
    return row


def interior_point(db, land_ref: str) -> dict:
    return db.execute(
        "SELECT ST_X(p) AS x, ST_Y(p) AS y, ST_X(ST_Transform(p, 4326)) AS lon, ST_Y(ST_Transform(p, 4326)) AS lat "
        "FROM (SELECT ST_PointOnSurface(geom) AS p FROM parcels WHERE land_ref = %s) AS s",
        (land_ref,)).fetchone()


@pytest.fixture(scope="module")
def dict_db(sample_db):
    from psycopg.rows import dict_row

    with psycopg.connect(sample_db, autocommit=True, row_factory=dict_row) as conn:
        yield conn


# ----------------------------------------------------------------------------------------------- titles


def test_three_spellings_of_a_title_find_it(client, db):
    number, suffix, land_ref = a_title(db)
    for spelling in (land_ref, f"tf{number}-{suffix.lower()}", f"T.{number}/{suffix}", f"titre {number} {suffix}"):
        answer = ask(client, spelling)
        assert answer["understood"]["kind"] == "titre"
        first = answer["results"][0]
        assert (first["kind"], first["label"], first["land"]) == ("parcel", land_ref, land_ref), spelling
        w, s, e, n = first["bbox"]
        assert w <= first["center"][0] <= e and s <= first["center"][1] <= n
        assert answer["hint"] is None


def test_a_partial_title_suggests_titles_that_start_with_it(client, db):
    number, _suffix, land_ref = a_title(db)
    start = f"TF {str(number)[:3]}"
    answer = ask(client, start, limit=20)
    labels = [r["label"] for r in answer["results"]]
    expected = [r[0] for r in db.execute("SELECT land_ref FROM parcels WHERE land_ref LIKE %s "
                                         "ORDER BY land_ref COLLATE \"C\" LIMIT 20", (start + "%",))]
    assert labels == expected and labels
    whole = ask(client, f"TF {number}")  # the title without its suffix: that title first
    assert whole["results"][0]["land"] == land_ref


# --------------------------------------------------------------------------------------------- points


def test_lambert_coordinates_of_a_parcel_find_it(client, db, dict_db):
    _n, _s, land_ref = a_title(db)
    point = interior_point(dict_db, land_ref)
    for text in (f"{point['x']:.2f} {point['y']:.2f}", f"X={point['x']:.1f} Y={point['y']:.1f}",
                 f"{point['x']:.2f};{point['y']:.2f}".replace(".", ",")):
        answer = ask(client, text)
        assert answer["understood"]["kind"] == "lambert", text
        (result,) = answer["results"]
        assert (result["kind"], result["land"]) == ("point", land_ref), text
        assert result["center"] == pytest.approx([point["lon"], point["lat"]], abs=2e-6)


def test_lambert_coordinates_given_as_y_x_are_read_back(client, db, dict_db):
    _n, _s, land_ref = a_title(db)
    point = interior_point(dict_db, land_ref)
    answer = ask(client, f"{point['y']:.2f} {point['x']:.2f}")
    assert answer["results"][0]["land"] == land_ref
    assert "Y, X" in answer["understood"]["text"]


def test_lon_lat_decimal_and_dms_find_the_parcel(client, db, dict_db):
    _n, _s, land_ref = a_title(db)
    point = interior_point(dict_db, land_ref)
    lon, lat = point["lon"], point["lat"]

    def dms(value: float) -> tuple[int, int, float]:
        value = abs(value)
        degrees, minutes = int(value), int(value * 60) % 60
        return degrees, minutes, round((value * 3600) % 60, 2)

    (la_d, la_m, la_s), (lo_d, lo_m, lo_s) = dms(lat), dms(lon)
    for text in (f"{lon:.6f}, {lat:.6f}", f"{lat:.6f} {lon:.6f}", f"{la_d}°{la_m}'{la_s}\"N {lo_d}°{lo_m}'{lo_s}\"W",
                 f"{la_d} {la_m} {la_s} N {lo_d} {lo_m} {lo_s} W", f"{la_d}°{la_m}′{la_s}″N {lo_d}°{lo_m}′{lo_s}″W"):
        answer = ask(client, text)
        assert answer["understood"]["kind"] == "lonlat", text
        assert [(r["kind"], r["land"]) for r in answer["results"]] == [("point", land_ref)], text


def test_a_point_off_the_territory_says_so(client):
    answer = ask(client, "500000 500000")  # Nord Maroc metres, far from the sample
    assert answer["results"] == [] and "hors du territoire" in answer["hint"]


# ------------------------------------------------------------------------------------------ addresses


def test_an_address_finds_its_parcel(client, db):
    address, land_ref = db.execute(
        "SELECT address, min(land_ref) FROM parcels WHERE land_ref IS NOT NULL GROUP BY address "
        "HAVING count(*) = 1 ORDER BY address LIMIT 1").fetchone()
    number, street = re.fullmatch(r"(\d+), (.+)", address).groups()
    for text in (f"{number} {street}", f"{street.lower()} {number}", f"{number}, {street.upper()}"):
        answer = ask(client, text, limit=20)
        assert answer["understood"]["kind"] == "adresse", text
        assert land_ref in [r["land"] for r in answer["results"]], text
        assert all(fold(r["label"]) == fold(address) for r in answer["results"])


def test_a_misspelt_street_still_finds_the_address(client, db):
    address = db.execute("SELECT address FROM parcels WHERE address LIKE '%%, Rue Ibn %%' ORDER BY id LIMIT 1").fetchone()
    assert address is not None, "the sample has addresses on « Rue Ibn … » streets"
    number, street = re.fullmatch(r"(\d+), (.+)", address[0]).groups()
    answer = ask(client, f"{number} {street.replace('Ibn', 'Ibnou')}", limit=20)
    assert answer["results"] and all(fold(r["label"]) == fold(address[0]) for r in answer["results"])


def test_a_street_alone_gives_the_street(client, db):
    name = db.execute("SELECT name FROM roads WHERE name LIKE 'Rue %%' ORDER BY name LIMIT 1").fetchone()[0]
    answer = ask(client, name.lower())
    assert answer["results"][0]["label"] == name
    assert answer["results"][0]["kind"] == "address" and answer["results"][0]["land"] is None


# ------------------------------------------------------------------------------------------- communes


def test_a_commune_by_its_name_without_accents_or_case(client, db):
    rows = db.execute("SELECT code, name FROM communes ORDER BY name").fetchall()
    for _code, name in rows:
        answer = ask(client, fold(name).upper())
        assert answer["results"][0]["kind"] == "commune"
        assert answer["results"][0]["label"] == name
    accented = [name for _c, name in rows if not name.isascii()]
    assert accented, "the sample has a commune with an accent"
    assert ask(client, fold(accented[0]))["results"][0]["label"] == accented[0]


def test_a_commune_in_arabic_pages(client, db):
    name = db.execute("SELECT name FROM communes ORDER BY name LIMIT 1").fetchone()[0]
    answer = ask(client, name, lang="ar")
    assert re.search("[\u0600-\u06ff]", answer["understood"]["text"])
    assert re.search("[\u0600-\u06ff]", answer["results"][0]["detail"])


# --------------------------------------------------------------------------------------- nothing found


@pytest.mark.parametrize("text", ["zzqxw", "?!", "%", "_", "%%%", "TF 99999999/ZZ"])
def test_nonsense_gives_no_result_and_a_hint(client, text):
    answer = ask(client, text)
    assert answer["results"] == []
    assert answer["hint"] and answer["understood"]["text"]


def test_the_hint_is_in_arabic_when_asked(client):
    answer = ask(client, "zzqxw", lang="ar")
    assert re.search("[\u0600-\u06ff]", answer["hint"])


def test_wildcards_are_characters_in_sql(db):
    from layers.search import addresses, communes, like_prefix, titles

    assert like_prefix("a%b_c\\") == "a\\%b\\_c\\\\%"
    assert titles(db, ["TF %", "%", "_"], 20) == []
    assert addresses(db, "1", "%", 20) == []
    assert communes(db, "%", 20) == [] and communes(db, "_", 20) == []


@pytest.mark.parametrize("text", ["' OR 1=1 --", "'; DROP TABLE parcels; --", "TF 1' UNION SELECT full_name FROM "
                                  "parcel_owners --", "\\", "%' OR '%'='", "rue %", "1 rue _"])
def test_sql_looking_text_is_just_text(client, db, text):
    answer = ask(client, text, limit=20)
    assert len(answer["results"]) <= 20
    assert db.execute("SELECT count(*) FROM parcels").fetchone()[0] == SAMPLE_PARCELS


def test_no_owner_in_an_answer(client, db):
    land_ref, owner = db.execute("SELECT p.land_ref, o.full_name FROM parcels p JOIN parcel_owners o ON o.parcel_id = p.id "
                                 "WHERE p.land_ref IS NOT NULL ORDER BY p.id LIMIT 1").fetchone()
    body = client.get("/api/recherche", query_string={"q": land_ref}).get_data(as_text=True)
    assert land_ref in body and owner not in body


# --------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("params", "words"), [({"q": ""}, "vide"), ({"q": "   "}, "vide"), ({}, "vide"),
                                               ({"q": "x" * 201}, "200 caractères"), ({"q": "a", "limit": "0"}, "limit"),
                                               ({"q": "a", "limit": "21"}, "limit"), ({"q": "a", "limit": "2.5"}, "limit"),
                                               ({"q": "a", "lang": "en"}, "lang")])
def test_bad_requests_are_400_in_french(client, params, words):
    for accept in ("application/json", "*/*"):  # the map's fetch(), curl
        response = client.get("/api/recherche", query_string=params, headers={"Accept": accept})
        assert response.status_code == 400
        assert response.mimetype == "application/json"
        assert words in response.get_json()["message"]
    page = client.get("/api/recherche", query_string={**params, "lang": "fr"} if "lang" not in params else params,
                      headers={"Accept": "text/html,*/*;q=0.8"})  # a person who opened the address
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert words in page.get_data(as_text=True)


def test_the_longest_text_allowed_is_answered(client):
    assert client.get("/api/recherche", query_string={"q": "rue " + "a" * 196}).status_code == 200


def test_a_nul_character_is_refused(client):
    assert client.get("/api/recherche?q=TF%201%00").status_code == 400


# ----------------------------------------------------------------------------------------------- page


def test_the_page_lists_links_to_the_map(client, db):
    _n, _s, land_ref = a_title(db)
    response = client.get("/recherche", query_string={"q": land_ref, "lang": "fr"}, headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert f'href="/?land={quote_plus(land_ref)}"' in page
    assert 'lang="fr"' in page


def test_the_page_links_a_commune_by_lon_lat(client, db):
    name = db.execute("SELECT name FROM communes ORDER BY name LIMIT 1").fetchone()[0]
    center = ask(client, name)["results"][0]["center"]
    page = client.get("/recherche", query_string={"q": name}).get_data(as_text=True)
    assert f'href="/?lon={center[0]:.6f}&amp;lat={center[1]:.6f}"' in page


def test_the_page_in_arabic_is_right_to_left(client, db):
    _n, _s, land_ref = a_title(db)
    page = client.get("/recherche", query_string={"q": land_ref, "lang": "ar"}).get_data(as_text=True)
    assert 'dir="rtl"' in page and "البحث" in page


def test_the_page_refuses_an_empty_text_in_the_persons_language(client):
    french = client.get("/recherche", query_string={"q": "", "lang": "fr"})  # the client keeps the lang cookie
    assert french.status_code == 400 and "recherche vide" in french.get_data(as_text=True)
    arabic = client.get("/recherche", query_string={"q": "", "lang": "ar"})
    assert arabic.status_code == 400 and "البحث فارغ" in arabic.get_data(as_text=True)


def test_the_page_without_a_question_is_the_form(client):
    response = client.get("/recherche", query_string={"lang": "fr"})
    assert response.status_code == 200 and 'name="q"' in response.get_data(as_text=True)


def test_the_page_says_what_was_understood_when_nothing_is_found(client):
    page = client.get("/recherche", query_string={"q": "zzqxw", "lang": "fr"}).get_data(as_text=True)
    assert "Aucun résultat" in page and "zzqxw" in page


# -------------------------------------------------------------------------------------------- folding


TRICKY = ["Straße … أحمد ﬁn ½", "STRASSE ẞ", "l’Œuvre œuf", "Æther æ", "ﬀ ﬂ ﬃ ﬄ ﬅ ﬆ", "Øster Łódź Đakovo Þór",
          "أحمد إدريس آمنة ٱلله", "مؤمن سائق مستشفى مدرسة", "شَارِع مُحَمَّد الخَامِس", "زنقة ـ ابن", "１２ Ｒｕｅ ｉｂｎ",
          "١٢ زنقة ۳۴", "Rue d'Alger", "Rue d’Alger", "Rue d`Alger", "Rue dʼAlger", "12\u00a0rue\u202fibn\u2009sina",
          "tab\tnew\nline", "، شارع؛ الحسن", "“quotes” ″", "ΣΊΣΥΦΟΣ", "İstanbul ı", "x²", ""]


def test_the_database_folds_as_python_does(db):
    texts = [r[0] for r in db.execute("SELECT DISTINCT address FROM parcels UNION SELECT name FROM communes "
                                      "UNION SELECT DISTINCT name FROM roads WHERE name IS NOT NULL")]
    texts += ["Aïn-Chock", "BEN M’SICK", "Maârif", "Hay Hassani", "ÉÈÊË àâä ç", "N° 12, rue Ibn-Sina", "l'Œuvre",
              "  double   space  ", "Ḥasan Ṣāliḥ", "Derb «Sultan»", *TRICKY]
    folded = db.execute("SELECT t, urbasig_fold(t) FROM unnest(%s::text[]) AS t", (texts,)).fetchall()
    assert [(t, f) for t, f in folded if f != fold(t)] == []


def test_an_address_with_hamza_matches_by_prefix_without_it(conn):
    """« أحمد » is often typed « احمد »: both sides fold the hamza's seat away, so the prefix index meets it."""
    from tests.helpers import add_commune, box

    add_commune(conn, "ANFA", box(0, 0, 400, 400), "Anfa")
    conn.execute("INSERT INTO parcels (ref_kind, ref_number, ref_suffix, commune_code, address, geom) VALUES "
                 "('TF', 9700, 'C', 'ANFA', '7، شارع أحمد الإدريسي', ST_Multi(ST_GeomFromText(%s, 26191)))",
                 (box(0, 0, 25, 25).wkt,))
    for typed in ("7 شارع احمد ال", "7 شارع أحمد الإ", "7، شارع أَحمد"):
        hits = conn.execute("SELECT land_ref FROM parcels WHERE address_fold LIKE %s",
                            (fold(typed) + "%",)).fetchall()
        assert hits == [("TF 9700/C",)], typed


def test_a_numbered_street_is_a_street_and_its_houses_are_addresses(conn):
    from gis.search_text import understand
    from layers.search import find
    from tests.helpers import add_commune, box

    add_commune(conn, "ANFA", box(0, 0, 400, 400), "Anfa")
    conn.execute("INSERT INTO roads (name, width_m, commune_code, geom) VALUES ('Rue 136', 12, 'ANFA', "
                 "ST_Multi(ST_GeomFromText(%s, 26191)))", (box(0, 100, 400, 12).wkt,))
    for number, x in ((12, 0), (136, 30)):
        conn.execute("INSERT INTO parcels (ref_kind, ref_number, ref_suffix, commune_code, address, geom) VALUES "
                     "('TF', %s, 'C', 'ANFA', %s, ST_Multi(ST_GeomFromText(%s, 26191)))",
                     (9000 + number, f"{number}, Rue 136", box(x, 112, 25, 25).wkt))
    conn.commit()
    street, _ = find(conn, understand("rue 136"), 8)  # the street, not house 136 of « rue »
    assert [(h["kind"], h["street"]) for h in street] == [("street", "Rue 136")]
    house, _ = find(conn, understand("r. 136 12"), 8)  # house 12 of the street Rue 136
    assert [(h["kind"], h["land_ref"]) for h in house] == [("address", "TF 9012/C")]


def test_the_api_does_not_remember_the_language_nor_cookie_a_public_answer(sample_db):
    """`?lang=ar` on /api/recherche (an answer shared caches may keep) sets no cookie and switches no page; on a
    page it is remembered."""
    from app import create_app
    from tests.helpers import app_settings

    app = create_app(app_settings(sample_db, pool_min=1, pool_max=2))
    with app.test_client() as browser:
        r = browser.get("/api/recherche", query_string={"q": "anfa", "lang": "ar"})
        assert r.status_code == 200 and "public" in r.headers["Cache-Control"]
        assert "Set-Cookie" not in r.headers
        page = browser.get("/recherche", query_string={"q": "anfa"}).get_data(as_text=True)
        assert 'lang="fr"' in page  # still the person's French
        r = browser.get("/recherche", query_string={"q": "anfa", "lang": "ar"})
        assert "lang=ar" in r.headers.get("Set-Cookie", "") and "public" not in r.headers.get("Cache-Control", "")
        assert 'lang="ar"' in browser.get("/recherche", query_string={"q": "anfa"}).get_data(as_text=True)


def test_the_page_holds_no_inline_style_or_script(client, db):
    _n, _s, land_ref = a_title(db)
    for params in ({"q": land_ref}, {"q": "zzqxw", "lang": "ar"}, {"q": ""}, {}):
        body = client.get("/recherche", query_string=params).get_data(as_text=True)
        assert "<style" not in body and "style=" not in body and "<script" not in body, params
        assert 'href="/static/css/search-page.css"' in body
