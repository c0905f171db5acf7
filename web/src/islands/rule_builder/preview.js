// The live preview panel of the rule builder: how many devices match and the first of
// them (links to their pages), or why the rules cannot be previewed.

import { h } from "./tree.js";

const STATUS_COLOR = { online: "green", offline: "secondary", decommissioned: "dark" };

export function previewPanel(deviceUrl) {
  const previewStatus = h("div", { class: "rb-preview-status", role: "status", "aria-live": "polite" });
  const previewBody = h("div");
  const preview = h(
    "section",
    { class: "rb-preview mt-3", "aria-labelledby": "rb-preview-title" },
    h("h3", { id: "rb-preview-title", class: "h4 mb-2", text: "Preview: matching devices" }),
    previewStatus,
    previewBody,
  );

  function showProblem(message) {
    previewStatus.replaceChildren(h("div", { class: "alert alert-warning m-0", text: message }));
    previewBody.replaceChildren();
  }

  function showDevices(data) {
    const total = data.total ?? 0;
    const items = data.items || [];
    previewStatus.replaceChildren(
      h(
        "p",
        { class: "m-0" },
        h("strong", { "data-preview-count": total, text: total.toLocaleString() }),
        total === 1 ? " device matches" : " devices match",
        total > items.length ? ` (the first ${items.length} are shown)` : "",
      ),
    );
    if (!items.length) {
      previewBody.replaceChildren();
      return;
    }
    previewBody.replaceChildren(
      h(
        "div",
        { class: "table-responsive mt-2" },
        h(
          "table",
          { class: "table table-sm table-vcenter", "aria-label": "Devices that match the rules" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Hostname" }), h("th", { scope: "col", text: "OS" }), h("th", { scope: "col", text: "Status" }))),
          h(
            "tbody",
            {},
            items.map((d) =>
              h(
                "tr",
                {},
                h("td", {}, h("a", { href: `${deviceUrl}${d.id}`, text: d.display_name || d.hostname })),
                h("td", { text: `${d.os_type} ${d.os_version || ""}`.trim() }),
                h(
                  "td",
                  {},
                  h(
                    "span",
                    { class: "d-inline-flex align-items-center gap-1" },
                    h("span", { class: `status-dot bg-${STATUS_COLOR[d.status] || "secondary"}`, "aria-hidden": "true" }),
                    d.status,
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  function busy() {
    previewStatus.textContent = "Checking which devices match…";
  }

  return { element: preview, busy, showProblem, showDevices };
}
