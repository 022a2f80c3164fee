// The land panel: fetches the /carte/terrain fragment into aside#panel, moves focus to its title and tells the
// map (`urbasig:land`, detail {land, bbox, center, date, projet}, or null when closed). Anyone (the map's click,
// the search) opens it by dispatching `urbasig:select` with detail {land: "TF 1/C"} or {lon, lat}, plus date and
// projet; or calls showLand() directly.
import { lang, t } from "./i18n.js";

const panel = document.getElementById("panel");
let current = null; // the AbortController of the request under way: a newer click cancels it

function queryString(query, { date, projet } = {}) {
  const params = new URLSearchParams();
  if (query.land) params.set("land", query.land);
  else if (query.lon !== undefined && query.lat !== undefined) {
    params.set("lon", String(query.lon));
    params.set("lat", String(query.lat));
  }
  if (date) params.set("date", date);
  if (projet) params.set("projet", "1");
  params.set("lang", lang);
  return params.toString();
}

function numbers(text) {
  return (text || "").split(",").filter((v) => v !== "").map(Number);
}

function announce(section) {
  if (!section || section.classList.contains("land-panel-error")) {
    return null;
  }
  return {
    land: section.dataset.land || null,
    bbox: numbers(section.dataset.bbox),
    center: numbers(section.dataset.center),
    date: section.dataset.date || null,
    projet: section.dataset.projet === "1",
  };
}

function showMessage(text) {
  panel.replaceChildren();
  const section = document.createElement("section");
  section.className = "land-panel land-panel-error";
  section.setAttribute("role", "alert");
  const h2 = document.createElement("h2");
  h2.tabIndex = -1;
  h2.textContent = t("panel.error.title");
  const p = document.createElement("p");
  p.textContent = text;
  section.append(h2, p);
  panel.append(section);
  h2.focus();
}

export async function showLand(query, { date, projet } = {}) {
  if (current) current.abort();
  const controller = new AbortController();
  current = controller;
  panel.setAttribute("aria-busy", "true");
  const loading = document.createElement("p");
  loading.className = "land-panel-loading";
  loading.textContent = t("panel.loading");
  panel.replaceChildren(loading);
  let response;
  try {
    response = await fetch(`/carte/terrain?${queryString(query, { date, projet })}`, {
      headers: { "X-Requested-With": "fetch", Accept: "text/html" },
      signal: controller.signal,
    });
  } catch (error) {
    if (error.name === "AbortError") return null;
    panel.removeAttribute("aria-busy");
    showMessage(t("panel.offline"));
    return null;
  }
  const html = await response.text();
  if (controller !== current) return null; // a newer request took over
  current = null;
  panel.removeAttribute("aria-busy");
  const template = document.createElement("template");
  template.innerHTML = html; // our own server's fragment (same origin, escaped by Jinja)
  const section = template.content.querySelector("section.land-panel");
  if (!section) {
    showMessage(t("panel.load_failed", { status: response.status }));
    return null;
  }
  panel.replaceChildren(section);
  section.querySelector("h2")?.focus();
  const detail = announce(section);
  if (detail) document.dispatchEvent(new CustomEvent("urbasig:land", { detail }));
  return detail;
}

export function closeLand() {
  if (current) current.abort();
  current = null;
  panel.removeAttribute("aria-busy");
  const hadFocus = panel.contains(document.activeElement);
  panel.replaceChildren();
  if (hadFocus) document.querySelector("#map canvas")?.focus(); // back to the map, not to the page's top
  document.dispatchEvent(new CustomEvent("urbasig:land", { detail: null }));
}

panel.addEventListener("click", (event) => {
  if (event.target.closest(".land-panel-close")) {
    closeLand();
    return;
  }
  const toggle = event.target.closest("a.land-panel-toggle");
  if (toggle) { // the draft in public inquiry applied or not: stay in the map
    event.preventDefault();
    const section = toggle.closest("section.land-panel");
    const url = new URL(toggle.href);
    const query = url.searchParams.get("land") ? { land: url.searchParams.get("land") }
      : { lon: url.searchParams.get("lon"), lat: url.searchParams.get("lat") };
    showLand(query, { date: section?.dataset.date, projet: toggle.dataset.projet === "1" });
  }
});

panel.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && panel.querySelector("section.land-panel")) closeLand();
});

document.addEventListener("urbasig:select", (event) => {
  const { date, projet, ...query } = event.detail || {};
  if (query.land || (query.lon !== undefined && query.lat !== undefined)) showLand(query, { date, projet });
});
