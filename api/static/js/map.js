// The public map: MapLibre GL JS (CSP build, served from /vendor/) over urbasig's own vector tiles.
// Other modules wait for the map with `import { mapReady } from "./map.js"`.

const config = JSON.parse(document.getElementById("urbasig-config").textContent);

function tiles(collection) {
  return `${location.origin}/ogc/collections/${collection}/tiles/WebMercatorQuad/{z}/{y}/{x}`;
}

function style() {
  return {
    version: 8,
    sources: {
      zones: { type: "vector", tiles: [tiles("zones")], minzoom: 10, maxzoom: 18 },
      parcels: { type: "vector", tiles: [tiles("parcels")], minzoom: 10, maxzoom: 18 },
    },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#f4f1ea" } },
      { id: "zones-fill", type: "fill", source: "zones", "source-layer": "zones",
        paint: { "fill-color": "#c9a227", "fill-opacity": 0.35 } },
      { id: "parcels-line", type: "line", source: "parcels", "source-layer": "parcels", minzoom: 14,
        paint: { "line-color": "#555", "line-width": 0.5 } },
    ],
  };
}

export const mapReady = new Promise((resolve) => {
  window.addEventListener("load", () => {
    maplibregl.setWorkerUrl("/vendor/maplibre-gl/dist/maplibre-gl-csp-worker.js");
    const map = new maplibregl.Map({ container: "map", style: style(), center: config.center, zoom: config.zoom });
    window.__urbasigMap = map; // for the browser tests and the console
    map.on("load", () => resolve(map));
  });
});
