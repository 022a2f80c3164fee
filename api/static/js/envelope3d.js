// The 3D view of a land's buildable envelope. The panel's « Voir en 3D » button (api/templates/map/panel.html)
// fetches /carte/enveloppe for its land (JSON: zone parts in CRS84, each with its height_m), shows them as a
// GeoJSON source under a fill-extrusion layer raised to that height, tilts the camera and writes the legend
// under the button; pressed again (« Quitter la 3D »), or when the panel shows another land or closes, the
// layer goes and the map is flat again. Everything comes from our own server.
import { t } from "./i18n.js";
import { mapReady } from "./map.js";

const SOURCE = "envelope-3d";
const LAYER = "envelope-3d";
const PITCH = 55;
const BEARING = -20;
const panel = document.getElementById("panel");
let current = null; // the AbortController of the request under way

function paragraph(text, className) {
  const p = document.createElement("p");
  p.textContent = text;
  if (className) p.className = className;
  return p;
}

function writeLegend(box, legend, count) {
  const title = document.createElement("h3");
  title.textContent = legend.title;
  const list = document.createElement("ul");
  for (const line of legend.lines) {
    const item = document.createElement("li");
    item.textContent = line.trim().replace(/^- /, "");
    if (line.startsWith("  ")) item.className = "sub"; // a reason under its zone's line
    list.append(item);
  }
  const heights = legend.heights.map((line) => paragraph(line));
  if (!count) heights.push(paragraph(t("panel.3d.nothing")));
  box.replaceChildren(title, list, ...heights, paragraph(legend.mention, "land-panel-muted"));
}

// Room around the land: the phone's bottom sheet covers the lower part of the map.
function padding(map) {
  const box = map.getContainer().getBoundingClientRect();
  const pad = { top: 50, bottom: 50, left: 50, right: 50 };
  if (panel.childElementCount && getComputedStyle(panel).position === "fixed") {
    pad.bottom += Math.min(box.bottom - panel.getBoundingClientRect().top, box.height * 0.6);
  }
  if (pad.top + pad.bottom > box.height - 40) pad.top = pad.bottom = 10;
  return pad;
}

function show(map, answer) {
  const data = answer.features;
  if (map.getSource(SOURCE)) map.getSource(SOURCE).setData(data);
  else map.addSource(SOURCE, { type: "geojson", data });
  if (!map.getLayer(LAYER)) {
    map.addLayer({
      id: LAYER, type: "fill-extrusion", source: SOURCE,
      paint: { "fill-extrusion-color": "#31a354", "fill-extrusion-opacity": 0.8, "fill-extrusion-base": 0,
        "fill-extrusion-height": ["get", "height_m"] },
    });
  }
  if (!answer.bbox) return; // nothing to raise: the legend says why, the map stays flat
  const [w, s, e, n] = answer.bbox;
  const pad = padding(map);
  const camera = map.cameraForBounds([[w, s], [e, n]], { padding: pad });
  // the padding moves the view's centre (and the perspective's vanishing point) into the part left uncovered
  // half a zoom level out of the flat fit: tilted, the near side of the volume looms larger
  map.easeTo({ center: [(w + e) / 2, (s + n) / 2], zoom: Math.min(camera.zoom - 0.5, 19), pitch: PITCH,
    bearing: BEARING, padding: pad, duration: 700 });
}

// Back to the flat map: eased when a person leaves 3D, at once when another land comes (its own flight follows).
function flatten(map, { instant = false } = {}) {
  if (map.getLayer(LAYER)) map.removeLayer(LAYER);
  if (map.getSource(SOURCE)) map.removeSource(SOURCE);
  if (map.getPitch() || map.getBearing()) {
    const flat = { pitch: 0, bearing: 0, padding: { top: 0, bottom: 0, left: 0, right: 0 } };
    if (instant) map.jumpTo(flat);
    else map.easeTo({ ...flat, duration: 500 });
  }
}

function reset(button) {
  button.setAttribute("aria-pressed", "false");
  button.textContent = t("panel.view_3d");
  const box = document.getElementById(button.getAttribute("aria-controls"));
  if (box) {
    box.hidden = true;
    box.replaceChildren();
  }
}

export async function leave3d() {
  if (current) current.abort();
  current = null;
  const button = panel.querySelector("button.land-panel-3d");
  if (button) reset(button);
  flatten(await mapReady);
}

export async function enter3d(button) {
  const map = await mapReady;
  if (current) current.abort();
  const controller = new AbortController();
  current = controller;
  const box = document.getElementById(button.getAttribute("aria-controls"));
  box.hidden = false;
  box.replaceChildren(paragraph(t("panel.3d.loading"), "land-panel-loading"));
  button.setAttribute("aria-pressed", "true");
  button.textContent = t("panel.leave_3d");
  let response;
  let answer;
  try {
    response = await fetch(button.dataset.url, { headers: { Accept: "application/json" }, signal: controller.signal });
    answer = await response.json();
  } catch (error) {
    if (error.name === "AbortError") return;
    box.replaceChildren(paragraph(t("panel.offline")));
    return;
  }
  if (controller !== current) return; // left, or asked again, meanwhile
  current = null;
  if (!response.ok) {
    box.replaceChildren(paragraph(answer.message || t("panel.3d.failed", { status: response.status })));
    return;
  }
  show(map, answer);
  writeLegend(box, answer.legend, answer.features.features.length);
}

panel.addEventListener("click", (event) => {
  const button = event.target.closest("button.land-panel-3d");
  if (!button) return;
  if (button.getAttribute("aria-pressed") === "true") leave3d();
  else enter3d(button);
});

// A new panel (another land, the draft toggled) or none: its button starts flat, so the map does too, before the
// map's own handler (map.js, registered once the map has loaded, so after this one) flies to the new land.
let ready = null;
mapReady.then((map) => { ready = map; });
document.addEventListener("urbasig:land", () => {
  if (current) current.abort();
  current = null;
  if (ready) flatten(ready, { instant: true });
});
