"""The public map in headless Chromium: first render, click to panel, autocomplete, and the page's weight.

Usage: .venv/bin/python bench/web.py [PARCELS] [N]   (default 20000 parcels, as `make run`; N = 10 cold loads,
30 clicks and 30 searches)

The app runs under gunicorn (2 workers) on a scratch database holding the sample territory; Debian's chromium
(headless, the browser tests' arguments) is driven by Playwright. Times are taken inside the page with
`performance.now()` (an init script hooks the map, a MutationObserver watches the panel and the suggestions),
so they hold no Playwright round trip:

- first render: navigation start → MapLibre's first `idle` with its tiles loaded, in a fresh context (cold
  cache) each time;
- click → panel: the mouse click on a parcel → a `section.land-panel` added to `#panel`;
- autocomplete: the last keystroke of a text typed at 60 ms per key → `#search-suggestions` filled (so it
  includes the client's debounce);
- page weight: the JavaScript and CSS of the first load as transferred (with `Accept-Encoding: gzip`, as the
  browser sends it) and, beside it, the same bodies gzip-compressed here (what they would weigh if served
  compressed). Aims: first render < 2 s, panel < 300 ms after the click, < 500 KB compressed.
"""

from __future__ import annotations

import gzip
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from _common import free_port, scratch_db, start_app, stop_group, table, wait_ready

from layers.sample import load_sample

ROOT = Path(__file__).resolve().parent.parent
LOG = open(tempfile.gettempdir() + "/urbasig-bench-web-server.log", "ab")  # noqa: SIM115
CHROMIUM = os.environ.get("URBASIG_CHROMIUM") or "/usr/bin/chromium"
sys.path.insert(0, str(ROOT))
from tests.browser.conftest import CHROMIUM_ARGS  # noqa: E402  (the browser tests' own arguments)

# Runs before the page's scripts (DevTools' addScriptToEvaluateOnNewDocument, not subject to the page's CSP).
HOOK = """
window.__bench = { idle: null, load: null, created: null };
(function hook() {
  const map = window.__urbasigMap;
  if (!map) { setTimeout(hook, 2); return; }
  window.__bench.created = performance.now();
  map.on("load", () => { if (window.__bench.load === null) window.__bench.load = performance.now(); });
  const done = () => { if (window.__bench.idle === null && map.loaded() && map.areTilesLoaded())
                         window.__bench.idle = performance.now(); };
  map.on("idle", done);
})();
"""
WATCH_PANEL = """() => {
  const panel = document.getElementById("panel");
  window.__bench.click = null; window.__bench.panel = null;
  document.addEventListener("click", () => { if (window.__bench.click === null) window.__bench.click = performance.now(); },
                            { capture: true, once: true });
  const observer = new MutationObserver((records) => {
    if (window.__bench.click === null) return;
    for (const r of records) for (const n of r.addedNodes) {
      const shown = "section.land-panel:not(.land-panel-error)";
      if (n.nodeType === 1 && (n.matches(shown) || n.querySelector(shown))) {
        window.__bench.panel = performance.now(); observer.disconnect(); return;
      }
    }
  });
  observer.observe(panel, { childList: true, subtree: true });
}"""
SEARCH_INPUT = "#search-input, [aria-controls='search-suggestions'], input[type=search]"
WATCH_SUGGESTIONS = """(selector) => {
  const input = document.querySelector(selector);
  const list = document.getElementById("search-suggestions");
  window.__bench.key = null; window.__bench.filled = null;
  input.addEventListener("keydown", () => { window.__bench.key = performance.now(); window.__bench.filled = null; },
                         { capture: true });
  if (window.__bench.listObserver) window.__bench.listObserver.disconnect();
  window.__bench.listObserver = new MutationObserver(() => {
    if (window.__bench.key !== null && window.__bench.filled === null && list.children.length > 0)
      window.__bench.filled = performance.now();
  });
  window.__bench.listObserver.observe(list, { childList: true, subtree: true, characterData: true });
}"""


def poll(page, expression: str, timeout_s: float = 20.0):
    """Poll a JavaScript expression until truthy (page.wait_for_function uses eval, which the CSP refuses)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)


class Faults:
    """Requests off 127.0.0.1 and console errors: a bench run that has any says so."""

    def __init__(self) -> None:
        self.outside: list[str] = []
        self.errors: list[str] = []

    def context(self, browser, **options):
        context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800}, **options)

        def guard(route):
            if route.request.url.startswith(("data:", "blob:")) or urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                self.outside.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        context.add_init_script(HOOK)
        return context

    def page(self, context):
        page = context.new_page()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page


def first_renders(browser, faults: Faults, base: str, n: int) -> tuple[dict[str, list[float]], dict]:
    """n cold loads: ms to the page's load event, the map's creation, MapLibre's `load` and its first idle with
    tiles; the weight of the first load."""
    times: dict[str, list[float]] = {"page": [], "created": [], "load": [], "idle": []}
    weight: dict = {}
    for i in range(n):
        context = faults.context(browser)
        page = faults.page(context)
        responses: list = []
        if i == 0:
            page.on("response", lambda r, seen=responses: seen.append(r))  # noqa: B023 - one page, one list
        page.goto(base + "/")
        idle = poll(page, "window.__bench && window.__bench.idle", 30)
        if idle:
            times["idle"].append(idle)
            times["load"].append(page.evaluate("window.__bench.load"))
            times["created"].append(page.evaluate("window.__bench.created"))
            times["page"].append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
        if i == 0:
            weight = page_weight(responses)
        context.close()
    return times, weight


def page_weight(responses) -> dict:
    """Bytes of the first load per kind: transferred (encoded) and gzip-compressed here, with the encodings seen."""
    kinds = {"script": "JS", "stylesheet": "CSS", "font": "polices", "document": "HTML"}
    out: dict[str, dict] = {}
    for response in responses:
        kind = kinds.get(response.request.resource_type)
        if kind is None or response.status != 200:
            continue
        body = response.body()
        sizes = response.request.sizes()
        entry = out.setdefault(kind, {"files": 0, "raw": 0, "sent": 0, "gzip": 0, "encodings": set()})
        entry["files"] += 1
        entry["raw"] += len(body)
        # a worker's script has no size in the DevTools events: its Content-Length is what was sent
        entry["sent"] += int(response.headers.get("content-length") or sizes["responseBodySize"])
        entry["gzip"] += len(gzip.compress(body, 6)) if kind != "polices" else len(body)  # woff2 is compressed
        entry["encodings"].add(response.headers.get("content-encoding", "aucun"))
    return out


def parcel_points(url: str, n: int) -> list[tuple[float, float]]:
    """Interior points (lon, lat) of n parcels near the map's starting view, read from the database."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p FROM parcels "
            "WHERE area_m2 > 150 AND land_ref IS NOT NULL ORDER BY geom <-> ST_Transform(ST_SetSRID("
            "ST_MakePoint(-7.70408, 33.47208), 4326), 26191) LIMIT %s) s", (n,)).fetchall()


def clicks(browser, faults: Faults, base: str, points: list[tuple[float, float]]) -> tuple[list[float], int, str]:
    """ms from the click on a parcel to its panel; how many got no panel within 5 s; and how it was asked.

    When the map does not (yet) relay its clicks to the panel, the selection is dispatched as the map would
    (`urbasig:select` with the clicked point, see panel.js) and timed from the dispatch: the panel's share.
    """
    context = faults.context(browser)
    page = faults.page(context)
    page.goto(base + "/")
    poll(page, "window.__bench && window.__bench.idle", 30)
    times, missed, mode = [], 0, "clic"
    for lon, lat in points:
        page.evaluate(f"window.__bench.idle2 = null; window.__urbasigMap.once('idle', () => window.__bench.idle2 = 1);"
                      f"window.__urbasigMap.jumpTo({{center: [{lon}, {lat}], zoom: 17}})")
        poll(page, "window.__bench.idle2", 10)
        x, y = page.evaluate(f"(() => {{ const p = window.__urbasigMap.project([{lon}, {lat}]); "
                             "const r = window.__urbasigMap.getCanvas().getBoundingClientRect(); "
                             "return [p.x + r.left, p.y + r.top]; })()")
        page.evaluate(WATCH_PANEL)
        if mode == "clic":
            page.mouse.click(x, y)
        else:
            page.evaluate(f"window.__bench.click = performance.now(); document.dispatchEvent(new CustomEvent("
                          f"'urbasig:select', {{detail: {{lon: {lon}, lat: {lat}}}}}))")
        shown = poll(page, "window.__bench.panel && window.__bench.panel - window.__bench.click",
                     1.5 if mode == "clic" and not times else 5)
        if shown:
            times.append(shown)
        elif mode == "clic" and not times:
            mode = "urbasig:select"  # the first click opened nothing: the map does not relay clicks yet
        else:
            missed += 1
    context.close()
    return times, missed, mode


def searches(browser, faults: Faults, base: str, texts: list[str]) -> tuple[list[float], int, bool]:
    """ms from the last keystroke to the suggestions shown; misses; whether the page has the search box."""
    context = faults.context(browser)
    page = faults.page(context)
    page.goto(base + "/")
    poll(page, "window.__bench && window.__bench.idle", 30)
    if not page.evaluate(f"!!document.querySelector({SEARCH_INPUT!r}) && !!document.getElementById('search-suggestions')"):
        context.close()
        return [], 0, False
    box = page.locator(SEARCH_INPUT).first
    times, missed = [], 0
    for text in texts:
        box.fill("")
        time.sleep(0.4)
        page.evaluate(WATCH_SUGGESTIONS, SEARCH_INPUT)
        box.focus()
        page.keyboard.type(text, delay=60)
        shown = poll(page, "window.__bench.filled && window.__bench.filled - window.__bench.key", 5)
        if shown:
            times.append(shown)
        else:
            missed += 1
    context.close()
    return times, missed, True


def search_texts(url: str, n: int) -> list[str]:
    """Titles, addresses and commune names of the sample, as a person would type them."""
    with psycopg.connect(url) as conn:
        titles = [r[0].lower().replace("/", " ") for r in conn.execute(
            "SELECT land_ref FROM parcels WHERE land_ref IS NOT NULL ORDER BY id LIMIT %s", (n,))]
        addresses = [r[0].replace(",", "").lower() for r in conn.execute(
            "SELECT address FROM parcels ORDER BY id DESC LIMIT %s", (n,))]
        communes = [r[0] for r in conn.execute("SELECT name FROM communes ORDER BY code")]
    mixed = [t for trio in zip(titles, addresses, communes * n, strict=False) for t in trio]
    return mixed[:n]


def stats(values: list[float]) -> tuple[str, str]:
    if not values:
        return "—", "—"
    ordered = sorted(values)
    return f"{statistics.median(ordered):.0f}", f"{ordered[int(0.95 * (len(ordered) - 1))]:.0f}"


def kb(value: int) -> str:
    return f"{value / 1024:.0f} Ko"


def main(n_parcels: int, n: int) -> None:
    from playwright.sync_api import sync_playwright

    with scratch_db("urbasig_bench_web") as url:
        with psycopg.connect(url) as conn:
            start = time.perf_counter()
            load_sample(conn, n_parcels, 42)
            conn.commit()
            print(f"{n_parcels} parcelles chargées en {time.perf_counter() - start:.0f} s", flush=True)
        port = free_port()
        proc = start_app(url, port, LOG)
        base = f"http://127.0.0.1:{port}"
        faults = Faults()
        try:
            wait_ready(base, proc, LOG.name)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                renders, weight = first_renders(browser, faults, base, n)
                panel, panel_missed, panel_mode = clicks(browser, faults, base, parcel_points(url, 3 * n))
                typed, typed_missed, has_box = searches(browser, faults, base, search_texts(url, 3 * n))
                browser.close()
        finally:
            stop_group(proc)
    report(n_parcels, renders, (panel, panel_missed, panel_mode), typed, typed_missed, has_box, weight, faults)


def report(n_parcels, renders, panels, typed, typed_missed, has_box, weight, faults) -> None:
    panel, panel_missed, panel_mode = panels
    def row(label: str, values: list[float], aim: str) -> list[str]:
        return [label, str(len(values)), *stats(values), aim]

    no_panel = " (urbasig:select : la carte ne relaie pas encore le clic)" if panel_mode != "clic" else ""
    no_panel += f" ({panel_missed} sans panneau)" if panel_missed else ""
    no_box = "" if has_box else " (pas de champ de recherche)"
    no_box += f" ({typed_missed} sans suggestion)" if typed_missed else ""
    rows = [row("navigation → événement load de la page", renders["page"], "—"),
            row("navigation → carte créée (maplibregl.Map)", renders["created"], "—"),
            row("navigation → load de MapLibre", renders["load"], "—"),
            row("premier rendu : navigation → idle (tuiles chargées)", renders["idle"], "< 2000"),
            row("clic sur une parcelle → panneau" + no_panel, panel, "< 300"),
            row("frappe → suggestions (anti-rebond compris)" + no_box, typed, "< 50 + anti-rebond")]
    print()
    print(f"Carte publique dans Chromium headless, {n_parcels} parcelles (gunicorn 2 workers × 4 threads, as make run, ms)")
    print(table(rows, ["mesure", "n", "médiane", "p95", "objectif"]))
    wrows = []
    for kind in ("JS", "CSS", "HTML", "polices"):
        w = weight.get(kind)
        if w:
            wrows.append([kind, str(w["files"]), kb(w["raw"]), kb(w["sent"]), kb(w["gzip"]),
                          ", ".join(sorted(w["encodings"]))])
    js_css = [weight.get(k, {"sent": 0, "gzip": 0}) for k in ("JS", "CSS")]
    wrows.append(["JS + CSS", "", "", kb(sum(w["sent"] for w in js_css)), kb(sum(w["gzip"] for w in js_css)),
                  "objectif < 500 Ko"])
    print()
    print("Poids du premier chargement")
    print(table(wrows, ["type", "fichiers", "brut", "transféré", "gzip", "Content-Encoding"]))
    if faults.outside or faults.errors:
        print(f"\nATTENTION : {len(faults.outside)} requête(s) hors de 127.0.0.1, {len(faults.errors)} erreur(s) de "
              f"console : {(faults.outside + faults.errors)[:5]}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000, int(sys.argv[2]) if len(sys.argv) > 2 else 10)
