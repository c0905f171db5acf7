// Device metrics charts (uPlot): CPU, memory, disk and network from
// GET /api/v1/devices/{id}/metrics (the console session's cookie authenticates the GET).
// 1 h and 24 h use every heartbeat; 7 d and 30 d use the hourly summaries plus the raw
// samples of the hour not summarised yet. Follows the theme, resizes with its card.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const RANGES = {
  "1h": { seconds: 3600, hourly: false, refresh: 15 },
  "24h": { seconds: 86400, hourly: false, refresh: 60 },
  "7d": { seconds: 7 * 86400, hourly: true, refresh: 0 },
  "30d": { seconds: 30 * 86400, hourly: true, refresh: 0 },
};

// uPlot's stylesheet is emitted beside this bundle (islands/metrics_chart.css).
function loadStyles() {
  const href = new URL("./metrics_chart.css", import.meta.url).href;
  if (document.querySelector(`link[href="${href}"]`)) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  document.head.appendChild(link);
}

// A theme colour as rgb() for the canvas (Tabler defines some with color-mix()).
function cssVar(name, fallback) {
  const probe = document.createElement("span");
  probe.style.display = "none";
  probe.style.color = `var(${name}, ${fallback})`;
  document.body.appendChild(probe);
  const value = getComputedStyle(probe).color;
  probe.remove();
  return /^rgba?\(/.test(value) ? value : fallback;
}

function palette() {
  const dark = document.documentElement.getAttribute("data-bs-theme") === "dark";
  return {
    text: cssVar("--tblr-secondary-color", dark ? "#9ba9be" : "#5a6578"),
    grid: cssVar("--tblr-border-color", dark ? "#2b3648" : "#dce1e7"),
    blue: cssVar("--tblr-primary", "#206bc4"),
    orange: cssVar("--tblr-orange", "#f76707"),
    green: cssVar("--tblr-green", "#2fb344"),
    purple: cssVar("--tblr-purple", "#ae3ec9"),
  };
}

function humanRate(value) {
  if (value == null || Number.isNaN(value)) return "—";
  const units = ["B/s", "KB/s", "MB/s", "GB/s"];
  let v = value;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(v >= 100 || (i === 0 && v >= 10) || v === 0 ? 0 : 1)} ${units[i]}`;
}
const pct = (v) => (v == null || Number.isNaN(v) ? "—" : `${v.toFixed(1)}%`);

async function fetchPoints(deviceId, from, to, resolution) {
  const params = new URLSearchParams({
    from: from.toISOString(),
    to: to.toISOString(),
    resolution,
  });
  const response = await fetch(`/api/v1/devices/${deviceId}/metrics?${params}`, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (!response.ok) {
    let detail = "";
    try {
      detail = (await response.json()).detail || "";
    } catch {
      detail = "";
    }
    const error = new Error(detail || `the server answered ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

// Rows of {t (seconds), cpu, ram, disk, rx, tx (cumulative bytes), cpuMax, ramMax, diskMax}.
function rawRows(points) {
  return points.map((p) => ({
    t: Date.parse(p.timestamp) / 1000,
    cpu: p.cpu_percent,
    ram: p.ram_percent,
    disk: p.disk_percent,
    rx: p.network_in_bytes,
    tx: p.network_out_bytes,
  }));
}

function hourlyRows(points) {
  return points.map((p) => ({
    t: Date.parse(p.timestamp) / 1000 + 1800, // the middle of the hour
    cpu: p.cpu_avg,
    ram: p.ram_avg,
    disk: p.disk_avg,
    cpuMax: p.cpu_max,
    ramMax: p.ram_max,
    diskMax: p.disk_max,
    rx: p.network_in_bytes_max,
    tx: p.network_out_bytes_max,
  }));
}

async function loadRows(deviceId, range) {
  const spec = RANGES[range] || RANGES["24h"];
  const to = new Date();
  const from = new Date(to.getTime() - spec.seconds * 1000);
  if (!spec.hourly) {
    const body = await fetchPoints(deviceId, from, to, "raw");
    return { rows: rawRows(body.points), hourly: false, truncated: body.truncated, from, to };
  }
  const body = await fetchPoints(deviceId, from, to, "1h");
  const rows = hourlyRows(body.points);
  // The current hour is summarised only once it is over: add its raw samples.
  const lastEnd = rows.length ? rows[rows.length - 1].t + 1800 : from.getTime() / 1000;
  const recentFrom = new Date(Math.max(lastEnd * 1000, to.getTime() - 2 * 3600 * 1000));
  if (recentFrom < to) {
    const recent = await fetchPoints(deviceId, recentFrom, to, "raw");
    rows.push(...rawRows(recent.points).filter((r) => r.t >= lastEnd));
  }
  return { rows, hourly: true, truncated: body.truncated, from, to };
}

// Network counters are cumulative since boot: the chart shows bytes per second.
function rates(rows, key) {
  return rows.map((row, i) => {
    if (i === 0) return null;
    const prev = rows[i - 1];
    const dt = row.t - prev.t;
    if (row[key] == null || prev[key] == null || dt <= 0) return null;
    const delta = row[key] - prev[key];
    return delta < 0 ? null : delta / dt; // a reboot reset the counter
  });
}

// A break in the line where the device sent nothing for a while.
function withGaps(rows) {
  if (rows.length < 3) return rows;
  const steps = rows.slice(1).map((r, i) => r.t - rows[i].t).sort((a, b) => a - b);
  const limit = Math.max(steps[Math.floor(steps.length / 2)] * 3, 90);
  const out = [rows[0]];
  for (let i = 1; i < rows.length; i += 1) {
    if (rows[i].t - rows[i - 1].t > limit) out.push({ t: rows[i - 1].t + 1, gap: true });
    out.push(rows[i]);
  }
  return out;
}

function stats(values) {
  const present = values.filter((v) => v != null && !Number.isNaN(v));
  if (!present.length) return null;
  const sum = present.reduce((a, b) => a + b, 0);
  return { avg: sum / present.length, max: Math.max(...present), last: present[present.length - 1] };
}

function chartSpecs(rows, hourly, colors) {
  const col = (key) => rows.map((r) => (r.gap ? null : r[key] ?? null));
  const percent = (key, label, color) => {
    const series = [{ label, values: col(key), color }];
    if (hourly) series.push({ label: `${label} (hourly peak)`, values: col(`${key}Max`), color, dash: [4, 4] });
    return { series, format: pct, fixed: [0, 100] };
  };
  const netRows = rows.filter((r) => !r.gap);
  const rx = rates(netRows, "rx");
  const tx = rates(netRows, "tx");
  const byTime = new Map(netRows.map((r, i) => [r.t, [rx[i], tx[i]]]));
  return {
    cpu: percent("cpu", "CPU", colors.blue),
    ram: percent("ram", "Memory", colors.purple),
    disk: percent("disk", "Disk", colors.orange),
    net: {
      series: [
        { label: "In", values: rows.map((r) => (byTime.get(r.t) || [null])[0] ?? null), color: colors.green },
        { label: "Out", values: rows.map((r) => (byTime.get(r.t) || [null, null])[1] ?? null), color: colors.blue },
      ],
      format: humanRate,
      fixed: null,
    },
  };
}

function summaryText(spec) {
  const parts = spec.series
    .filter((s) => !s.label.includes("peak"))
    .map((s) => {
      const st = stats(s.values);
      if (!st) return `${s.label}: no data`;
      return `${s.label} now ${spec.format(st.last)}, average ${spec.format(st.avg)}, peak ${spec.format(st.max)}`;
    });
  return parts.join(" · ");
}

function translucent(color) {
  const m = /^rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(color);
  return m ? `rgba(${m[1]}, ${m[2]}, ${m[3]}, 0.12)` : undefined;
}

function plotHeight() {
  return window.innerWidth < 576 ? 180 : 240;
}

function makePlot(target, times, spec, colors, span) {
  const opts = {
    width: Math.max(target.clientWidth, 200),
    height: plotHeight(),
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: { time: true, range: () => span },
      y: spec.fixed ? { range: spec.fixed } : { range: (u, min, max) => [0, Math.max(max * 1.1, 1)] },
    },
    axes: [
      { stroke: colors.text, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid } },
      {
        stroke: colors.text,
        grid: { stroke: colors.grid, width: 1 },
        ticks: { stroke: colors.grid },
        size: spec.fixed ? 56 : 84,
        values: (u, ticks) => ticks.map((v) => (spec.fixed ? `${Math.round(v)}%` : spec.format(v))),
      },
    ],
    series: [
      {},
      ...spec.series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 2,
        dash: s.dash,
        fill: s.dash ? undefined : translucent(s.color),
        spanGaps: false,
        points: { show: false },
        value: (u, v) => spec.format(v),
      })),
    ],
  };
  return new uPlot(opts, [times, ...spec.series.map((s) => s.values)], target);
}

export function mount(el) {
  loadStyles();
  const deviceId = el.dataset.deviceId;
  const range = el.dataset.range in RANGES ? el.dataset.range : "24h";
  const rangeLabel = el.dataset.rangeLabel || range;
  const state = el.querySelector("[data-metrics-state]");
  const charts = el.querySelector("[data-metrics-charts]");
  let plots = [];
  let latest = null;
  let timer = null;

  function destroy() {
    plots.forEach(({ plot }) => plot.destroy());
    plots = [];
  }

  function draw() {
    destroy();
    if (!latest || !latest.rows.length) return;
    const colors = palette();
    const rows = withGaps(latest.rows);
    const times = rows.map((r) => r.t);
    const specs = chartSpecs(rows, latest.hourly, colors);
    el.querySelectorAll("[data-chart]").forEach((figure) => {
      const spec = specs[figure.dataset.chart];
      const target = figure.querySelector("[data-chart-plot]");
      const summary = figure.querySelector("[data-chart-summary]");
      const text = summaryText(spec);
      summary.textContent = text;
      target.setAttribute("aria-label", `${figure.querySelector("h3").textContent} over ${rangeLabel}: ${text}`);
      target.replaceChildren();
      const span = [latest.from.getTime() / 1000, latest.to.getTime() / 1000];
      plots.push({ plot: makePlot(target, times, spec, colors, span), target });
    });
  }

  async function refresh() {
    try {
      latest = await loadRows(deviceId, range);
    } catch (err) {
      destroy();
      charts.hidden = true;
      state.className = "alert alert-danger";
      state.textContent =
        err.status === 401
          ? "Your session has ended; sign in again to see the metrics."
          : `The metrics could not be loaded: ${err.message}.`;
      return;
    }
    if (!latest.rows.length) {
      destroy();
      charts.hidden = true;
      state.className = "alert alert-info";
      state.textContent =
        `No data in this range: the device sent no metrics in ${rangeLabel}. ` +
        "Agents report them with every heartbeat, so an empty range means the device was offline or not yet enrolled.";
      return;
    }
    charts.hidden = false;
    state.className = "text-secondary small mb-3";
    const samples = latest.rows.length;
    state.textContent =
      `${samples} ${latest.hourly ? "points (hourly averages and recent samples)" : "samples"} from ` +
      `${new Date(latest.rows[0].t * 1000).toLocaleString()} to ${new Date(latest.rows[samples - 1].t * 1000).toLocaleString()}` +
      (latest.truncated ? " (the range holds more samples than shown)" : "") + ".";
    draw();
  }

  const resize = new ResizeObserver(() => {
    if (!el.isConnected) return;
    plots.forEach(({ plot, target }) => plot.setSize({ width: Math.max(target.clientWidth, 200), height: plotHeight() }));
  });
  resize.observe(el);

  function onTheme() {
    if (!el.isConnected) {
      document.removeEventListener("breeze:theme", onTheme);
      return;
    }
    draw();
  }
  document.addEventListener("breeze:theme", onTheme);

  const every = RANGES[range].refresh;
  if (every) {
    timer = setInterval(() => {
      if (!el.isConnected) {
        clearInterval(timer);
        resize.disconnect();
        destroy();
        document.removeEventListener("breeze:theme", onTheme);
        return;
      }
      if (!document.hidden) refresh();
    }, every * 1000);
  }
  refresh();
}
