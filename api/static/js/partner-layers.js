// The partner layers of the public map (issue 16): one switcher entry each (rendered by map.html from the
// layers the caller may see), off by default, drawn from the layer's own vector tiles
// (/ogc/collections/partenaire-<slug>/tiles/…: one source per layer, as each has its own audience) with a style
// per geometry kind; a click on a feature shows its declared attributes, labelled, and the source organisation.
import { lang, number, t } from "./i18n.js";
import { mapReady } from "./map.js";
import { cssColour } from "./map-style.js";

const config = JSON.parse(document.getElementById("urbasig-config").textContent);
const LAYERS = config.partners || [];

// The style layers of a partner layer, by its geometry kind (all hidden until the switcher shows them).
function styleLayers(layer) {
  const colour = cssColour("partner");
  const base = { source: layer.id, "source-layer": layer.id, layout: { visibility: "none" } };
  if (layer.kind === "point") {
    return [{ ...base, id: `${layer.id}-circle`, type: "circle",
      paint: { "circle-color": colour, "circle-radius": 5, "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5 } }];
  }
  if (layer.kind === "line") {
    return [{ ...base, id: `${layer.id}-line`, type: "line", paint: { "line-color": colour, "line-width": 2.5 } }];
  }
  return [
    { ...base, id: `${layer.id}-fill`, type: "fill", paint: { "fill-color": colour, "fill-opacity": 0.35 } },
    { ...base, id: `${layer.id}-line`, type: "line", paint: { "line-color": colour, "line-width": 1.5 } },
  ];
}

function text(value) {
  if (value === undefined || value === null || value === "") return t("map.partner.empty");
  if (value === true || value === "true") return t("map.partner.yes");
  if (value === false || value === "false") return t("map.partner.no");
  if (typeof value === "number") { // as the server writes numbers: 1 234,5 in French
    return Number.isInteger(value) ? number(value, 0) : number(value, 2).replace(/,?0+$/, "");
  }
  return String(value);
}

// The popup's content, built as nodes (the attributes are a partner's text: never parsed as HTML).
function popupContent(layer, feature) {
  const box = document.createElement("div");
  box.className = "partner-popup";
  box.lang = lang;
  const title = document.createElement("strong");
  title.textContent = layer.title[lang] || layer.title.fr;
  box.append(title);
  const list = document.createElement("dl");
  for (const attribute of layer.attributes) {
    const term = document.createElement("dt");
    term.textContent = attribute.label;
    const value = document.createElement("dd");
    value.textContent = text(feature.properties[attribute.name]);
    list.append(term, value);
  }
  box.append(list);
  const source = document.createElement("p");
  source.className = "source";
  source.textContent = t("map.partner.source", { organisation: layer.organisation });
  box.append(source);
  return box;
}

mapReady.then((map) => {
  const popup = new maplibregl.Popup({ closeButton: true, maxWidth: "20rem" });
  for (const layer of LAYERS) {
    map.addSource(layer.id, { type: "vector", minzoom: 10, maxzoom: 18,
      tiles: [`${location.origin}/ogc/collections/${layer.id}/tiles/WebMercatorQuad/{z}/{y}/{x}`] });
    const ids = styleLayers(layer).map((spec) => {
      map.addLayer(spec, "communes-casing"); // under the communes' borders and the labels
      return spec.id;
    });
    const box = document.getElementById(`layer-${layer.id}`);
    box.checked = false;
    box.addEventListener("change", () => {
      for (const id of ids) map.setLayoutProperty(id, "visibility", box.checked ? "visible" : "none");
      if (!box.checked) popup.remove();
    });
    map.on("click", ids, (event) => {
      const feature = event.features && event.features[0];
      if (feature) popup.setLngLat(event.lngLat).setDOMContent(popupContent(layer, feature)).addTo(map);
    });
  }
});
