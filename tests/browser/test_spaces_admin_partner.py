"""The admin's and the partner's pages in a browser: no console error (the Content-Security-Policy refuses any
inline script or style), nothing off 127.0.0.1, no sideways scrolling at 360 px, in French and Arabic; the
screenshots of docs/ (`make screenshots`)."""

from __future__ import annotations

import pytest

from tests import test_spaces_admin, test_spaces_partner
from tests.browser.conftest import open_context, shoot, watch_page
from tests.test_spaces_admin import ADMIN, PASSWORD, served
from tests.test_spaces_partner import ISSUED, PARTNER

PHONE = {"width": 360, "height": 780}


@pytest.fixture(scope="module")
def admin_site(server_url, template_name, tmp_path_factory):
    """The admin module's database and server (known requests and audit times)."""
    for base, _, _ in served(server_url, template_name, tmp_path_factory.mktemp("var"), "admin_web",
                             test_spaces_admin._fill):
        yield base


@pytest.fixture(scope="module")
def partner_site(server_url, template_name, tmp_path_factory):
    """The partner module's database and server (signed, sent and pending notes)."""
    for base, _, _ in served(server_url, template_name, tmp_path_factory.mktemp("var"), "partner_web",
                             test_spaces_partner._fill):
        yield base


def _signed_in(browser, watch, base: str, email: str, viewport: dict):
    context = open_context(browser, watch, viewport=viewport)
    r = context.request.post(f"{base}/notes/session", data={"email": email, "password": PASSWORD},
                             headers={"Origin": base})
    assert r.status == 200, r.text()
    return context, watch_page(context, watch)


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (page.url, width)  # no sideways scrolling


def test_the_admin_pages(browser, watch, admin_site):
    context, page = _signed_in(browser, watch, admin_site, ADMIN, {"width": 1280, "height": 900})
    page.goto(f"{admin_site}/admin/?du=2026-11-01&au=2026-11-05")
    assert page.locator("figure#chart-steps svg rect.chart-bar").count() == 5
    assert page.evaluate("getComputedStyle(document.querySelector('rect.chart-bar')).fill") == "rgb(11, 83, 148)"
    shoot(page, "spaces-admin-dashboard.png", full_page=True)
    for path, name in (("/admin/comptes", "spaces-admin-accounts.png"), ("/admin/plans", "spaces-admin-plans.png"),
                       ("/admin/journal?numero=NRU-2026-000902", "spaces-admin-journal.png")):
        page.goto(admin_site + path)
        shoot(page, name, full_page=True)
    context.close()
    context, phone = _signed_in(browser, watch, admin_site, ADMIN, PHONE)
    for path in ("/admin/?du=2026-11-01&au=2026-11-05&lang=ar", "/admin/comptes", "/admin/cles", "/admin/plans",
                 "/admin/journal?numero=NRU-2026-000902", "/admin/courriels"):
        phone.goto(admin_site + path)
        _fits(phone)
    phone.goto(f"{admin_site}/admin/?du=2026-11-01&au=2026-11-05&lang=ar")
    assert phone.evaluate("document.documentElement.dir") == "rtl"
    shoot(phone, "spaces-admin-dashboard-ar-phone.png", full_page=True)
    context.close()


def test_the_partner_pages(browser, watch, partner_site):
    context, page = _signed_in(browser, watch, partner_site, PARTNER, {"width": 1280, "height": 800})
    page.goto(f"{partner_site}/partenaire/")
    page.get_by_label("Titre foncier ou numéro de note").fill("T.7/T")
    with page.expect_navigation():
        page.get_by_role("button", name="Rechercher").click()
    assert page.locator("table#notes tr[data-number]").count() == 1
    shoot(page, "spaces-partner-search.png")
    page.locator("a.view").first.click()
    page.wait_for_url(f"**/partenaire/notes/{ISSUED}")
    shoot(page, "spaces-partner-note.png")
    context.close()
    context, phone = _signed_in(browser, watch, partner_site, PARTNER, PHONE)
    for path in ("/partenaire/?q=TF%208%2FT&lang=ar", f"/partenaire/notes/{ISSUED}"):
        phone.goto(partner_site + path)
        _fits(phone)
    phone.goto(f"{partner_site}/partenaire/?q=TF%208%2FT&lang=ar")
    shoot(phone, "spaces-partner-search-ar-phone.png", full_page=True)
    context.close()
