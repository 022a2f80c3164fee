// The instructor's map of a request's land (div#land-map): MapLibre GL JS (CSP build, from /vendor/) over
// urbasig's own vector tiles and style (map-style.js), the plans of the instruction's date, the land's parcels
// outlined. The page gives the land's box (CRS84), its titles, the date, the zone families and the controls'
// texts in the page's language as data-*.
import { buildStyle, patterns } from "./map-style.js";

const box = document.getElementById("land-map");

function read(name) {
  try {
    return JSON.parse(box.dataset[name] || "null");
  } catch {
    return null;
  }
}

function show() {
  const bounds = read("bounds");
  const refs = read("refs") || [];
  if (!bounds || typeof maplibregl === "undefined") return;
  maplibregl.setWorkerUrl("/vendor/maplibre-gl/dist/maplibre-gl-csp-worker.js");
  const map = new maplibregl.Map({
    container: box,
    style: buildStyle({ origin: location.origin, date: box.dataset.date, families: read("families") || [], communes: [] }),
    bounds: [[bounds[0], bounds[1]], [bounds[2], bounds[3]]],
    fitBoundsOptions: { padding: 40, maxZoom: 18 },
    maxZoom: 20, minZoom: 9, dragRotate: false, pitchWithRotate: false, cooperativeGestures: true,
    attributionControl: { compact: true, customAttribution: box.dataset.attribution },
    locale: read("locale") || {},
  });
  for (const [name, image] of Object.entries(patterns())) map.addImage(name, image, { pixelRatio: 2 });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), document.dir === "rtl" ? "top-left" : "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric", maxWidth: 120 }));
  map.on("load", () => {
    const land = ["in", ["get", "land_ref"], ["literal", refs]];
    map.setFilter("selected-fill", land);
    map.setFilter("selected-line", land);
    box.dataset.ready = "true"; // for the browser tests
  });
  window.__urbasigLandMap = map; // for the browser tests and the console
}

if (box) window.addEventListener("load", show);
