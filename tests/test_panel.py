"""The land panel (GET /carte/terrain) over the sample territory: the instruction's numbers, FR/AR, page vs fragment,
errors as 4xx HTML, never an owner's name. Titles and points are read from the database, never hard-coded."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import quote

import psycopg
import pytest

from api.i18n import translate
from gis import l10n
from instruction.engine import Options, instruct
from instruction.land import LandRequest
from instruction.warning_text import warning_text
from notes.texts import text as note_text
from tests.helpers import app_settings

FETCH = {"X-Requested-With": "fetch"}
# Titles crossing two zones or more of a plan in force (the sample's zone limits cut some blocks).
SPLIT_TITLES = """
SELECT p.ref_text FROM parcels p
WHERE p.ref_kind = 'TF' AND (SELECT count(*) FROM zones z JOIN plans pl ON pl.id = z.plan_id
                             WHERE pl.status = 'homologue' AND ST_Intersects(z.geom, p.geom)) > 1
ORDER BY p.id LIMIT 400"""


@pytest.fixture(scope="module")
def sample_db(sample_url):
    """The session's sample territory (tests/conftest.py `sample_url`, shared with the search and the browser)."""
    return sample_url


@pytest.fixture(scope="module")
def sample_conn(sample_db):
    with psycopg.connect(sample_db, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def app(sample_db):
    from app import create_app

    return create_app(app_settings(sample_db, pool_min=1, pool_max=2))


@pytest.fixture
def client(app):
    """A client without cookies (the language asked by ?lang= is remembered in one)."""
    return app.test_client()


def _instruct(conn, ref: str, projet: bool = False) -> dict:
    return instruct(conn, LandRequest(refs=(ref,)), None, Options(apply_plans_in_inquiry=projet))


@pytest.fixture(scope="module")
def split_land(sample_conn):
    """A title in two zones or more, one of them a marginal piece, and its instruction result."""
    for (ref,) in sample_conn.execute(SPLIT_TITLES).fetchall():
        result = _instruct(sample_conn, ref)
        if len(result["rules"]) > 1 and any(r["marginal"] for r in result["rules"]) and not result["inquiry"]:
            return ref, result
    pytest.fail("aucun titre de l'échantillon dans deux zones dont une marginale")


@pytest.fixture(scope="module")
def inquiry_land(sample_conn):
    """A title whose zoning the plan in public inquiry would change, and its two results (in force, draft)."""
    rows = sample_conn.execute(
        "SELECT p.ref_text FROM parcels p JOIN zones z ON ST_Intersects(z.geom, p.geom) JOIN plans pl ON pl.id = z.plan_id "
        "WHERE pl.status = 'enquete_publique' AND p.ref_kind = 'TF' ORDER BY p.id LIMIT 80").fetchall()
    for (ref,) in rows:
        result = _instruct(sample_conn, ref)
        if result["inquiry"] and result["inquiry"][0]["zoning_changed"] and len(result["rules"]) == 1:
            return ref, result, _instruct(sample_conn, ref, projet=True)
    pytest.fail("aucun titre dont le plan en enquête change le zonage")


def _section(html: str) -> str:
    match = re.search(r'<section class="land-panel[^"]*".*?</section>', html, re.S)
    assert match, html[:500]
    return match.group(0)


def _zones(html: str) -> list[tuple[str, float, bool]]:
    """(code, share, marginal) of each zone card of the panel, in order."""
    return [(code, float(share), "land-panel-marginal" in classes) for classes, code, share in
            re.findall(r'<li class="land-panel-zone([^"]*)" data-zone="([^"]+)" data-share="([^"]+)"', html)]


def test_fragment_zones_and_shares_are_the_instructions(client, split_land):
    ref, result = split_land
    r = client.get(f"/carte/terrain?land={quote(ref)}", headers=FETCH)
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert html.lstrip().startswith("<section") and "<html" not in html  # a fragment, not a page
    assert _zones(html) == [(x["zone"]["code"], x["share_pct"], x["marginal"]) for x in result["rules"]]
    text = unescape(html)
    for rule in result["rules"]:
        assert l10n.area(rule["area_m2"], "fr") in text and l10n.percent(rule["share_pct"], "fr") in text
    marginal = [x for x in result["rules"] if x["marginal"]]
    assert text.count(translate("panel.marginal", "fr")) >= len(marginal)
    # the section carries the contract the map reads
    section = re.search(r"<section[^>]*>", html).group(0)
    assert f'data-land="{result["land"]["refs"][0]}"' in section and 'aria-labelledby="land-panel-title"' in section
    w, s, e, n = map(float, re.search(r'data-bbox="([^"]+)"', section).group(1).split(","))
    lon, lat = map(float, re.search(r'data-center="([^"]+)"', section).group(1).split(","))
    assert w < lon < e and s < lat < n and e - w < 0.01
    assert '<h2 id="land-panel-title" tabindex="-1">' in html and 'class="land-panel-close"' in html


def test_rules_are_readable_words_not_codes(client, split_land):
    ref, result = split_land
    text = unescape(client.get(f"/carte/terrain?land={quote(ref)}", headers=FETCH).get_data(as_text=True))
    main = next(x for x in result["rules"] if not x["marginal"])
    p = main["parameters"]
    if "storeys_max" in p:
        n = p["storeys_max"]["value"]
        assert (f"R+{n}" if n else translate("panel.rule.storeys_none", "fr")) in text
    if "cus_value" in p or "cos_value" in p:
        assert "surface de planchers constructible" in text or "couvrir au sol" in text
    for use in main["uses_forbidden"]:
        assert use in text
    visible = re.sub(r"<[^>]+>", " ", text)
    for code in ("road_widening", "enquete_publique", "homologue ", "True", "False", "None", "['", "_m2", "_pct"):
        assert code not in visible, code
    assert note_text("disclaimer", "fr") in text
    assert "/notes/indicative?land=" in text and "format=pdf" in text and "format=html" in text


def test_arabic_panel_is_right_to_left_with_arabic_numbers(client, split_land):
    ref, result = split_land
    page = unescape(client.get(f"/carte/terrain?land={quote(ref)}&lang=ar").get_data(as_text=True))
    assert '<html lang="ar" dir="rtl">' in page
    assert translate("panel.zones", "ar") in page and note_text("disclaimer", "ar") in page
    for rule in result["rules"]:
        assert l10n.area(rule["area_m2"], "ar") in page
        assert translate("panel.zone", "ar", code=rule["zone"]["code"]) in page
    big = next((x for x in result["rules"] if x["area_m2"] >= 1000), None)
    if big:  # « 1.234,56 » in Arabic, « 1 234,56 » in French
        assert l10n.number(big["area_m2"], "ar") in page and l10n.number(big["area_m2"], "fr") not in page
    assert "&lang=ar" in page.replace("&amp;", "&")  # the note's links keep the language
    assert translate("panel.zone", "fr", code=result["rules"][0]["zone"]["code"]) not in page


def test_page_for_a_person_fragment_for_the_script(client, split_land):
    ref, result = split_land
    page = client.get(f"/carte/terrain?land={quote(ref)}").get_data(as_text=True)
    assert page.lstrip().lower().startswith("<!doctype html>") and "panel.css" in page
    assert _section(page) and translate("panel.view_on_map", "fr") in page
    from urllib.parse import urlencode

    assert f'href="/?{urlencode({"land": result["land"]["refs"][0]})}"' in page
    fragment = client.get(f"/carte/terrain?land={quote(ref)}&fragment=1").get_data(as_text=True)
    assert fragment.lstrip().startswith("<section") and translate("panel.view_on_map", "fr") not in fragment
    assert _zones(fragment) == _zones(page)


def test_point_designates_the_parcel_under_it(client, sample_conn):
    ref, lon, lat = sample_conn.execute(
        "SELECT ref_text, ST_X(c), ST_Y(c) FROM (SELECT ref_text, ST_Transform(ST_PointOnSurface(geom), 4326) c "
        "FROM parcels WHERE ref_kind = 'TF' ORDER BY id LIMIT 1 OFFSET 100) p").fetchone()
    expected = _instruct(sample_conn, ref)["land"]["refs"][0]
    html = client.get(f"/carte/terrain?lon={lon}&lat={lat}", headers=FETCH).get_data(as_text=True)
    assert f'data-land="{expected}"' in html


def test_inquiry_says_what_the_draft_would_change_and_projet_applies_it(client, inquiry_land):
    ref, in_force, draft = inquiry_land
    html = unescape(client.get(f"/carte/terrain?land={quote(ref)}", headers=FETCH).get_data(as_text=True))
    box = re.search(r'<div class="land-panel-inquiry".*?</div>', html, re.S).group(0)
    proposed = [z for z in in_force["inquiry"][0]["zones"] if not z["marginal"]]
    assert proposed and all(translate("panel.zone", "fr", code=z["code"]) in box for z in proposed)
    assert in_force["inquiry"][0]["plan"]["code"] in box and "projet=1" in box
    assert "→" in box  # the rules that would differ
    assert _zones(html)[0][0] == in_force["rules"][0]["zone"]["code"]
    applied = unescape(client.get(f"/carte/terrain?land={quote(ref)}&projet=1", headers=FETCH).get_data(as_text=True))
    assert _zones(applied) == [(x["zone"]["code"], x["share_pct"], x["marginal"]) for x in draft["rules"]]
    assert 'data-projet="1"' in applied and translate("panel.inquiry_applied", "fr") in applied
    box = re.search(r'<div class="land-panel-inquiry".*?</div>', applied, re.S).group(0)
    assert translate("panel.zone", "fr", code=in_force["rules"][0]["zone"]["code"]) in box


def _point_off_parcels(conn) -> tuple[float, float]:
    """A point in a street of the sample (inside a road's surface, in no parcel), in WGS 84."""
    return conn.execute(
        "SELECT ST_X(ST_Transform(s, 4326)), ST_Y(ST_Transform(s, 4326)) FROM "
        "(SELECT ST_PointOnSurface(r.geom) s FROM roads r ORDER BY r.id) x "
        "WHERE NOT EXISTS (SELECT 1 FROM parcels p WHERE ST_Intersects(p.geom, x.s)) LIMIT 1").fetchone()


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_errors_are_4xx_html_in_both_languages(client, sample_conn, lang):
    number = sample_conn.execute("SELECT max(ref_number) + 1 FROM parcels WHERE ref_kind = 'TF'").fetchone()[0]
    lon, lat = _point_off_parcels(sample_conn)
    cases = [(f"land=TF%20{number}/C", 404, "panel.error.unknown_title"),
             ("land=lot%20B", 400, "panel.error.bad_title"),
             ("land=TF%201/C&date=hier", 400, "panel.error.bad_date"),
             ("land=TF%201/C&date=1900-01-01", 400, "panel.error.early_date"),
             ("lon=abc&lat=1", 400, "panel.error.bad_point"),
             ("lon=2.35&lat=48.85", 400, "panel.error.outside"),
             (f"lon={lon}&lat={lat}", 404, "panel.error.no_parcel"),
             ("", 400, "panel.error.no_land")]
    for query, status, key in cases:
        for headers in (FETCH, {"Accept": "text/html"}):
            r = client.get(f"/carte/terrain?{query}&lang={lang}", headers=headers)
            body = unescape(r.get_data(as_text=True))
            assert r.status_code == status and r.mimetype == "text/html", (query, r.status_code)
            expected = translate(key, lang, refs=f"TF {number}/C", text="lot B" if "lot" in query else "hier")
            assert expected in body and 'class="land-panel land-panel-error"' in body, (query, key)
            assert ("<html" in body) == (headers is not FETCH)
            if lang == "ar":
                assert any("\u0600" <= ch <= "\u06ff" for ch in translate(key, "ar"))


@pytest.mark.parametrize("day", ["2026-W01-1", "20260101"])
def test_a_day_not_written_aaaa_mm_jj_is_refused(client, split_land, day):
    r = client.get(f"/carte/terrain?land={quote(split_land[0])}&date={day}", headers=FETCH)
    assert r.status_code == 400
    assert translate("panel.error.bad_date", "fr", text=day) in unescape(r.get_data(as_text=True))


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_a_day_before_every_rule_is_said_in_words(client, split_land, lang):
    r = client.get(f"/carte/terrain?land={quote(split_land[0])}&date=0001-01-01&lang={lang}")
    body = unescape(r.get_data(as_text=True))
    assert r.status_code == 400 and translate("panel.error.early_date", lang) in body
    assert "thresholds" not in body and "rule_sets" not in body


def test_no_owner_name_ever(client, sample_conn, split_land, inquiry_land):
    for ref in (split_land[0], inquiry_land[0]):
        names = [n for (n,) in sample_conn.execute(
            "SELECT o.full_name FROM parcel_owners o JOIN parcels p ON p.id = o.parcel_id WHERE p.ref_text = %s",
            (ref,)).fetchall()]
        assert names, "the sample gives every title an owner"
        for query in (f"land={quote(ref)}", f"land={quote(ref)}&lang=ar", f"land={quote(ref)}&projet=1"):
            for headers in (FETCH, {}):
                body = unescape(client.get(f"/carte/terrain?{query}", headers=headers).get_data(as_text=True))
                assert not [n for n in names if n in body]


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_official_link_leads_to_the_request_form_with_the_titles(client, split_land, lang):
    ref, result = split_land
    html = unescape(client.get(f"/carte/terrain?land={quote(ref)}&lang={lang}", headers=FETCH).get_data(as_text=True))
    href = re.search(r'class="land-panel-button land-panel-official" href="([^"]+)"', html).group(1)
    refs = ";".join(result["land"]["refs"])
    assert href == "/espace/demandes/nouvelle?refs=" + quote(refs, safe=";")
    r = client.get(href)  # an anonymous visitor signs in first, then comes back to the form
    assert r.status_code == 303 and r.headers["Location"] == "/espace/connexion?suivant=" + quote(href, safe="/")
    old = client.get(f"/carte/note-officielle?land={quote(refs)}")  # the former page of the steps, in bookmarks
    assert old.status_code == 301 and old.headers["Location"] == href


def test_several_titles_are_one_land(client, sample_conn):
    refs = [r for (r,) in sample_conn.execute("SELECT ref_text FROM parcels WHERE ref_kind = 'TF' ORDER BY id "
                                              "LIMIT 2 OFFSET 300").fetchall()]
    result = instruct(sample_conn, LandRequest(refs=tuple(refs)), None, Options())
    html = unescape(client.get(f"/carte/terrain?land={quote(';'.join(refs))}", headers=FETCH).get_data(as_text=True))
    assert f'data-land="{";".join(result["land"]["refs"])}"' in html
    assert l10n.area(result["land"]["area_m2"], "fr") in html
    if result["land"]["parts"] > 1:
        warning = next(w for w in result["warnings"] if w["code"] == "titres_non_contigus")
        assert warning_text(warning, result, "fr") in html
