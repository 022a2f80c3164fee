// The public map: MapLibre GL JS (CSP build, served from /vendor/) over urbasig's own vector tiles, its layer
// switcher and date, the selected land, and the page's address (a shareable URL).
// Other modules wait for the map with `import { mapReady } from "./map.js"`; search.js shows its results
// with `showResult(result)`.
//
// The URL: /?land=TF%201%2FC&date=AAAA-MM-JJ&projet=1&impact=1&lang=ar#map=zoom/lat/lon (or lon=&lat= for a point
// instead of land=; `masquer=roads,parcels` for layers turned off; impact=1: the plan impact layer shown). Each part is optional; the view comes from
// #map=, else from the selected land (the panel's bbox), else the data's extent.
import { lang, t } from "./i18n.js";
import { buildStyle, GROUPS, patterns, tileUrl } from "./map-style.js";

const config = JSON.parse(document.getElementById("urbasig-config").textContent);
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const state = readUrl();
let map = null;

function readUrl() {
  const query = new URLSearchParams(location.search);
  const lon = Number.parseFloat(query.get("lon"));
  const lat = Number.parseFloat(query.get("lat"));
  const date = query.get("date");
  const hidden = (query.get("masquer") || "").split(",")
    .filter((group) => group in GROUPS && !["draft", "impact"].includes(group));
  const view = /^#map=([\d.]+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(location.hash);
  return {
    land: query.get("land") || null,
    point: Number.isFinite(lon) && Number.isFinite(lat) ? [lon, lat] : null,
    date: date && DAY.test(date) && !Number.isNaN(Date.parse(date)) ? date : config.today,
    draft: query.get("projet") === "1",
    impact: query.get("impact") === "1" && (config.impact || []).length > 0, // only with a published run
    hidden: new Set(hidden),
    view: view ? { zoom: Number(view[1]), center: [Number(view[3]), Number(view[2])] } : null,
    featureId: null,
  };
}

// The query of the current state, in `language` (the page's unless asked).
function stateQuery(language = lang) {
  const query = new URLSearchParams();
  if (state.land) query.set("land", state.land);
  else if (state.point) {
    query.set("lon", state.point[0].toFixed(6));
    query.set("lat", state.point[1].toFixed(6));
  }
  if (state.date !== config.today) query.set("date", state.date);
  if (state.draft) query.set("projet", "1");
  if (state.impact) query.set("impact", "1");
  if (state.hidden.size) query.set("masquer", [...state.hidden].join(","));
  query.set("lang", language);
  return query;
}

function viewHash() {
  if (!map) return location.hash;
  const { lng, lat } = map.getCenter();
  return `#map=${map.getZoom().toFixed(2)}/${lat.toFixed(5)}/${lng.toFixed(5)}`;
}

// Keep the address bar and the language link in step with the map (no new history entry per move).
function writeUrl() {
  const hash = viewHash();
  history.replaceState(null, "", `${location.pathname}?${stateQuery()}${hash}`);
  const other = lang === "ar" ? "fr" : "ar";
  const link = document.querySelector("a.lang");
  if (link) link.href = `${location.pathname}?${stateQuery(other)}${hash}`;
}

function selection() {
  return { date: state.date, projet: state.draft };
}

// Ask the panel to show a land ({land} or {lon, lat}); it answers with urbasig:land.
export function select(target, { keepView = false } = {}) {
  state.keepView = keepView; // a click (the land is in view) or a shared view: the panel's bbox moves nothing
  if (target.land) {
    state.land = target.land;
    state.point = null;
  } else {
    state.land = null;
    state.point = [target.lon, target.lat];
  }
  writeUrl();
  document.dispatchEvent(new CustomEvent("urbasig:select", { detail: { ...target, ...selection() } }));
}

// A search result: fly there and select it (a land by its reference, a point or an address by its place).
export function showResult(result) {
  if (!map) return;
  if (result.land) { // the panel answers with the land's box: one flight, to the map as the open panel leaves it
    select({ land: result.land });
    return;
  }
  if (result.bbox) {
    const [w, s, e, n] = result.bbox;
    map.fitBounds([[w, s], [e, n]], { padding: padding(40), maxZoom: result.kind === "commune" ? 15 : 18, duration: 800 });
  } else {
    map.flyTo({ center: result.center, zoom: Math.max(map.getZoom(), 17), duration: 800 });
  }
  if (result.kind !== "commune") select({ lon: result.center[0], lat: result.center[1] }, { keepView: true });
}

// Padding for fitBounds that keeps what is fitted clear of what floats over the map: the layer switcher, the
// planner's toolbar and, on a phone, the panel's bottom sheet (the largest cover on each side counts).
function padding(base) {
  const box = document.getElementById("map").getBoundingClientRect();
  const cover = { top: 0, bottom: 0, left: 0, right: 0 };
  const switcher = document.querySelector("details.layers");
  const over = switcher.getBoundingClientRect();
  if (switcher.open && over.width < box.width / 2) {
    if (over.left - box.left < box.width / 2) cover.left = over.right - box.left;
    else cover.right = box.right - over.left;
  }
  const tools = document.querySelector("#planner .planner-tools")?.getBoundingClientRect();
  if (tools && tools.height && tools.height < box.height / 3) { // the planner's toolbar, at the top or the foot
    if (tools.top - box.top < box.height / 2) cover.top = tools.bottom - box.top;
    else cover.bottom = box.bottom - tools.top;
  }
  const panel = document.getElementById("panel");
  if (panel.childElementCount && ["absolute", "fixed"].includes(getComputedStyle(panel).position)) {
    cover.bottom = Math.max(cover.bottom, Math.min(box.bottom - panel.getBoundingClientRect().top, box.height * 0.75));
  }
  const pad = Object.fromEntries(Object.entries(cover).map(([side, px]) => [side, base + Math.max(0, px)]));
  if (pad.top + pad.bottom > box.height - 40) pad.top = pad.bottom = base; // too small a map: plain padding
  if (pad.left + pad.right > box.width - 40) pad.left = pad.right = base;
  return pad;
}

function inView(bbox) {
  const [w, s, e, n] = bbox;
  const view = map.getBounds();
  return view.contains([w, s]) && view.contains([e, n]);
}

function highlight(land, id) {
  const filter = land ? ["==", ["get", "land_ref"], land]
    : id !== null && id !== undefined ? ["==", ["id"], id] : ["==", ["get", "land_ref"], "\u0000"];
  map.setFilter("selected-fill", filter);
  map.setFilter("selected-line", filter);
}

// The panel says which land it shows (or null when closed): outline it, bring it into view, remember it.
function onLand(event) {
  const detail = event.detail;
  if (!detail) {
    state.land = null;
    state.point = null;
    highlight(null, null);
    writeUrl();
    return;
  }
  if (detail.land) {
    state.land = detail.land;
    state.point = null;
  }
  if (typeof detail.projet === "boolean" && detail.projet !== state.draft) { // the panel's own draft switch
    state.draft = detail.projet;
    const box = document.getElementById("layer-draft");
    box.checked = state.draft;
    showGroup("draft", state.draft);
  }
  highlight(detail.land, state.featureId);
  map.resize(); // the panel just opened beside the map: measure the map as it is now
  const switcher = document.querySelector("details.layers");
  if (switcher.open && map.getContainer().clientWidth < 1000) switcher.open = false; // room for the land
  const box = Array.isArray(detail.bbox) && detail.bbox.length === 4 ? detail.bbox : null;
  if (box && !(state.keepView && inView(box))) { // a click or a shared view keeps the view, if the land shows
    const [w, s, e, n] = box;
    map.fitBounds([[w, s], [e, n]], { padding: padding(60), maxZoom: 17.5, duration: 600 });
  }
  state.keepView = false;
  writeUrl();
}

function onClick(event) {
  if (map.getContainer().classList.contains("planner-drawing")) return; // a vertex of the planner's drawing
  const hit = map.queryRenderedFeatures(event.point, { layers: ["parcels-hit"] })[0];
  state.featureId = hit ? hit.id : null;
  if (hit && hit.properties.land_ref) select({ land: hit.properties.land_ref }, { keepView: true });
  else select({ lon: event.lngLat.lng, lat: event.lngLat.lat }, { keepView: true });
}

function setDate(date) {
  state.date = date;
  for (const [source, collection, draft] of [["zones", "zones", false], ["prescriptions", "prescriptions", false],
    ["draft-zones", "zones", true], ["draft-prescriptions", "prescriptions", true]]) {
    map.getSource(source).setTiles([tileUrl(location.origin, collection, date, draft)]);
  }
  writeUrl();
  if (state.land) select({ land: state.land }, { keepView: true });
  else if (state.point) select({ lon: state.point[0], lat: state.point[1] }, { keepView: true });
}

function showGroup(group, visible) {
  for (const id of GROUPS[group]) map.setLayoutProperty(id, "visibility", visible ? "visible" : "none");
}

function wireSwitcher() {
  for (const box of document.querySelectorAll(".switcher input[data-group]")) {
    const group = box.dataset.group;
    box.checked = group === "draft" ? state.draft : group === "impact" ? state.impact : !state.hidden.has(group);
    showGroup(group, box.checked);
    box.addEventListener("change", () => {
      showGroup(group, box.checked);
      if (group === "draft") {
        state.draft = box.checked;
        if (state.land) select({ land: state.land }, { keepView: true });
      } else if (group === "impact") state.impact = box.checked;
      else if (box.checked) state.hidden.delete(group);
      else state.hidden.add(group);
      writeUrl();
    });
  }
  const input = document.getElementById("plans-date");
  input.value = state.date;
  input.addEventListener("change", () => {
    const ok = DAY.test(input.value) && !Number.isNaN(Date.parse(input.value));
    input.setCustomValidity(ok ? "" : t("map.date_invalid"));
    if (ok && input.value !== state.date) setDate(input.value);
  });
}

// Mirrored in Arabic: the end side holds the switcher (top), zoom and credits (bottom); the start side the
// planner's toolbar (top) and the scale bar (bottom).
function controls() {
  const [start, end] = lang === "ar" ? ["right", "left"] : ["left", "right"];
  map.addControl(new maplibregl.AttributionControl({ compact: false, customAttribution: t("map.attribution") }),
    `bottom-${end}`);
  map.addControl(new maplibregl.NavigationControl({ showCompass: true }), `bottom-${end}`);
  map.addControl(new maplibregl.ScaleControl({ unit: "metric", maxWidth: 120 }), `bottom-${start}`);
}

function create() {
  if (matchMedia("(max-width: 640px)").matches) document.querySelector("details.layers").open = false; // a phone: the map first
  maplibregl.setWorkerUrl("/vendor/maplibre-gl/dist/maplibre-gl-csp-worker.js");
  const options = {
    container: "map",
    style: buildStyle({ origin: location.origin, date: state.date, families: config.families,
      communes: config.communes || [], impact: (config.impact || []).length > 0 }),
    attributionControl: false, // added by controls(), on the side the language asks
    locale: {
      "NavigationControl.ZoomIn": t("map.zoom_in"), "NavigationControl.ZoomOut": t("map.zoom_out"),
      "NavigationControl.ResetBearing": t("map.reset_bearing"),
      "AttributionControl.ToggleAttribution": t("map.attribution_toggle"), "Map.Title": t("map.title"),
      "ScaleControl.Meters": t("map.meters"), "ScaleControl.Kilometers": t("map.kilometers"),
    },
    maxZoom: 20, minZoom: 9, dragRotate: false, pitchWithRotate: false,
  };
  if (state.view) Object.assign(options, state.view);
  else if (config.extent) Object.assign(options, { bounds: config.extent, fitBoundsOptions: { padding: padding(20) } });
  else Object.assign(options, { center: [-7.62, 33.57], zoom: 11 }); // an empty database: Casablanca
  map = new maplibregl.Map(options);
  window.__urbasigMap = map; // for the browser tests and the console
  for (const [name, image] of Object.entries(patterns())) map.addImage(name, image, { pixelRatio: 2 });
  controls();
  return map;
}

async function fontsReady() {
  // MapLibre draws labels with the page's fonts (no glyph server): they must be loaded before the first label.
  try {
    await Promise.all(['400 16px "Noto Sans"', '700 16px "Noto Sans"'].map((font) => document.fonts.load(font)));
  } catch {
    // the labels then use the system's sans-serif: still readable
  }
}

export const mapReady = new Promise((resolve) => {
  window.addEventListener("load", async () => {
    await fontsReady();
    create();
    map.on("load", () => {
      wireSwitcher();
      map.on("click", onClick);
      map.on("mousemove", (event) => {
        const hit = map.getZoom() >= 15 && map.queryRenderedFeatures(event.point, { layers: ["parcels-hit"] }).length;
        map.getContainer().classList.toggle("clickable", Boolean(hit));
      });
      map.on("moveend", writeUrl);
      document.addEventListener("urbasig:land", onLand);
      const keepView = Boolean(state.view); // a shared view wins over the land's bbox
      if (state.land) select({ land: state.land }, { keepView });
      else if (state.point) select({ lon: state.point[0], lat: state.point[1] }, { keepView });
      writeUrl();
      resolve(map);
    });
  });
});
