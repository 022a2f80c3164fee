// The page's messages in its language (the JSON block #urbasig-messages written by the server from
// api/messages/*.json): t("map.search", {n: 3}) fills {n}. An unknown key shows the key, and says so once.
const messages = JSON.parse(document.getElementById("urbasig-messages")?.textContent || "{}");
export const lang = document.documentElement.lang || "fr";

export function t(key, values = {}) {
  const text = messages[key];
  if (text === undefined) {
    console.warn(`message inconnu : ${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

// Numbers as the server writes them (gis/l10n.py): « 1 234,56 » in French, « 1.234,56 » in Arabic (ar-MA).
export function number(value, decimals = 2) {
  const [whole, fraction] = Math.abs(value).toFixed(decimals).split(".");
  const group = lang === "ar" ? "." : "\u00a0";
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, group);
  return (value < 0 ? "-" : "") + grouped + (fraction ? "," + fraction : "");
}
