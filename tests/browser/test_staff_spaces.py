"""The instructor's and the signatory's pages in headless Chromium over the sample territory: the request's land
map (MapLibre over the app's own tiles, its parcels outlined) loads with no request leaving 127.0.0.1 and no
console error; the pages at desktop and phone width, in French and Arabic (screenshots in docs/)."""

from __future__ import annotations

import psycopg
import pytest

from instruction.engine import Options
from layers.accounts import create_account
from layers.payments import apply_callback
from notes.official import create_request, on_payment, review
from tests.browser.conftest import shoot, wait_until

PASSWORD = "mot de passe solide"
TWO_TITLES = """
SELECT a.ref_text, b.ref_text FROM parcels a JOIN parcels b ON b.id > a.id AND ST_Touches(a.geom, b.geom)
JOIN zones z ON ST_Intersects(z.geom, a.geom)
WHERE a.ref_kind = 'TF' AND b.ref_kind = 'TF' ORDER BY a.id LIMIT 1"""


@pytest.fixture(scope="module")
def staff_requests(sample_url):
    """Two requests over the sample's land: one instructed (to review), one accepted (to sign)."""
    with psycopg.connect(sample_url) as conn:
        refs = list(conn.execute(TWO_TITLES).fetchone())
        for mail, role in (("instruction@auc.ma", "instructor"), ("signature@auc.ma", "signatory")):
            create_account(conn, mail, role.title(), PASSWORD, role=role, verified=True)
        applicant_id, _ = create_account(conn, "karim@example.ma", "Karim Benali", PASSWORD, verified=True)
        applicant = {"id": applicant_id, "email": "karim@example.ma", "role": "applicant"}
        numbers = []
        for titles in (refs, refs[:1]):
            number, order_id = create_request(conn, applicant, titles, "proprietaire",
                                              [("titre foncier.pdf", b"%PDF-1.4 titre")], "450.00")
            apply_callback(conn, order_id, f"tx-{order_id}", True, "450.00", "504", "00")
            on_payment(conn, order_id, Options())
            numbers.append(number)
        review(conn, numbers[1], {"email": "instruction@auc.ma"}, True, "Conforme au plan")
        conn.commit()
    return numbers


def _sign_in(page, site: str, mail: str) -> None:
    r = page.request.post(f"{site}/notes/session", data={"email": mail, "password": PASSWORD},
                          headers={"Origin": site})
    assert r.ok, r.text()


def test_request_page_shows_the_land_on_the_map(page, site, staff_requests):
    number = staff_requests[0]
    _sign_in(page, site, "instruction@auc.ma")
    page.goto(f"{site}/instruction/")
    assert page.locator(f'#queue tr[data-number="{number}"] td.waiting').count() == 1
    shoot(page, "staff-queue.png", full_page=True)
    page.goto(f"{site}/instruction/demandes/{number}")
    wait_until(page, "document.getElementById('land-map').dataset.ready === 'true'")
    wait_until(page, "window.__urbasigLandMap.loaded() && window.__urbasigLandMap.areTilesLoaded()")
    shown = page.evaluate("window.__urbasigLandMap.queryRenderedFeatures({layers: ['selected-line']})"
                          ".map(f => f.properties.land_ref)")
    assert shown, "the land's parcels are outlined on the map"
    assert page.locator("#documents a").count() == 1 and page.locator("#timeline li[data-status]").count() >= 2
    shoot(page, "staff-request.png", full_page=True)


def test_request_page_on_a_phone_in_arabic(phone, site, staff_requests):
    number = staff_requests[0]
    _sign_in(phone, site, "instruction@auc.ma")
    phone.goto(f"{site}/instruction/demandes/{number}?lang=ar")
    assert phone.get_attribute("html", "dir") == "rtl"
    wait_until(phone, "document.getElementById('land-map').dataset.ready === 'true'")
    shoot(phone, "staff-request-ar-phone.png", full_page=True)
    wide = phone.evaluate("[...document.querySelectorAll('body *')].filter(e => !e.closest('.table-wrap') && "
                          "(e.getBoundingClientRect().width > innerWidth || e.getBoundingClientRect().left < 0))"
                          ".map(e => e.tagName + '.' + e.className + '#' + e.id)")  # wide tables scroll in their box
    assert not wide and phone.evaluate("document.documentElement.scrollWidth <= innerWidth"), wide


def test_signature_page(page, phone, site, staff_requests):
    number = staff_requests[1]
    for p, name in ((page, "staff-signature.png"), (phone, "staff-signature-phone.png")):
        _sign_in(p, site, "signature@auc.ma")
        p.goto(f"{site}/signature/")
        assert p.locator(f'#sign-batch input[name="number"][value="{number}"]').count() == 1
        assert p.locator(f'a.preview[href="/signature/demandes/{number}/apercu.pdf"]').count() == 1
        shoot(p, name, full_page=True)
