"""The pages for people in a browser: an error page and the e-mail link's page load their fonts and styles with
no console error and nothing off 127.0.0.1, in French and in Arabic (right to left), on a phone too."""

from tests.browser.conftest import shoot


def open_error(target, watch, url: str, status: int) -> None:
    """Open a page answered with an error status: Chromium logs that status itself once, as a console error."""
    target.goto(url)
    own = f"Failed to load resource: the server responded with a status of {status}"
    assert sum(own in e for e in watch.errors) == 1, watch.errors
    watch.errors[:] = [e for e in watch.errors if own not in e]  # any other error still fails the test


def test_error_page_in_french_and_arabic(page, phone, site, watch):
    open_error(page, watch, f"{site}/notes/indicative?land=n%27importe%20quoi&format=html", 400)
    assert page.locator("h1").inner_text() == "Demande incorrecte"
    assert page.evaluate("getComputedStyle(document.querySelector('.detail')).borderInlineStartWidth") == "4px"
    shoot(page, "error-page.png")
    open_error(phone, watch, f"{site}/nulle-part?lang=ar", 404)
    assert phone.evaluate("document.documentElement.dir") == "rtl"
    assert phone.locator("h1").inner_text() == "الصفحة غير موجودة"
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width  # no sideways scrolling at phone width
    shoot(phone, "error-page-ar-phone.png")


def test_the_verify_page_by_code(page, site, watch):
    open_error(page, watch, f"{site}/verify/NOPE1234", 404)
    assert page.locator("[role=alert]").count() == 1 and page.locator("input[name=code]").count() == 1
    page.get_by_label("Code de vérification").fill("NOPE1234")
    with page.expect_navigation():
        page.get_by_role("button", name="Vérifier").click()
    watch.errors[:] = [e for e in watch.errors if "status of 404" not in e]  # the answer's own status again
    assert "inconnu" in page.locator("[role=alert]").inner_text()
