"""The planner tools in the browser: draw a land → overlay listed; drop a file → overlay; measure; print to PDF.

The overlay is compared with a direct call of the instruction process for the same geometry, the measures with
pyproj (gis/measure.py), the PDF through pdftotext.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest

from gis.measure import area_m2, length_m
from tests.browser.conftest import SHOTS, shoot, wait_until

READY = "window.__urbasigMap && window.__urbasigMap.loaded() && document.getElementById('planner').dataset.ready"
OFFSETS = [(-120, -80), (110, -90), (140, 70), (-90, 100)]  # pixels from the map's centre


def _open(page, site, query=""):
    """The map page, moved to the middle of the sample's zones (read from the zones collection's extent)."""
    with urllib.request.urlopen(site + "/ogc/collections/zones?f=json", timeout=30) as answer:
        west, south, east, north = json.load(answer)["extent"]["spatial"]["bbox"][0]
    page.goto(site + "/" + query)
    wait_until(page, READY)
    page.evaluate("([lon, lat]) => { window.__planned = false; const map = window.__urbasigMap; "
                  "map.once('idle', () => { window.__planned = true; }); map.jumpTo({center: [lon, lat], zoom: 16}); }",
                  [(west + east) / 2, (south + north) / 2])
    wait_until(page, "window.__planned")
    return page.locator("#map canvas").bounding_box()


def _wait_result(page):
    """Wait for the overlay's result; on a timeout, say what the page's status line shows."""
    try:
        wait_until(page, "window.__urbasigPlanner.result !== null && !window.__urbasigPlanner.state.busy")
    except AssertionError as exc:
        raise AssertionError(f"{exc} — statut : {page.locator('#planner-status').inner_text()}") from None


def _click_at(page, canvas, offsets):
    cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
    for dx, dy in offsets:
        page.mouse.click(cx + dx, cy + dy)
        page.wait_for_timeout(120)  # not a double-click


def _direct(site, geometry, crs=None):
    inputs = {"land": {"geometry": geometry}, "geometry": True, **({"crs": crs} if crs else {})}
    request = urllib.request.Request(site + "/ogc/processes/instruction/execution", method="POST",
                                     data=json.dumps({"inputs": inputs}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def _listed_zones(page):
    rows = page.locator("#planner-result table").first.locator("tbody tr")
    return sorted(rows.nth(i).locator("td").first.inner_text().split(" · ")[0].strip() for i in range(rows.count()))


def test_draw_a_polygon_lists_the_zones_the_instruction_finds(page, site):
    canvas = _open(page, site)
    page.get_by_role("button", name="Dessiner un terrain").click()
    _click_at(page, canvas, OFFSETS)
    page.keyboard.press("Enter")
    _wait_result(page)
    ring = page.evaluate("window.__urbasigPlanner.land")
    assert len(ring) == 5 and ring[0] == ring[-1]  # four vertices, closed
    direct = _direct(site, {"type": "Polygon", "coordinates": [ring]})
    codes = sorted(f["code"] for f in direct["layers"][0]["features"])
    assert codes, "the drawn land should cross at least one zone of the sample"
    assert _listed_zones(page) == codes
    shown = page.evaluate("window.__urbasigPlanner.result.land.area_m2")
    assert shown == pytest.approx(direct["land"]["area_m2"], abs=0.01)
    drawn = page.evaluate("window.__urbasigPlanner.shown['planner-result']")
    assert drawn >= len(codes)
    assert page.locator("#planner-result").get_by_text("Plans cités").is_visible()
    page.wait_for_timeout(300)
    shoot(page, "map-planner.png")


def test_escape_cancels_and_backspace_removes_a_vertex(page, site):
    canvas = _open(page, site)
    page.get_by_role("button", name="Dessiner un terrain").click()
    _click_at(page, canvas, OFFSETS[:3])
    page.keyboard.press("Backspace")
    assert page.evaluate("window.__urbasigPlanner.state.points.length") == 2
    page.keyboard.press("Escape")
    assert page.evaluate("window.__urbasigPlanner.state.tool") is None
    assert page.get_by_role("button", name="Dessiner un terrain").get_attribute("aria-pressed") == "false"


def test_keyboard_only_drawing(page, site):
    _open(page, site)
    page.get_by_role("button", name="Dessiner un terrain").focus()
    page.keyboard.press("Enter")  # the button takes the focus to the map
    assert page.evaluate("document.activeElement === window.__urbasigMap.getCanvas()")
    for key in ("ArrowLeft", "ArrowUp", "ArrowRight"):  # a rectangle: centre, left, up-left, up
        page.keyboard.press("Space")
        for _ in range(6):
            page.keyboard.press(key)
        page.wait_for_timeout(600)  # the pan eases
    page.keyboard.press("Space")
    assert page.evaluate("window.__urbasigPlanner.state.points.length") == 4
    page.keyboard.press("Enter")
    _wait_result(page)
    assert page.evaluate("document.activeElement.id") == "planner-result"


def _land_file(page, tmp_path):
    """A GeoJSON (CRS84) of a box around the map's centre."""
    lon, lat = page.evaluate("window.__urbasigMap.getCenter().toArray()")
    d = 0.0012
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"nom": "îlot"},
                                                      "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    path = tmp_path / "ilot.geojson"
    path.write_text(json.dumps(doc))
    return path, ring


def test_a_geojson_chosen_in_the_file_input_is_overlaid(page, site, tmp_path):
    _open(page, site)
    path, ring = _land_file(page, tmp_path)
    page.locator("#planner-file").set_input_files(str(path))
    _wait_result(page)
    direct = _direct(site, {"type": "Polygon", "coordinates": [ring]})
    assert _listed_zones(page) == sorted(f["code"] for f in direct["layers"][0]["features"])
    assert page.locator("#planner-result h2").inner_text() == "Superposition du fichier « ilot.geojson »"
    assert page.locator("#planner-result").get_by_text("1 polygone(s) lu(s)").is_visible()


def test_a_dropped_geojson_is_overlaid(page, site, tmp_path):
    _open(page, site)
    path, ring = _land_file(page, tmp_path)
    page.evaluate("""(text) => {
        const data = new DataTransfer();
        data.items.add(new File([text], "depose.geojson", { type: "application/geo+json" }));
        const target = window.__urbasigMap.getContainer();
        target.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
        document.getElementById("planner-drop").dispatchEvent(
            new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
    }""", path.read_text())
    _wait_result(page)
    assert page.locator("#planner-drop").is_hidden()
    direct = _direct(site, {"type": "Polygon", "coordinates": [ring]})
    shown = page.evaluate("window.__urbasigPlanner.result.land.area_m2")
    assert shown == pytest.approx(direct["land"]["area_m2"], rel=1e-5)  # through EPSG:26191, to the mm


def test_the_browser_projection_matches_pyproj_to_the_millimetre(page, site):
    import numpy as np

    from gis.measure import to_storage_xy

    _open(page, site)
    west, south, east, north = page.evaluate("window.__urbasigMap.getBounds().toArray().flat()")
    rng = np.random.default_rng(7)
    points = np.column_stack([rng.uniform(west - 0.5, east + 0.5, 200), rng.uniform(south - 0.5, north + 0.5, 200)])
    out = page.evaluate("""async (points) => {
        const m = await import("/static/js/planner-merchich.js");
        const xy = points.map(m.toMerchich);
        return { xy, back: xy.map(m.fromMerchich) };
    }""", points.tolist())
    assert np.abs(np.array(out["xy"]) - to_storage_xy(points)).max() < 0.001  # metres
    assert np.abs(np.array(out["back"]) - points).max() < 1e-7  # degrees (about 1 cm)


def test_distance_and_area_are_measured_in_merchich_metres(page, site):
    canvas = _open(page, site)
    page.get_by_role("button", name="Mesurer une distance").click()
    _click_at(page, canvas, OFFSETS[:2])
    cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
    before = page.locator("#planner-status").inner_text()
    page.mouse.move(cx + 200, cy + 150)
    wait_until(page, f"document.getElementById('planner-status').textContent !== {json.dumps(before)}")  # live
    page.mouse.click(cx + OFFSETS[2][0], cy + OFFSETS[2][1])
    page.wait_for_timeout(120)
    page.keyboard.press("Enter")
    page.wait_for_timeout(100)
    measure = page.evaluate("window.__urbasigPlanner.measure")
    reference = length_m([tuple(p) for p in measure["points"]])
    assert measure["length_m"] == pytest.approx(reference, rel=0.005)
    assert abs(measure["length_m"] - reference) < 0.01  # in fact to the centimetre
    status = page.locator("#planner-status").inner_text()
    written = f"{measure['length_m']:,.2f}".replace(",", "\u00a0").replace(".", ",")  # « 1 234,56 »
    assert status == f"Distance : {written} m"

    page.get_by_role("button", name="Mesurer une surface").click()
    _click_at(page, canvas, OFFSETS)
    page.keyboard.press("Enter")
    page.wait_for_timeout(100)
    measure = page.evaluate("window.__urbasigPlanner.measure")
    assert measure["area_m2"] == pytest.approx(area_m2([tuple(p) for p in measure["points"]]), rel=0.005)
    assert "m² · périmètre" in page.locator("#planner-status").inner_text()


def test_print_downloads_a_pdf_with_legend_scale_and_date(page, site, tmp_path):
    _open(page, site)
    path, _ring = _land_file(page, tmp_path)
    page.locator("#planner-file").set_input_files(str(path))  # an overlay on the map: printed with its legend
    _wait_result(page)
    page.get_by_role("button", name="Imprimer la vue").click()
    page.get_by_label("Format").select_option("A4")
    page.get_by_label("Orientation").select_option("landscape")
    with page.expect_download() as info:
        page.get_by_role("button", name="Télécharger le PDF").click()
    download = info.value
    assert download.suggested_filename.endswith("-A4.pdf")
    pdf = tmp_path / "carte.pdf"
    download.save_as(str(pdf))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Légende" in text and "Zones des plans d'aménagement" in text and "Tracé de l'urbaniste" in text
    assert "1:" in text and "Plans en vigueur au" in text and "Données mises à jour le" in text
    zones = page.evaluate("window.__urbasigPlanner.result.layers[0].features.map((f) => f.code)")
    assert zones and all(f"Zone {code}" in text for code in zones)  # the overlay's own legend
    SHOTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                    str(SHOTS / "map-print")], check=True)


def test_arabic_toolbar_numbers_and_print(page, site, tmp_path):
    canvas = _open(page, site, "?lang=ar")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    page.get_by_role("button", name="قياس مسافة").click()
    _click_at(page, canvas, OFFSETS[:2])
    page.keyboard.press("Enter")
    page.wait_for_timeout(100)
    length = page.evaluate("window.__urbasigPlanner.measure.length_m")
    written = f"{length:,.2f}".replace(",", "\x00").replace(".", ",").replace("\x00", ".")  # ar-MA: « 1.234,56 »
    assert page.locator("#planner-status").inner_text() == f"المسافة: {written} م"
    page.get_by_role("button", name="طباعة العرض").click()
    with page.expect_download() as info:
        page.get_by_role("button", name="تحميل ملف PDF").click()
    pdf = tmp_path / "ar.pdf"
    info.value.save_as(str(pdf))
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "NotoSansArabic" in fonts  # the page's language reached the PDF


def test_phone_width_keeps_the_tools_usable(phone, site):
    canvas = _open(phone, site)
    toolbar = phone.locator("#planner").bounding_box()
    assert toolbar["width"] <= 390 and toolbar["y"] + toolbar["height"] <= 844
    phone.get_by_role("button", name="Mesurer une surface").click()
    cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 3
    for dx, dy in [(-60, -40), (60, -40), (0, 50)]:
        phone.touchscreen.tap(cx + dx, cy + dy)
        phone.wait_for_timeout(350)
    phone.get_by_role("button", name="Terminer").click()
    assert phone.evaluate("window.__urbasigPlanner.measure.area_m2") > 0
    shoot(phone, "map-planner-phone.png")
