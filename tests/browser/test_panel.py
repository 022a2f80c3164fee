"""The land panel in the map page: `urbasig:select` → the panel, focus on its title, `urbasig:land` for the map,
the indicative note's PDF holding the zone; the close button; phone (bottom sheet) and desktop screenshots."""

from __future__ import annotations

import shutil
import subprocess

import psycopg
import pytest

from tests.browser.conftest import shoot, wait_until

# A title of the sample crossed by a road widening where a plan in public inquiry is pending: the richest panel.
RICH_TITLE = """
SELECT p.ref_text FROM parcels p
JOIN prescriptions w ON w.kind = 'road_widening' AND ST_Intersects(w.geom, p.geom)
JOIN zones z ON ST_Intersects(z.geom, p.geom) JOIN plans pl ON pl.id = z.plan_id AND pl.status = 'enquete_publique'
WHERE p.ref_kind = 'TF' AND ST_Area(ST_Intersection(w.geom, p.geom)) > 20
ORDER BY p.id LIMIT 1"""
RECORD = """() => {
  window.__lands = [];
  document.addEventListener("urbasig:land", (e) => window.__lands.push(e.detail));
}"""


@pytest.fixture(scope="module")
def rich(sample_url):
    """The title (as written in the register) and the zone code the instruction gives it."""
    from instruction.engine import instruct
    from instruction.land import LandRequest

    with psycopg.connect(sample_url, autocommit=True) as conn:
        (ref,) = conn.execute(RICH_TITLE).fetchone()
        result = instruct(conn, LandRequest(refs=(ref,)))
    return ref, result["land"]["refs"][0], result["rules"][0]["zone"]["code"]


def _select(page, ref: str) -> None:
    page.evaluate(RECORD)
    page.evaluate("(land) => document.dispatchEvent(new CustomEvent('urbasig:select', {detail: {land}}))", ref)
    wait_until(page, "document.querySelector('#panel section.land-panel') !== null")


def _pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "note.pdf"
    path.write_bytes(data)
    exe = shutil.which("pdftotext")
    assert exe, "pdftotext (poppler-utils) is installed by scripts/system-deps.sh"
    return subprocess.run([exe, "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_select_opens_the_panel_focused_and_the_pdf_holds_the_zone(page, site, rich, tmp_path):
    ref, normalized, zone = rich
    page.goto(site + "/")
    wait_until(page, "window.__urbasigMap !== undefined && window.__urbasigMap.loaded()")
    _select(page, ref)
    assert page.evaluate("document.activeElement.id") == "land-panel-title"
    assert normalized in page.inner_text("#panel h2")
    assert page.get_attribute("#panel section.land-panel", "data-land") == normalized
    detail = wait_until(page, "window.__lands.length && window.__lands[0]")
    assert detail["land"] == normalized and len(detail["bbox"]) == 4 and len(detail["center"]) == 2
    assert page.locator("#panel .land-panel-zone").first.get_attribute("data-zone") == zone
    href = page.get_attribute("#panel a.land-panel-pdf", "href")
    response = page.request.get(site + href)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    text = _pdf_text(response.body(), tmp_path)
    assert normalized in text and zone in text
    shoot(page, "map-panel.png")
    page.click("#panel .land-panel-close")
    wait_until(page, "document.querySelector('#panel').children.length === 0")
    assert page.evaluate("window.__lands[window.__lands.length - 1]") is None


def test_keyboard_close_and_draft_toggle(page, site, rich):
    ref, normalized, _ = rich
    page.goto(site + "/")
    _select(page, ref)
    page.focus("#panel a.land-panel-toggle")
    page.keyboard.press("Enter")  # the draft in public inquiry applied, in the map's panel
    wait_until(page, "document.querySelector('#panel section.land-panel')?.dataset.projet === '1'")
    assert page.evaluate("document.activeElement.id") == "land-panel-title"
    assert page.evaluate("window.__lands[window.__lands.length - 1].projet") is True
    page.keyboard.press("Escape")
    wait_until(page, "document.querySelector('#panel').children.length === 0")


def test_phone_bottom_sheet_and_arabic(phone, site, rich):
    ref, normalized, _ = rich
    phone.goto(site + "/?lang=ar")
    wait_until(phone, "window.__urbasigMap !== undefined && window.__urbasigMap.loaded()")
    _select(phone, ref)
    assert phone.evaluate("document.documentElement.dir") == "rtl"
    box = phone.locator("#panel").bounding_box()
    assert box["width"] >= 380 and box["y"] > 200 and box["y"] + box["height"] <= 845  # a sheet over the map's foot
    assert "المنطقة" in phone.inner_text("#panel")
    shoot(phone, "map-panel-phone.png")


TIMED_SELECT = """async (land) => {
  const panel = document.getElementById("panel");
  panel.replaceChildren();
  const start = performance.now();
  const shown = new Promise((resolve) => {
    const seen = new MutationObserver(() => {
      if (panel.querySelector("section.land-panel")) { seen.disconnect(); resolve(performance.now() - start); }
    });
    seen.observe(panel, { childList: true });
  });
  document.dispatchEvent(new CustomEvent("urbasig:select", { detail: { land } }));
  return await shown;
}"""


def test_ten_titles_in_a_row_each_get_their_own_panel(page, site, sample_url):
    """Ten selections in a row: each panel is the one of its title (its time is measured by bench/web.py)."""
    with psycopg.connect(sample_url, autocommit=True) as conn:
        refs = [r for (r,) in conn.execute("SELECT land_ref FROM parcels WHERE ref_kind = 'TF' ORDER BY id "
                                           "LIMIT 10 OFFSET 500").fetchall()]
    page.goto(site + "/")
    for ref in refs:
        page.evaluate(TIMED_SELECT, ref)
        assert page.get_attribute("#panel section.land-panel", "data-land") == ref


def test_unknown_title_shows_the_error_in_the_panel(page, site, sample_url, watch):
    """The 404 fragment is shown in the panel. Chromium logs every 4xx answer to fetch as a console error: that one
    line, the status the panel is meant to get, is the only one taken off the watch (any other still fails)."""
    with psycopg.connect(sample_url, autocommit=True) as conn:
        (number,) = conn.execute("SELECT max(ref_number) + 1 FROM parcels WHERE ref_kind = 'TF'").fetchone()
    page.goto(site + "/")
    _select(page, f"TF {number}/C")
    assert page.evaluate("document.activeElement.id") == "land-panel-title"
    assert f"TF {number}/C" in page.inner_text("#panel .land-panel-error")
    assert page.evaluate("window.__lands.length") == 0  # nothing for the map to highlight
    expected = "Failed to load resource: the server responded with a status of 404 (NOT FOUND)"
    assert watch.errors.count(expected) == 1
    watch.errors.remove(expected)
