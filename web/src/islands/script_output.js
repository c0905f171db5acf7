// The batch page live: progress and per-device status from the batch's event stream, and
// each open device's output from its command stream (stdout and stderr apart). At most a
// few command streams run at once (browsers allow six connections per server); the rest
// wait until one finishes. A finished device shows the stored output the server sent.
const MAX_STREAMS = 4;
const COLORS = {
  pending: "secondary", sent: "azure", running: "blue", completed: "green",
  failed: "red", timeout: "orange", cancelled: "secondary",
};
const FINAL = new Set(["completed", "failed", "timeout", "cancelled"]);

function badge(status) {
  const span = document.createElement("span");
  span.className = `badge bg-${COLORS[status] || "secondary"}-lt`;
  span.dataset.status = status;
  span.textContent = status;
  return span;
}

function appendOutput(pre, text) {
  const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
  pre.append(document.createTextNode(text));
  if (atBottom) pre.scrollTop = pre.scrollHeight;
}

export function mount(root) {
  const rows = new Map();
  root.querySelectorAll("details[data-execution]").forEach((el) => rows.set(el.dataset.execution, el));
  const streams = new Map();
  const waiting = [];
  const announce = root.querySelector("[data-role='announce']");

  function setStatus(row, status) {
    const holder = row.querySelector("[data-role='status']");
    if (holder && holder.firstElementChild?.dataset.status !== status) holder.replaceChildren(badge(status));
    if (FINAL.has(status)) {
      row.querySelector("[data-role='cancel']")?.remove();
      const rerun = row.querySelector("[data-role='rerun']");
      if (rerun) rerun.hidden = false;
    }
  }

  function finish(row, data) {
    row.dataset.final = "1";
    setStatus(row, data.status);
    const exit = row.querySelector("[data-role='exit']");
    if (exit) exit.textContent = data.exit_code === null || data.exit_code === undefined ? "" : `exit code ${data.exit_code}`;
    const duration = row.querySelector("[data-role='duration']");
    if (duration && data.duration_ms !== null && data.duration_ms !== undefined) {
      duration.textContent = `${(data.duration_ms / 1000).toFixed(1)} s`;
    }
    const error = row.querySelector("[data-role='error']");
    if (error) {
      error.textContent = data.error || "";
      error.hidden = !data.error;
    }
    // The stored result is authoritative (chunks may have been truncated or repeated).
    const out = row.querySelector("[data-role='stdout']");
    const err = row.querySelector("[data-role='stderr']");
    if (out && typeof data.stdout === "string") out.textContent = data.stdout;
    if (err && typeof data.stderr === "string") err.textContent = data.stderr;
  }

  function release(id) {
    const source = streams.get(id);
    if (source) source.close();
    streams.delete(id);
    while (streams.size < MAX_STREAMS && waiting.length) open(waiting.shift());
  }

  function open(row) {
    const id = row.dataset.execution;
    if (row.dataset.final === "1" || streams.has(id)) return;
    if (streams.size >= MAX_STREAMS) {
      if (!waiting.includes(row)) waiting.push(row);
      return;
    }
    const seen = new Set();
    let fresh = true;
    const source = new EventSource(row.dataset.stream);
    streams.set(id, source);
    row.dataset.streaming = "1";
    source.addEventListener("status", (event) => {
      const data = JSON.parse(event.data);
      if (data.final) {
        finish(row, data);
        row.dataset.streaming = "0";
        release(id);
        return;
      }
      setStatus(row, data.status);
    });
    source.addEventListener("output", (event) => {
      const data = JSON.parse(event.data);
      if (seen.has(data.seq)) return;
      seen.add(data.seq);
      if (fresh) {
        // The stream replays what was stored; start from it rather than the page's copy.
        row.querySelector("[data-role='stdout']").textContent = "";
        row.querySelector("[data-role='stderr']").textContent = "";
        fresh = false;
      }
      const pre = row.querySelector(data.stream === "stderr" ? "[data-role='stderr']" : "[data-role='stdout']");
      if (pre) appendOutput(pre, data.data);
    });
  }

  for (const row of rows.values()) {
    if (row.open) open(row);
    row.addEventListener("toggle", () => {
      if (row.open) open(row);
    });
  }

  if (root.dataset.done === "1") return;
  const batch = new EventSource(root.dataset.stream);
  batch.addEventListener("status", (event) => {
    const data = JSON.parse(event.data);
    const row = rows.get(data.command_id);
    if (!row) return;
    setStatus(row, data.status);
    if (FINAL.has(data.status) && !streams.has(data.command_id) && row.open) {
      row.dataset.final = "0";
      open(row); // fetches the final result and output
    }
  });
  batch.addEventListener("progress", (event) => {
    const data = JSON.parse(event.data);
    root.querySelectorAll("[data-count]").forEach((cell) => { cell.textContent = "0"; });
    for (const [state, n] of Object.entries(data.counts || {})) {
      const cell = root.querySelector(`[data-count='${state}']`);
      if (cell) cell.textContent = n;
    }
    root.querySelector("[data-role='finished']").textContent = data.finished;
    root.querySelector("[data-role='total']").textContent = data.total;
    const bar = root.querySelector("[data-role='bar']");
    bar.setAttribute("aria-valuenow", data.finished);
    bar.setAttribute("aria-valuemax", data.total);
    bar.firstElementChild.style.width = `${data.total ? Math.round((100 * data.finished) / data.total) : 100}%`;
    if (data.done) {
      root.querySelector("[data-role='batch-status']").replaceChildren(badge("completed"));
      announce.textContent = `All ${data.total} devices finished.`;
      batch.close();
    } else if (announce) {
      announce.textContent = `${data.finished} of ${data.total} devices finished.`;
    }
  });
}
