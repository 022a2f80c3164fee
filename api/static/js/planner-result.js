// The overlay result panel: what the instruction process found on the drawn or dropped land, listed, and the
// intersections to draw (in EPSG:26191, each with its colour).
import { number, t } from "./i18n.js";

const vocabulary = JSON.parse(document.getElementById("planner-vocabulary")?.textContent || "{}");
const PALETTE = ["#f6d38b", "#f4a582", "#c2a5cf", "#a6dba0", "#92c5de", "#fddbc7", "#d9f0d3", "#e7d4e8", "#fee090",
  "#b2abd2", "#80cdc1", "#dfc27d"];
const PRESCRIPTION_COLOURS = { road_widening: "#e66101", new_road: "#e66101", alignment: "#b2182b",
  facility_reservation: "#7b3294", green_space: "#1b7837", non_aedificandi: "#000000", heritage_perimeter: "#8c510a",
  flood_zone: "#2166ac", utility_corridor: "#c51b7d", rail_setback: "#4d4d4d", motorway_setback: "#d6604d",
  maritime_domain: "#35978f", cemetery_buffer: "#542788" };

export function zoneColour(code) {
  let hash = 0;
  for (const char of code || "") hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

function swatch(colour) {
  const span = el("span", { class: "planner-swatch", "aria-hidden": "true" });
  span.dataset.colour = colour;
  span.style.setProperty("--swatch", colour); // CSSOM, not a style attribute: allowed by the CSP
  return span;
}

function table(caption, headers, rows) {
  const head = el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)));
  return el("table", { class: "planner-table" }, el("caption", {}, caption), el("thead", {}, head),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c))))));
}

function kindLabel(kind, fallback) { return vocabulary.prescriptions?.[kind] || fallback || kind; }

function zoneRows(zones) {
  return zones.map((z) => {
    // <bdi>: codes and plan names are written left to right, also in an Arabic page
    const name = el("span", {}, swatch(zoneColour(z.code)), el("bdi", {}, `${z.code}${z.sector ? ` · ${z.sector}` : ""}`));
    const share = number(z.share_pct, 1) + (z.marginal ? ` (${t("planner.marginal")})` : "");
    return [name, el("bdi", {}, z.label || ""), number(z.area_m2), share, el("bdi", {}, z.plan || "")];
  });
}

function prescriptionRows(items) {
  return items.map(({ kind, feature }) => [
    el("span", {}, swatch(PRESCRIPTION_COLOURS[kind] || "#2166ac"), kindLabel(kind)),
    el("bdi", {}, feature.label || feature.code || ""), number(feature.area_m2),
    number(feature.share_pct, 1) + (feature.marginal ? ` (${t("planner.marginal")})` : ""),
    el("bdi", {}, feature.plan || "")]);
}

function plansList(result) {
  const applied = result.plans?.applied || [];
  if (!applied.length) return el("p", {}, t("planner.no_plan"));
  return el("ul", { class: "planner-plans" }, ...applied.map((p) => el("li", {},
    el("bdi", {}, `${p.name} (${p.code})`), ` — ${vocabulary.statuses?.[p.status_on || p.status] || p.status_label || ""}`,
    ...(p.approval_act ? [", ", el("bdi", {}, p.approval_act)] : []))));
}

/** Fill `container` with the result; the intersections to draw, as GeoJSON features in EPSG:26191. */
export function renderResult(container, result, { title, notices = [], close }) {
  const zonesLayer = result.layers.find((l) => l.layer === "zones");
  const zones = zonesLayer?.features || [];
  const prescriptions = result.layers.filter((l) => l.layer.startsWith("prescriptions/"))
    .flatMap((l) => l.features.map((feature) => ({ kind: l.layer.split("/")[1], feature })));
  const closeButton = el("button", { type: "button", class: "planner-close" }, t("planner.close"));
  closeButton.addEventListener("click", () => { container.hidden = true; close(); });
  const parts = [el("header", {}, el("h2", { id: "planner-result-title" }, title), closeButton),
    el("p", {}, t("planner.land_area", { v: number(result.land.area_m2) }))];
  if (notices.length) parts.push(el("ul", { class: "planner-notices", "aria-label": t("planner.notices") },
    ...notices.map((n) => el("li", {}, n))));
  const headers = [t("planner.zone"), "", t("planner.m2"), t("planner.pct"), t("planner.plan")];
  parts.push(zones.length ? table(t("planner.zones"), headers, zoneRows(zones)) : el("p", {}, t("planner.no_zone")));
  parts.push(prescriptions.length
    ? table(t("planner.prescriptions"), [t("planner.kind"), "", t("planner.m2"), t("planner.pct"), t("planner.plan")],
      prescriptionRows(prescriptions))
    : el("p", {}, t("planner.no_prescription")));
  parts.push(el("h3", {}, t("planner.plans_cited")), plansList(result));
  if (result.warnings?.length) {
    parts.push(el("h3", {}, t("planner.warnings")),
      el("ul", { class: "planner-warnings" }, ...result.warnings.map((w) => el("li", {}, w.message || w.code))));
  }
  parts.push(el("p", { class: "planner-disclaimer" }, t("planner.disclaimer")));
  container.replaceChildren(...parts);
  container.hidden = false;
  const land = result.land.geometry;
  const piece = (f, colour, layer, label, code = null) => ({ type: "Feature", properties: { colour, layer, label, code },
    geometry: f.geometry || land });
  return [...zones.map((z) => piece(z, zoneColour(z.code), "zones", `${t("planner.zone")} ${z.code}`, z.code)),
    ...prescriptions.map(({ kind, feature }) => piece(feature, PRESCRIPTION_COLOURS[kind] || "#2166ac", kind,
      kindLabel(kind)))];
}
