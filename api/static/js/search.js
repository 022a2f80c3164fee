// The search box: one <input role="combobox"> in a <form action="/recherche"> (which works without scripts),
// suggestions as one types from GET /api/recherche (debounced; a newer keystroke aborts the older request),
// a listbox navigated with the arrows, Enter to show, Escape to close; "nothing found" says what the server
// understood and what to try.
import { lang, t } from "./i18n.js";
import { mapReady, showResult } from "./map.js";

const DEBOUNCE_MS = 150;
const LIMIT = 8;
const form = document.querySelector("form.search");
const input = document.getElementById("search-input");
const list = document.getElementById("search-suggestions");
const status = document.getElementById("search-status");
let results = [];
let active = -1;
let timer = null;
let pending = null;
let asked = "";

function close() {
  list.hidden = true;
  list.replaceChildren();
  input.setAttribute("aria-expanded", "false");
  input.removeAttribute("aria-activedescendant");
  active = -1;
}

function setActive(index) {
  const options = list.querySelectorAll("[role=option]");
  active = options.length ? (index + options.length) % options.length : -1;
  options.forEach((option, i) => option.setAttribute("aria-selected", String(i === active)));
  if (active >= 0) {
    input.setAttribute("aria-activedescendant", options[active].id);
    options[active].scrollIntoView({ block: "nearest" });
  } else {
    input.removeAttribute("aria-activedescendant");
  }
}

function option(result, index) {
  const item = document.createElement("li");
  item.id = `search-option-${index}`;
  item.setAttribute("role", "option");
  item.setAttribute("aria-selected", "false");
  item.dataset.kind = result.kind;
  const kind = document.createElement("span");
  kind.className = "kind";
  kind.textContent = t(`map.kind.${result.kind}`);
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = result.label;
  item.append(kind, label);
  if (result.detail) {
    const detail = document.createElement("span");
    detail.className = "detail";
    detail.textContent = result.detail;
    item.append(detail);
  }
  // mousedown, not click: the input keeps its focus (no blur closing the list first)
  item.addEventListener("mousedown", (event) => {
    event.preventDefault();
    choose(index);
  });
  return item;
}

function render(answer) {
  results = answer.results || [];
  list.replaceChildren(...results.map(option));
  if (results.length) {
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    status.textContent = "";
    status.classList.add("visually-hidden");
    status.textContent = t("map.search.count", { n: results.length });
  } else {
    close();
    status.classList.remove("visually-hidden");
    const parts = [t("map.search.none", { q: answer.q ?? input.value })];
    if (answer.understood?.text) parts.push(t("map.search.understood", { text: answer.understood.text }));
    if (answer.hint) parts.push(answer.hint);
    status.textContent = parts.join(" ");
  }
  active = -1;
}

async function ask(q) {
  pending?.abort();
  const controller = new AbortController();
  pending = controller;
  asked = q;
  const query = new URLSearchParams({ q, limit: String(LIMIT), lang });
  try {
    const response = await fetch(`/api/recherche?${query}`, { signal: controller.signal,
      headers: { Accept: "application/json" } });
    const answer = await response.json();
    if (controller.signal.aborted || q !== input.value.trim()) return null;
    if (!response.ok) {
      // a refused query (400) says why in French and Arabic: shown like "nothing found"
      render({ q, results: [], hint: answer.message || answer.description || null });
      return null;
    }
    render(answer);
    return answer;
  } catch (error) {
    if (error.name === "AbortError") return null;
    close();
    status.classList.remove("visually-hidden");
    status.textContent = t("map.search.error");
    return null;
  } finally {
    if (pending === controller) pending = null;
  }
}

function choose(index) {
  const result = results[index];
  if (!result) return;
  input.value = result.label;
  close();
  status.textContent = "";
  showResult(result);
}

input.addEventListener("input", () => {
  clearTimeout(timer);
  const q = input.value.trim();
  if (!q) {
    pending?.abort();
    close();
    status.textContent = "";
    return;
  }
  timer = setTimeout(() => ask(q), DEBOUNCE_MS);
});

input.addEventListener("keydown", (event) => {
  const open = !list.hidden;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    if (!open && results.length) {
      list.replaceChildren(...results.map(option));
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }
    setActive(active + (event.key === "ArrowDown" ? 1 : -1));
  } else if (event.key === "Escape") {
    if (open) {
      event.preventDefault();
      close();
    } else {
      input.value = "";
      status.textContent = "";
    }
  } else if (event.key === "Home" && open && active >= 0) {
    event.preventDefault();
    setActive(0);
  } else if (event.key === "End" && open && active >= 0) {
    event.preventDefault();
    setActive(results.length - 1);
  }
});

// Enter (or the button): the active suggestion, else the first result of what is typed; the page /recherche
// stays the answer without scripts.
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearTimeout(timer);
  const q = input.value.trim();
  if (!q) return;
  if (active >= 0 && !list.hidden) {
    choose(active);
    return;
  }
  const answer = q === asked && results.length ? { results } : await ask(q);
  if (answer && answer.results && answer.results.length) choose(0);
});

input.addEventListener("blur", () => setTimeout(close, 150));

await mapReady;
input.dataset.ready = "1";
