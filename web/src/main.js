// The console's shared behaviour: htmx, Tabler (Bootstrap) components, theme, time
// formatting, copy buttons, the command palette and the island loader.
import "@tabler/core/dist/css/tabler.min.css";
import "./app.css";
import htmx from "htmx.org";
import * as tabler from "@tabler/core/dist/js/tabler.esm.js";

window.htmx = htmx;
window.tabler = tabler;

// Errors and re-rendered forms come back as 4xx with HTML meant to be shown.
htmx.config.responseHandling = [
  { code: "204", swap: false },
  { code: "[23]..", swap: true },
  { code: "[45]..", swap: true, error: true },
];
htmx.config.defaultFocusScroll = true;

// --- theme ----------------------------------------------------------------
const THEME_COOKIE = "breeze_theme";
function systemTheme() {
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}
function applyTheme(choice) {
  const theme = choice === "dark" || choice === "light" ? choice : systemTheme();
  document.documentElement.setAttribute("data-bs-theme", theme);
  document.dispatchEvent(new CustomEvent("breeze:theme", { detail: theme }));
}
if (document.documentElement.dataset.themeChoice === "auto") applyTheme("auto");
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-theme-toggle]");
  if (!toggle) return;
  const next = document.documentElement.getAttribute("data-bs-theme") === "dark" ? "light" : "dark";
  document.cookie = `${THEME_COOKIE}=${next}; path=/; max-age=31536000; samesite=lax`;
  document.documentElement.dataset.themeChoice = next;
  applyTheme(next);
});

// --- times ----------------------------------------------------------------
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
function formatTimes(root) {
  root.querySelectorAll("time[datetime][data-format]").forEach((el) => {
    const when = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) return;
    el.title = when.toLocaleString();
    if (el.dataset.format === "local") {
      el.textContent = when.toLocaleString();
      return;
    }
    const seconds = Math.round((when.getTime() - Date.now()) / 1000);
    const abs = Math.abs(seconds);
    const [value, unit] =
      abs < 60 ? [seconds, "second"] : abs < 3600 ? [Math.round(seconds / 60), "minute"]
      : abs < 86400 ? [Math.round(seconds / 3600), "hour"] : [Math.round(seconds / 86400), "day"];
    el.textContent = relative.format(value, unit);
  });
}
setInterval(() => formatTimes(document), 30000);

// --- copy buttons -----------------------------------------------------------
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  const text = source ? (source.value ?? source.textContent) : "";
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    source?.select?.();
    document.execCommand("copy");
  }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => (button.textContent = label), 1500);
});

// --- islands ----------------------------------------------------------------
// <div data-island="chart" ...> loads dist/islands/chart.js and calls its mount(el).
const islandBase = new URL("./islands/", import.meta.url);
function mountIslands(root) {
  const found = root.matches?.("[data-island]") ? [root] : [];
  found.push(...root.querySelectorAll("[data-island]"));
  for (const el of found) {
    if (el.dataset.islandMounted) continue;
    el.dataset.islandMounted = "1";
    import(new URL(`${el.dataset.island}.js`, islandBase).href)
      .then((mod) => mod.mount(el))
      .catch((err) => {
        console.error(`island ${el.dataset.island} failed`, err);
        el.insertAdjacentHTML(
          "beforeend",
          '<div class="alert alert-danger mt-2" role="alert">This part of the page could not load; reload to retry.</div>',
        );
      });
  }
}

// --- command palette --------------------------------------------------------
function openPalette() {
  const el = document.getElementById("palette");
  if (!el) return;
  const modal = tabler.bootstrap.Modal.getOrCreateInstance(el);
  // Without a fade transition Bootstrap fires "shown" inside show(): listen first.
  el.addEventListener(
    "shown.bs.modal",
    () => {
      const input = document.getElementById("palette-input");
      input.focus();
      input.select();
      htmx.trigger(input, "palette:open");
    },
    { once: true },
  );
  modal.show();
}
document.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k") {
    event.preventDefault();
    openPalette();
    return;
  }
  const results = document.getElementById("palette-results");
  if (!results || !document.getElementById("palette")?.classList.contains("show")) return;
  const items = [...results.querySelectorAll("[data-palette-item]")];
  if (!items.length) return;
  let index = items.findIndex((i) => i.classList.contains("active"));
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    index = event.key === "ArrowDown" ? (index + 1) % items.length : (index - 1 + items.length) % items.length;
    items.forEach((i, n) => {
      i.classList.toggle("active", n === index);
      i.setAttribute("aria-selected", n === index ? "true" : "false");
    });
    items[index].scrollIntoView({ block: "nearest" });
  } else if (event.key === "Enter" && document.activeElement?.id === "palette-input") {
    event.preventDefault();
    (items[index >= 0 ? index : 0]).click();
  }
});
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-palette-open]")) openPalette();
});

// --- every page and every swapped fragment ------------------------------------
htmx.onLoad((el) => {
  formatTimes(el);
  mountIslands(el);
});
document.addEventListener("DOMContentLoaded", () => {
  formatTimes(document);
  mountIslands(document.body);
});
export { htmx, tabler };
