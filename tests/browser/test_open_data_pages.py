"""The open-data catalogue in a browser: the list of datasets, then a plan version's page whose map draws the
plan's zones and prescriptions fetched from the OGC API of this server (nothing from outside 127.0.0.1)."""

from __future__ import annotations

from tests.browser.conftest import shoot, wait_until

DRAWN = ("window.__ogcPreview !== undefined && window.__ogcPreview.loaded() && "
         "Number(document.getElementById('preview').dataset.drawn || 0)")


def test_the_catalogue_and_a_plan_version_with_its_map(page, site):
    page.goto(f"{site}/donnees/?lang=fr")
    cards = page.locator(".data-card")
    assert cards.count() >= 8
    assert page.locator(".data-card.data-plan").count() >= 1
    shoot(page, "catalogue.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: one column, nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.locator(".data-card.data-plan h2 a").first.click()
    page.wait_for_url("**/donnees/plan-*")
    drawn = wait_until(page, DRAWN)
    expected = int(page.locator(".data-sheet .data-n").inner_text().replace("\u202f", "").replace(" ", ""))
    assert drawn == expected  # every zone and prescription of the plan version is on the map
    rendered = page.evaluate("window.__ogcPreview.queryRenderedFeatures({layers: ['drawn-line']}).length")
    assert rendered > 0
    bounds = page.evaluate("window.__ogcPreview.getBounds().toArray()")
    assert -8 < bounds[0][0] < bounds[1][0] < -7 and 33 < bounds[0][1] < bounds[1][1] < 34
    assert page.locator(".data-downloads a").count() == 8
    shoot(page, "catalogue-dataset.png", full_page=True)
