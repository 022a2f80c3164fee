// The planner tools: draw a land or drop a file → the overlay (the instruction process) drawn and listed;
// measure a distance or an area in Merchich metres; print the current view to PDF.
import { mapReady } from "./map.js";
import { lang, number, t } from "./i18n.js";
import { areaM2, geometryToLonLat, lengthM } from "./planner-merchich.js";
import { renderResult } from "./planner-result.js";

const $ = (id) => document.getElementById(id);
const SKETCH = "planner-draw";
const RESULT = "planner-result";
const HEX_COLOUR = /^#(?:[0-9a-fA-F]{3}){1,2}$/; // the only colours the print accepts (api/planner.py)
const state = { tool: null, points: [], cursor: null, done: false, busy: false };
const shown = { [SKETCH]: 0, [RESULT]: 0 }; // features on each of our sources (an empty one has no legend entry)
const exposed = { state, shown, land: null, measure: null, result: null, pieces: null, printed: null }; // for the browser tests and the console
window.__urbasigPlanner = exposed;
let map;

function status(text) { $("planner-status").textContent = text; }

function fail(error) {
  state.busy = false;
  status(t("planner.error", { message: error.message || String(error) }));
}

function emptyCollection() { return { type: "FeatureCollection", features: [] }; }

function setData(id, collection) {
  shown[id] = collection.features.length;
  map.getSource(id).setData(collection);
}

function addLayers() {
  map.addSource(RESULT, { type: "geojson", data: emptyCollection() });
  map.addSource(SKETCH, { type: "geojson", data: emptyCollection() });
  map.addLayer({ id: "planner-result-fill", type: "fill", source: RESULT,
    paint: { "fill-color": ["get", "colour"], "fill-opacity": ["case", ["==", ["get", "layer"], "zones"], 0.6, 0.35] } });
  map.addLayer({ id: "planner-result-line", type: "line", source: RESULT,
    paint: { "line-color": ["get", "colour"], "line-width": 2 } });
  map.addLayer({ id: "planner-draw-fill", type: "fill", source: SKETCH, filter: ["==", ["geometry-type"], "Polygon"],
    paint: { "fill-color": "#d7301f", "fill-opacity": 0.12 } });
  map.addLayer({ id: "planner-draw-line", type: "line", source: SKETCH, filter: ["!=", ["geometry-type"], "Point"],
    paint: { "line-color": "#d7301f", "line-width": 2.5, "line-dasharray": [2, 1] } });
  map.addLayer({ id: "planner-draw-vertex", type: "circle", source: SKETCH, filter: ["==", ["geometry-type"], "Point"],
    paint: { "circle-radius": 4, "circle-color": "#fff", "circle-stroke-color": "#d7301f", "circle-stroke-width": 2 } });
}

// ---------------------------------------------------------------------------------------------- sketching
function livePoints() {
  return state.cursor && !state.done ? [...state.points, state.cursor] : state.points;
}

function sketchFeatures() {
  const pts = livePoints();
  const features = state.points.map((p) => ({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: p } }));
  if (state.tool === "distance" && pts.length > 1) {
    features.push({ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: pts } });
  } else if (pts.length > 2) {
    features.push({ type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [[...pts, pts[0]]] } });
  } else if (pts.length === 2) {
    features.push({ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: pts } });
  }
  return { type: "FeatureCollection", features };
}

function showMeasure() {
  const pts = livePoints();
  if (state.tool === "distance") {
    const length = lengthM(pts);
    exposed.measure = { kind: "distance", length_m: length, points: pts };
    status(t("planner.length", { v: number(length) }));
  } else if (state.tool === "area") {
    const area = areaM2(pts);
    const perimeter = pts.length > 1 ? lengthM([...pts, pts[0]]) : 0;
    exposed.measure = { kind: "area", area_m2: area, perimeter_m: perimeter, points: pts };
    status(t("planner.surface", { v: number(area), p: number(perimeter) }));
  }
}

let frame = 0;
function render() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    setData(SKETCH, sketchFeatures());
    showMeasure();
  });
}

function setTool(tool, { keepSketch = false } = {}) {
  const same = state.tool === tool;
  state.tool = same ? null : tool;
  state.points = [];
  state.cursor = null;
  state.done = false;
  document.querySelectorAll(".planner-tool[data-tool]").forEach((b) => {
    if (b.dataset.tool !== "print") b.setAttribute("aria-pressed", String(b.dataset.tool === state.tool));
  });
  const drawing = state.tool !== null;
  $("planner-actions").hidden = !drawing;
  $("planner-hint").textContent = state.tool === "draw" ? t("planner.hint_draw") : t("planner.hint_measure");
  map.getContainer().classList.toggle("planner-drawing", drawing);
  if (drawing) map.doubleClickZoom.disable(); else map.doubleClickZoom.enable();
  if (!keepSketch) setData(SKETCH, emptyCollection());
  if (state.tool === "draw" && !$("planner-result").hidden) { // a new land: the previous overlay goes away
    $("planner-result").hidden = true;
    clearResult();
  }
  status(drawing ? $("planner-hint").textContent : "");
}

function addPoint(lngLat) {
  if (!state.tool) return;
  if (state.done) { state.points = []; state.done = false; }
  state.points.push([lngLat.lng, lngLat.lat]);
  render();
}

function undo() { state.points.pop(); state.done = false; render(); }

function dedupe(points) {
  // the two clicks of a double-click add the same vertex twice: drop vertices under 4 px apart
  return points.filter((p, i) => {
    if (i === 0) return true;
    const a = map.project(p);
    const b = map.project(points[i - 1]);
    return Math.hypot(a.x - b.x, a.y - b.y) >= 4;
  });
}

function finish() {
  if (!state.tool) return;
  state.points = dedupe(state.points);
  state.cursor = null;
  if (state.tool !== "draw") { state.done = true; render(); return; }
  if (state.points.length < 3) { status(t("planner.too_few")); return; }
  const ring = [...state.points, state.points[0]];
  exposed.land = ring;
  setTool("draw", { keepSketch: true }); // the drawing is done: the toolbar comes back to rest
  const geometry = { type: "Polygon", coordinates: [ring] };
  overlay(geometry, null, t("planner.result"), []).catch(fail);
}

function cancel() { setTool(state.tool); }

function onKey(event) {
  if (!state.tool || ["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName)) return;
  if (event.key === "Enter") { event.preventDefault(); finish(); } else if (event.key === "Escape") {
    event.preventDefault(); cancel();
  } else if (event.key === "Backspace" || (event.key === "z" && (event.ctrlKey || event.metaKey))) {
    event.preventDefault(); undo();
  } else if (event.key === " " && event.target === map.getCanvas()) {
    event.preventDefault(); addPoint(map.getCenter());
  }
}

// ---------------------------------------------------------------------------------------------- the overlay
async function postJson(url, body) {
  const res = await fetch(url, { method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", Accept: "application/json" } });
  return answer(res);
}

async function answer(res) {
  let body = null;
  try { body = await res.json(); } catch { body = null; }
  if (!res.ok) throw new Error((body && (body.message || body.detail || body.title)) || `HTTP ${res.status}`);
  return body;
}

function planDate() {
  const day = new URLSearchParams(location.search).get("date");
  return day && /^\d{4}-\d{2}-\d{2}$/.test(day) ? day : null;
}

async function overlay(geometry, crs, title, notices) {
  state.busy = true;
  status(t("planner.overlaying"));
  const inputs = { land: { geometry }, geometry: true };
  if (crs) inputs.crs = crs;
  if (planDate()) inputs.date = planDate();
  const result = await postJson("/ogc/processes/instruction/execution", { inputs });
  exposed.result = result;
  const features = renderResult($("planner-result"), result, { title, notices, close: clearResult });
  exposed.pieces = features.map((f) => f.properties);
  setData(RESULT, { type: "FeatureCollection", features: features.map((f) => ({
    ...f, geometry: geometryToLonLat(f.geometry) })) });
  const land = geometryToLonLat(result.land.geometry);
  setData(SKETCH, { type: "FeatureCollection", features: [{ type: "Feature", properties: {}, geometry: land }] });
  fit(land);
  state.busy = false;
  status(""); // the result's own title says it, and takes the focus
  $("planner-result").focus();
}

function fit(geometry) {
  const coords = (geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates).flat(2);
  const lons = coords.map((c) => c[0]);
  const lats = coords.map((c) => c[1]);
  // keep the land clear of the tools and their result: beside them on a wide screen, above them on a phone
  const tools = $("planner").getBoundingClientRect();
  const view = map.getContainer().getBoundingClientRect();
  const padding = { top: 60, bottom: 60, left: 60, right: 60 };
  if (view.width - tools.width > 360) padding[document.documentElement.dir === "rtl" ? "right" : "left"] = tools.width + 40;
  else padding.bottom = Math.min(tools.height + 20, view.height / 2);
  map.fitBounds([[Math.min(...lons), Math.min(...lats)], [Math.max(...lons), Math.max(...lats)]],
    { padding, maxZoom: 18, duration: 0 });
}

function clearResult() {
  setData(RESULT, emptyCollection());
  setData(SKETCH, emptyCollection());
  exposed.result = null;
  exposed.pieces = null;
}

// ---------------------------------------------------------------------------------------------- files
async function upload(file) {
  if (!file) return;
  status(t("planner.reading"));
  const form = new FormData();
  form.append("fichier", file, file.name);
  const res = await fetch("/carte/fichier", { method: "POST", body: form, headers: { Accept: "application/json" } });
  const land = await answer(res);
  const notices = [t("planner.file_read", { n: land.features, crs: land.source_crs }), ...land.notices];
  await overlay(land.geometry_26191, land.crs_26191, t("planner.result_file", { name: file.name }), notices);
}

function watchDrops() {
  const zone = $("planner-drop");
  const container = map.getContainer();
  const hasFiles = (e) => Array.from(e.dataTransfer?.types || []).includes("Files");
  container.addEventListener("dragover", (e) => { if (hasFiles(e)) { e.preventDefault(); zone.hidden = false; } });
  zone.addEventListener("dragover", (e) => e.preventDefault());
  zone.addEventListener("dragleave", () => { zone.hidden = true; });
  const drop = (e) => {
    e.preventDefault();
    zone.hidden = true;
    upload(e.dataTransfer?.files?.[0]).catch(fail);
  };
  container.addEventListener("drop", drop);
  zone.addEventListener("drop", drop);
  $("planner-file").addEventListener("change", (e) => {
    upload(e.target.files[0]).catch(fail).finally(() => { e.target.value = ""; });
  });
}

// ---------------------------------------------------------------------------------------------- printing
function capture() {
  // the canvas is read inside a render callback, while its drawing buffer still holds the frame
  return new Promise((resolve) => {
    map.once("render", () => map.getCanvas().toBlob(resolve, "image/png"));
    map.triggerRepaint();
  });
}

function colourOf(layer) {
  const paint = layer.paint || {};
  const value = paint["fill-color"] ?? paint["line-color"] ?? paint["circle-color"];
  return typeof value === "string" && HEX_COLOUR.test(value) ? value : "#888888"; // the print takes #rgb, #rrggbb
}

function resultLegend(seen) {
  // the overlay's pieces: one entry per zone and prescription kind drawn, with its own colour; the server
  // labels them (planner-result/zones with the zone's code, planner-result/<kind>), never from our text
  for (const piece of exposed.pieces || []) {
    const source = `${RESULT}/${piece.layer}`;
    const key = piece.layer === "zones" ? `${source}/${piece.code}` : source;
    const colour = HEX_COLOUR.test(piece.colour) ? piece.colour : "#888888";
    if (!seen.has(key)) seen.set(key, { source, code: piece.layer === "zones" ? piece.code : null, colour, kind: "fill" });
  }
}

function legend() {
  const seen = new Map();
  for (const layer of map.getStyle().layers) {
    if (!["fill", "line", "circle"].includes(layer.type) || !layer.source) continue;
    if ((layer.layout || {}).visibility === "none" || seen.has(layer.source)) continue;
    if (map.getZoom() < (layer.minzoom ?? 0) || map.getZoom() > (layer.maxzoom ?? 24)) continue;
    if (layer.source in shown && !shown[layer.source]) continue; // an empty sketch or result
    if (layer.source === RESULT) { resultLegend(seen); continue; }
    seen.set(layer.source, { source: layer.source, colour: colourOf(layer), kind: layer.type });
  }
  return [...seen.values()];
}

async function print(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  status(t("planner.printing"));
  const image = await capture();
  const b = map.getBounds();
  const body = new FormData();
  body.append("image", image, "carte.png");
  body.append("paper", form.get("paper"));
  body.append("orientation", form.get("orientation"));
  body.append("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].join(","));
  body.append("bearing", String(map.getBearing()));
  body.append("legend", JSON.stringify(legend()));
  body.append("lang", lang);
  if (planDate()) body.append("date", planDate());
  const res = await fetch("/carte/impression", { method: "POST", body });
  if (!res.ok) await answer(res);
  const blob = await res.blob();
  const name = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "")?.[1] || "carte.pdf";
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  exposed.printed = { name, bytes: blob.size };
  status(t("planner.printed", { name }));
}

// ---------------------------------------------------------------------------------------------- wiring
function wire() {
  document.querySelectorAll(".planner-tool[data-tool]").forEach((button) => {
    button.addEventListener("click", () => {
      if (button.dataset.tool === "print") {
        const form = $("planner-print");
        form.hidden = !form.hidden;
        button.setAttribute("aria-expanded", String(!form.hidden));
        if (!form.hidden) form.querySelector("select").focus();
        return;
      }
      setTool(button.dataset.tool);
      if (state.tool) map.getCanvas().focus();
    });
  });
  const actions = { "add-centre": () => addPoint(map.getCenter()), undo, finish, cancel };
  document.querySelectorAll("#planner-actions [data-action]").forEach((b) => {
    b.addEventListener("click", () => actions[b.dataset.action]());
  });
  $("planner-print").addEventListener("submit", (e) => print(e).catch(fail));
  map.on("click", (e) => addPoint(e.lngLat));
  map.on("dblclick", (e) => { if (state.tool) { e.preventDefault(); finish(); } });
  map.on("mousemove", (e) => { if (state.tool && !state.done) { state.cursor = [e.lngLat.lng, e.lngLat.lat]; render(); } });
  document.addEventListener("keydown", onKey);
  watchDrops();
}

mapReady.then((loaded) => {
  map = loaded;
  addLayers();
  wire();
  document.getElementById("planner").dataset.ready = "true";
});
