// The map's MapLibre style, all from urbasig's own vector tiles (no basemap, no glyph server: with no `glyphs`
// in the style MapLibre ≥ 5.11 draws text with the page's fonts, Noto Sans served under /vendor/).
// Colours are the CSS custom properties of map.css, so the legend and the map say the same thing.

const PRESCRIPTION_DAY = ["zones", "prescriptions"]; // the plan-bound layers: their tiles take datetime=
export const DRAFT_STATUS = "enquete_publique";

// Layer ids by switcher group (the checkboxes' data-group).
export const GROUPS = {
  zones: ["zones-fill", "zones-line", "zones-label"],
  prescriptions: ["presc-reservation-fill", "presc-flood-fill", "presc-widening-fill", "presc-widening-hatch",
    "presc-new_road-hatch", "presc-green-hatch", "presc-nae-hatch", "presc-widening-line", "presc-new_road-line",
    "presc-reservation-line", "presc-green-line", "presc-heritage-line", "presc-flood-line", "presc-servitude-line",
    "presc-alignment", "presc-label"],
  draft: ["draft-fill", "draft-hatch", "draft-line", "draft-presc-line", "draft-label"],
  impact: ["impact-fill", "impact-hatch", "impact-line"], // only in the style when a published run exists
  roads: ["roads-fill", "roads-line"],
  parcels: ["parcels-hit", "parcels-line"],
  communes: ["communes-casing", "communes-line", "communes-label"],
};
const SERVITUDES = ["utility_corridor", "rail_setback", "motorway_setback", "maritime_domain", "cemetery_buffer", "other"];
const FONT = ["Noto Sans"];
const FONT_BOLD = ["Noto Sans Bold", "Noto Sans"]; // "Bold" gives the weight; the family is "Noto Sans"

export function cssColour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim() || "#888888";
}

// A repeating hatch (ImageData for map.addImage): lines at `angle` degrees (45, -45, 90 or "cross").
export function hatch(colour, angle, size = 16, width = 2.5) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext("2d");
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  const lines = (direction) => {
    ctx.beginPath();
    for (const shift of [-size, 0, size]) {
      if (direction === 90) {
        ctx.moveTo(size / 2 + shift, 0);
        ctx.lineTo(size / 2 + shift, size);
      } else if (direction === 45) {
        ctx.moveTo(shift, size);
        ctx.lineTo(shift + size, 0);
      } else {
        ctx.moveTo(shift, 0);
        ctx.lineTo(shift + size, size);
      }
    }
    ctx.stroke();
  };
  if (angle === "cross") {
    lines(45);
    lines(-45);
  } else {
    lines(angle);
  }
  return ctx.getImageData(0, 0, size, size);
}

export function patterns() {
  return {
    "hatch-widening": hatch(cssColour("presc-widening"), 45),
    "hatch-new_road": hatch(cssColour("presc-new_road"), -45),
    "hatch-green": hatch(cssColour("presc-green"), 90, 12, 2),
    "hatch-nae": hatch(cssColour("presc-non_aedificandi"), "cross", 14, 1.5),
    "hatch-draft": hatch(cssColour("draft"), 45, 14, 2.5),
    "hatch-impact-reserved": hatch(cssColour("impact-reserved-hatch"), -45, 10, 2),
  };
}

// The tile URL of a collection, for the plans of `date` (and the draft in public inquiry when `draft`).
export function tileUrl(origin, collection, date, draft = false) {
  const base = `${origin}/ogc/collections/${collection}/tiles/WebMercatorQuad/{z}/{y}/{x}`;
  if (!PRESCRIPTION_DAY.includes(collection)) return base;
  const query = new URLSearchParams({ datetime: date });
  if (draft) query.set("versions", DRAFT_STATUS);
  return `${base}?${query}`;
}

function familyColour(families) {
  const match = ["match", ["get", "family"]];
  for (const family of families) match.push(family, cssColour(`family-${family}`));
  match.push(cssColour("family-autre"));
  return match;
}

const kind = (...kinds) => ["in", ["get", "kind"], ["literal", kinds]];
const NOTHING = ["==", ["get", "land_ref"], "\u0000"];

function layer(type, id, source, filter, paint, extra) {
  const spec = { id, type, source, "source-layer": source.replace("draft-", ""), paint, ...extra };
  if (filter) spec.filter = filter;
  return spec;
}

const fill = (id, source, filter, paint, extra = {}) => layer("fill", id, source, filter, paint, extra);
const line = (id, source, filter, paint, extra = {}) => layer("line", id, source, filter, paint, extra);

function prescriptionLayers() {
  const P = "prescriptions";
  const c = cssColour;
  return [
    fill("presc-reservation-fill", P, kind("facility_reservation"), { "fill-color": c("presc-reservation"), "fill-opacity": 0.22 }),
    fill("presc-flood-fill", P, kind("flood_zone"), { "fill-color": c("presc-flood"), "fill-opacity": 0.18 }),
    fill("presc-widening-fill", P, kind("road_widening"), { "fill-color": c("presc-widening"), "fill-opacity": 0.25 }),
    fill("presc-widening-hatch", P, kind("road_widening"), { "fill-pattern": "hatch-widening" }),
    fill("presc-new_road-hatch", P, kind("new_road"), { "fill-pattern": "hatch-new_road" }),
    fill("presc-green-hatch", P, kind("green_space"), { "fill-pattern": "hatch-green", "fill-opacity": 0.8 }),
    fill("presc-nae-hatch", P, kind("non_aedificandi"), { "fill-pattern": "hatch-nae" }),
    line("presc-widening-line", P, kind("road_widening"), { "line-color": c("presc-widening"), "line-width": 1.2 }),
    line("presc-new_road-line", P, kind("new_road"),
      { "line-color": c("presc-new_road"), "line-width": 1.5, "line-dasharray": [3, 2] }),
    line("presc-reservation-line", P, kind("facility_reservation"), { "line-color": c("presc-reservation"), "line-width": 2 }),
    line("presc-green-line", P, kind("green_space"), { "line-color": c("presc-green"), "line-width": 1.5 }),
    line("presc-heritage-line", P, kind("heritage_perimeter"),
      { "line-color": c("presc-heritage"), "line-width": 2.5, "line-dasharray": [4, 2] }),
    line("presc-flood-line", P, kind("flood_zone"),
      { "line-color": c("presc-flood"), "line-width": 2, "line-dasharray": [2, 2] }),
    line("presc-servitude-line", P, kind(...SERVITUDES),
      { "line-color": c("presc-servitude"), "line-width": 2, "line-dasharray": [5, 2, 1, 2] }),
    line("presc-alignment", P, ["all", kind("alignment"), ["==", ["geometry-type"], "LineString"]],
      { "line-color": c("presc-alignment"), "line-width": ["interpolate", ["linear"], ["zoom"], 12, 0.6, 15, 1.6, 18, 3.5] }),
  ];
}

function labelLayers() {
  const halo = { "text-halo-color": "#ffffff", "text-halo-width": 1.6, "text-color": "#1d2733" };
  return [
    { id: "zones-label", type: "symbol", source: "zones", "source-layer": "zones", minzoom: 14,
      layout: { "text-field": ["get", "code"], "text-font": FONT_BOLD, "text-size": 12, "symbol-placement": "point",
        "text-padding": 8 }, paint: halo },
    { id: "presc-label", type: "symbol", source: "prescriptions", "source-layer": "prescriptions", minzoom: 16,
      filter: kind("facility_reservation"),
      layout: { "text-field": ["get", "code"], "text-font": FONT, "text-size": 11 },
      paint: { ...halo, "text-color": cssColour("presc-reservation") } },
    { id: "draft-label", type: "symbol", source: "draft-zones", "source-layer": "zones", minzoom: 14,
      layout: { "text-field": ["concat", ["get", "was"], " → ", ["get", "code"]], "text-font": FONT_BOLD,
        "text-size": 12, visibility: "none" },
      paint: { ...halo, "text-color": cssColour("draft") } },
    { id: "communes-label", type: "symbol", source: "commune-labels", maxzoom: 15.5,
      layout: { "text-field": ["get", "name"], "text-font": FONT_BOLD,
        "text-size": ["interpolate", ["linear"], ["zoom"], 11, 12, 15, 17], "text-transform": "uppercase",
        "text-letter-spacing": 0.08 },
      paint: { "text-color": "#2b2b2b", "text-halo-color": "#ffffffcc", "text-halo-width": 2 } },
  ];
}

function draftLayers(families) {
  const hidden = { visibility: "none" };
  return [
    fill("draft-fill", "draft-zones", null, { "fill-color": familyColour(families), "fill-opacity": 0.85 },
      { layout: hidden }),
    fill("draft-hatch", "draft-zones", null, { "fill-pattern": "hatch-draft" }, { layout: hidden }),
    line("draft-line", "draft-zones", null,
      { "line-color": cssColour("draft"), "line-width": 2, "line-dasharray": [3, 1.5] }, { layout: hidden }),
    line("draft-presc-line", "draft-prescriptions", kind("new_road", "road_widening", "facility_reservation", "green_space"),
      { "line-color": cssColour("draft"), "line-width": 1.5, "line-dasharray": [1, 1.5] }, { layout: hidden }),
  ];
}

// The plan impact (collection plan-impact, published runs): parcels coloured by `change`, newly reserved ones
// hatched too, so the legend does not rest on colour alone.
export const IMPACT_CHANGES = ["gain", "loss", "reserved", "outside", "unchanged"]; // outside: in one plan only

function impactLayers() {
  const hidden = { visibility: "none" };
  const colour = ["match", ["get", "change"]];
  for (const change of IMPACT_CHANGES) colour.push(change, cssColour(`impact-${change}`));
  colour.push(cssColour("impact-unchanged"));
  const unchanged = ["==", ["get", "change"], "unchanged"];
  return [
    // unchanged parcels mute the zoning under them, so that inside the run's area only the legend's colours show
    fill("impact-fill", "plan-impact", null, { "fill-color": colour, "fill-opacity": ["case", unchanged, 0.75, 0.9] },
      { layout: hidden }),
    fill("impact-hatch", "plan-impact", ["==", ["get", "change"], "reserved"], { "fill-pattern": "hatch-impact-reserved" },
      { layout: hidden }),
    line("impact-line", "plan-impact", null, { "line-color": "#1d2733", "line-width": 0.5,
      "line-opacity": ["case", unchanged, 0.25, 0.6] }, { layout: hidden, minzoom: 14 }),
  ];
}

// The whole style for the plans of `date`; `communes` are the label points the page was given; `impact`: whether a
// published plan impact run exists (its layer is then in the style, hidden until the switcher shows it).
export function buildStyle({ origin, date, families, communes, impact = false }) {
  const vector = (collection, minzoom = 10, draft = false) =>
    ({ type: "vector", tiles: [tileUrl(origin, collection, date, draft)], minzoom, maxzoom: 18 });
  const labels = { type: "FeatureCollection", features: communes.map((c) => ({ type: "Feature",
    properties: { name: c.name, code: c.code }, geometry: { type: "Point", coordinates: c.point } })) };
  const c = cssColour;
  return {
    version: 8,
    sources: {
      zones: vector("zones"), prescriptions: vector("prescriptions"), roads: vector("roads", 12),
      communes: vector("communes"), parcels: vector("parcels", 15),
      "draft-zones": vector("zones", 10, true), "draft-prescriptions": vector("prescriptions", 10, true),
      "commune-labels": { type: "geojson", data: labels },
      ...(impact ? { "plan-impact": vector("plan-impact", 12) } : {}),
    },
    layers: [
      { id: "background", type: "background", paint: { "background-color": c("map-bg") } },
      fill("zones-fill", "zones", null, { "fill-color": familyColour(families),
        "fill-opacity": ["interpolate", ["linear"], ["zoom"], 11, 0.85, 17, 0.6] }),
      fill("roads-fill", "roads", null, { "fill-color": c("road-fill"), "fill-opacity": 0.9 }, { minzoom: 12 }),
      line("roads-line", "roads", null, { "line-color": c("road-line"), "line-width": 0.6 }, { minzoom: 14 }),
      line("zones-line", "zones", null, { "line-color": "#5a4a32", "line-width": 0.7, "line-opacity": 0.55 },
        { minzoom: 12 }),
      ...prescriptionLayers(),
      fill("parcels-hit", "parcels", null, { "fill-color": "#000000", "fill-opacity": 0 }, { minzoom: 15 }),
      line("parcels-line", "parcels", null, { "line-color": c("parcel-line"),
        "line-width": ["interpolate", ["linear"], ["zoom"], 14, 0.25, 18, 1.1], "line-opacity": 0.75 },
      { minzoom: 15 }),
      ...draftLayers(families),
      ...(impact ? impactLayers() : []),
      line("communes-casing", "communes", null, { "line-color": "#ffffff", "line-width": 4, "line-opacity": 0.8 }),
      line("communes-line", "communes", null,
        { "line-color": c("commune-line"), "line-width": 1.6, "line-dasharray": [4, 2, 1, 2] }),
      fill("selected-fill", "parcels", NOTHING, { "fill-color": c("selected"), "fill-opacity": 0.25 }),
      line("selected-line", "parcels", NOTHING, { "line-color": c("selected"), "line-width": 3.5 }),
      ...labelLayers(),
    ],
  };
}
