// The preview map of the OGC API's HTML pages: MapLibre GL JS (CSP build from /vendor/), the collection's own
// vector tiles when it has some, and the GeoJSON of the page (its features, or the collection's extent) drawn
// on top and framed; `items` (the open-data pages): GeoJSON addresses of this server fetched and drawn on top.
// No basemap, no request off this server. Reads <script id="ogc-preview-data">.

const data = JSON.parse(document.getElementById("ogc-preview-data").textContent);

function absolute(url) {
  return url.startsWith("/") ? location.origin + url : url;
}

function extentFeature(bbox) {
  const [w, s, e, n] = bbox;
  return { type: "FeatureCollection", features: [{ type: "Feature", properties: {},
    geometry: { type: "Polygon", coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] } }] };
}

function eachPosition(geometry, visit) {
  if (!geometry) return;
  if (geometry.type === "GeometryCollection") { geometry.geometries.forEach((g) => eachPosition(g, visit)); return; }
  const walk = (c) => (typeof c[0] === "number" ? visit(c) : c.forEach(walk));
  walk(geometry.coordinates);
}

function boundsOf(collection) {
  let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
  collection.features.forEach((f) => eachPosition(f.geometry, ([x, y]) => {
    w = Math.min(w, x); s = Math.min(s, y); e = Math.max(e, x); n = Math.max(n, y);
  }));
  return w === Infinity ? null : [[w, s], [e, n]];
}

function style(drawn) {
  const sources = { drawn: { type: "geojson", data: drawn } };
  const layers = [{ id: "background", type: "background", paint: { "background-color": "#f4f1ea" } }];
  if (data.tiles) {
    sources.tiles = { type: "vector", tiles: [absolute(data.tiles)], minzoom: 10, maxzoom: 18 };
    const layer = data.tiles.split("/collections/")[1].split("/")[0];
    layers.push({ id: "tiles-fill", type: "fill", source: "tiles", "source-layer": layer,
      paint: { "fill-color": "#9fb3c8", "fill-opacity": 0.25 } });
    layers.push({ id: "tiles-line", type: "line", source: "tiles", "source-layer": layer,
      paint: { "line-color": "#6b7c8f", "line-width": 0.5 } });
  }
  layers.push(
    { id: "drawn-fill", type: "fill", source: "drawn", filter: ["==", ["geometry-type"], "Polygon"],
      paint: { "fill-color": "#0b5394", "fill-opacity": 0.2 } },
    { id: "drawn-line", type: "line", source: "drawn", filter: ["!=", ["geometry-type"], "Point"],
      paint: { "line-color": "#0b5394", "line-width": 2 } },
    { id: "drawn-point", type: "circle", source: "drawn", filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-color": "#0b5394", "circle-radius": 5, "circle-stroke-color": "#fff", "circle-stroke-width": 1 } },
  );
  return { version: 8, sources, layers };
}

window.addEventListener("load", () => {
  const container = document.getElementById("preview");
  if (!container || typeof maplibregl === "undefined") return;
  maplibregl.setWorkerUrl("/vendor/maplibre-gl/dist/maplibre-gl-csp-worker.js");
  const drawn = data.features || (data.bbox ? extentFeature(data.bbox) : { type: "FeatureCollection", features: [] });
  const bounds = boundsOf(drawn);
  const map = new maplibregl.Map({ container, style: style(drawn), attributionControl: false,
    bounds: bounds || undefined, fitBoundsOptions: { padding: 24, maxZoom: 18 },
    center: bounds ? undefined : [-7.6, 33.55], zoom: bounds ? undefined : 10 });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }));
  window.__ogcPreview = map; // for the browser tests and the console
  if (data.items && data.items.length) map.on("load", () => drawItems(map, data.items));
});

async function drawItems(map, urls) {
  const answers = await Promise.all(urls.map((url) => fetch(url, { headers: { Accept: "application/geo+json" } })
    .then((r) => (r.ok ? r.json() : { features: [] }))));
  const features = answers.flatMap((a) => a.features || []);
  map.getSource("drawn").setData({ type: "FeatureCollection", features });
  map.getContainer().dataset.drawn = String(features.length); // for the browser tests: the features are drawn
}
