"""The search results page (/recherche) in Chromium: French and Arabic, desktop and phone, each result a link
that the map opens; nothing fetched off 127.0.0.1, no console error (the fixtures check both)."""

from __future__ import annotations

from urllib.parse import quote_plus

import psycopg

from tests.browser.conftest import shoot


def _a_title(sample_url: str) -> str:
    with psycopg.connect(sample_url) as conn:
        return conn.execute("SELECT land_ref FROM parcels WHERE ref_kind = 'TF' ORDER BY id LIMIT 1").fetchone()[0]


def test_the_page_finds_a_title_and_links_to_the_map(page, site, sample_url):
    land_ref = _a_title(sample_url)
    number, suffix = land_ref[3:].split("/")
    page.goto(f"{site}/recherche?lang=fr&q={quote_plus(f'tf{number}-{suffix.lower()}')}")
    link = page.locator(".search-page-results a").first
    assert link.inner_text() == land_ref
    assert link.get_attribute("href") == f"/?land={quote_plus(land_ref)}"
    shoot(page, "search-page.png", full_page=True)


def test_the_form_submits_and_says_what_was_understood(page, site):
    page.goto(f"{site}/recherche?lang=fr")
    page.fill("#search-page-q", "zzqxw")
    page.keyboard.press("Enter")
    page.wait_for_url("**/recherche?q=zzqxw")
    assert "zzqxw" in page.locator(".search-page-understood").inner_text()
    assert page.locator(".search-page-hint").is_visible()


def test_the_page_in_arabic_on_a_phone(phone, site, sample_url):
    with psycopg.connect(sample_url) as conn:
        name = conn.execute("SELECT name FROM communes ORDER BY name LIMIT 1").fetchone()[0]
    phone.goto(f"{site}/recherche?lang=ar&q={quote_plus(name)}")
    assert phone.evaluate("document.documentElement.dir") == "rtl"
    assert phone.locator(".search-page-results a").first.inner_text() == name
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    shoot(phone, "search-page-ar-phone.png", full_page=True)
