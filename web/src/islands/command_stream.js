// A running command's output, live: server-sent events from
// /api/v1/devices/{id}/commands/{cid}/stream ("output" chunks, then "status" until final).
// Once final, the command's page is reloaded into the tab so it shows the stored result.
const LABELS = { pending: "pending", sent: "sent", running: "running" };

export function mount(el) {
  const url = el.dataset.url;
  const reload = el.dataset.reload;
  const seen = new Set([...el.querySelectorAll("[data-seq]")].map((s) => Number(s.dataset.seq)));
  const source = new EventSource(url, { withCredentials: true });
  let finished = false;

  function stop() {
    source.close();
  }

  source.addEventListener("output", (event) => {
    if (!el.isConnected) return stop();
    const chunk = JSON.parse(event.data);
    if (seen.has(chunk.seq)) return;
    seen.add(chunk.seq);
    const span = document.createElement("span");
    span.className = chunk.stream === "stderr" ? "stderr" : "stdout";
    span.dataset.seq = chunk.seq;
    span.textContent = chunk.data;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    el.appendChild(span);
    if (atBottom) el.scrollTop = el.scrollHeight;
  });

  source.addEventListener("status", (event) => {
    if (!el.isConnected) return stop();
    const status = JSON.parse(event.data);
    const badge = document.querySelector("#command-status [data-status]");
    if (badge && LABELS[status.status]) {
      badge.textContent = LABELS[status.status];
      badge.dataset.status = status.status;
    }
    if (status.final) {
      finished = true;
      stop();
      window.htmx.ajax("GET", reload, { target: "#device-tabs", swap: "innerHTML" });
    }
  });

  source.addEventListener("error", () => {
    if (finished || !el.isConnected) return stop();
    if (source.readyState === EventSource.CLOSED) {
      const note = document.createElement("div");
      note.className = "alert alert-warning mt-2";
      note.setAttribute("role", "alert");
      note.textContent = "Live output stopped (the connection to the server was lost). Reload the page to see the latest.";
      el.after(note);
    }
  });
}
