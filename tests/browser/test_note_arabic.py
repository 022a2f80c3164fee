"""The indicative note's page in Arabic: right to left, Arabic labels, numbers the Moroccan way; French kept."""

import psycopg

from gis import l10n
from instruction import vocabulary
from tests.browser.conftest import shoot, wait_until


def _titled_land_in_a_zone(db_url: str) -> str:
    """A parcel of the sample lying in a zone of a plan (read from the database, never hard-coded)."""
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT p.land_ref FROM parcels p JOIN zones z ON ST_Intersects(z.geom, p.geom) "
                            "WHERE p.land_ref LIKE 'TF %%' ORDER BY p.id LIMIT 1").fetchone()[0]


def test_arabic_note_page_is_right_to_left(page, site, sample_url):
    land = _titled_land_in_a_zone(sample_url)
    page.goto(f"{site}/notes/indicative?land={land}&format=html&lang=ar")
    wait_until(page, "document.readyState === 'complete'")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    body = page.inner_text("body")
    assert "مذكرة المعلومات التعميرية" in body and land in body
    assert vocabulary.label("plan_kind", "PA", "ar") in body
    area = page.inner_text("table.ident td.num")
    assert area.replace("\u00a0", " ").endswith(" m²") and "," in area
    assert l10n.NBSP + "m²" in area and " " not in area.split(l10n.NBSP)[0]  # 1.234,56: a dot between thousands
    # the heading sits on the right in right-to-left layout
    box = page.locator("h1").bounding_box()
    text_right = page.evaluate("(() => { const r = document.createRange();"
                               " r.selectNodeContents(document.querySelector('h1'));"
                               " return r.getBoundingClientRect().right; })()")
    assert text_right > box["x"] + box["width"] - 5
    shoot(page, "indicative-note-ar-page.png", full_page=False)
    page.click(".lang-switch a")
    wait_until(page, "document.documentElement.lang === 'fr'")
    assert page.evaluate("document.documentElement.dir") == "ltr" and "Terrain" in page.inner_text("body")
