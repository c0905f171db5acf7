// The visual rule builder of dynamic device groups.
//
// Mounted on an element that holds the form's rules <textarea data-rules-json> (the raw
// JSON view, and what is submitted). data-catalog is the server's field catalog for the
// organization (breeze.groups.views_rules.catalog), data-errors the server's errors of a
// failed save ({"rules.all.0.op": "..."}), data-preview-url the preview API. The builder
// writes the rules JSON to the textarea on every change and asks the server which devices
// match (debounced), showing errors next to the condition they name.

import { changeOp, childBase, condition, group, h, parseRoot, resetCondition, serialize } from "./rule_builder/tree.js";
import { valueCells } from "./rule_builder/values.js";
import { previewPanel } from "./rule_builder/preview.js";

const MODES = [
  ["all", "all of the following (AND)"],
  ["any", "any of the following (OR)"],
  ["none", "none of the following (NOT ANY)"],
  ["notall", "not all of the following (NOT ALL)"],
];
const DEBOUNCE_MS = 400;
const PREVIEW_ROWS = 10;

// --- the island -------------------------------------------------------------------------

export function mount(el) {
  const catalog = JSON.parse(el.dataset.catalog || '{"sections": []}');
  const serverErrors = JSON.parse(el.dataset.errors || "{}");
  const textarea = el.querySelector("[data-rules-json]");
  const form = el.closest("form");
  const fields = new Map();
  for (const section of catalog.sections) for (const f of section.fields) fields.set(f.key, f);
  const firstField = catalog.sections[0]?.fields[0];

  let root;
  let rawMode = false;
  let rawProblem = "";
  try {
    root = parseRoot(JSON.parse(textarea.value || '{"all": []}'));
  } catch (err) {
    root = group("all");
    rawMode = true;
    rawProblem = `The builder cannot show these rules (${err.message}); edit them as JSON.`;
  }
  let errors = { ...serverErrors };

  // Layout: toolbar, builder, raw JSON (the original textarea), preview.
  const rawBox = textarea.closest(".mb-3") || textarea;
  const builder = h("div", { class: "rb-builder", "data-rule-builder": true });
  const rawToggle = h("button", {
    type: "button",
    class: "btn btn-sm",
    "aria-pressed": "false",
    onclick: () => toggleRaw(),
  });
  const rawMessage = h("div", { class: "text-danger small mt-1", role: "alert" });
  const toolbar = h(
    "div",
    { class: "d-flex justify-content-between align-items-center mb-2 gap-2 flex-wrap" },
    h("p", { class: "text-secondary small m-0", text: "Devices that match these rules become members; the preview below updates as you edit." }),
    rawToggle,
  );
  const panel = previewPanel(el.dataset.deviceUrl);
  const { showProblem, showDevices } = panel;
  el.prepend(toolbar);
  rawBox.before(builder);
  rawBox.append(rawMessage);
  el.append(panel.element);

  // --- rendering ----------------------------------------------------------------------
  let focusAfter = null; // a data-focus key to focus after the next render
  let counter = 0; // conditions, in document order
  let groupCounter = 0; // nested groups, in document order

  function render() {
    counter = 0;
    groupCounter = 0;
    const active = document.activeElement;
    const keep = focusAfter || (builder.contains(active) ? active.dataset.focus : null);
    builder.replaceChildren(renderGroup(root, "rules", null));
    focusAfter = null;
    if (keep) builder.querySelector(`[data-focus="${keep}"]`)?.focus();
    rawToggle.textContent = rawMode ? "Use the visual builder" : "Edit as JSON";
    rawToggle.setAttribute("aria-pressed", rawMode ? "true" : "false");
    builder.hidden = rawMode;
    rawBox.hidden = !rawMode;
    rawMessage.textContent = rawProblem;
    if (!rawMode) textarea.value = JSON.stringify(serialize(root), null, 2);
  }

  function errorFor(path, exact = false) {
    const found = [];
    for (const [field, message] of Object.entries(errors)) {
      if (field === path || (!exact && field.startsWith(`${path}.`) && !isDeeperNode(field, path))) {
        found.push(message);
      }
    }
    return found.join("; ");
  }

  // An error under a group's path that belongs to one of its children is shown there.
  function isDeeperNode(field, path) {
    const rest = field.slice(path.length + 1).split(".");
    const structural = ["all", "any", "not"];
    return structural.includes(rest[0]) && rest.length > 1;
  }

  function renderGroup(node, path, parent) {
    const base = childBase(node, path);
    const isRoot = parent === null;
    const number = isRoot ? 0 : ++groupCounter;
    const modeId = `${node.id}-mode`;
    const title = isRoot ? "All rules" : `Group ${number}`;
    const problem = errorFor(path);
    const list = h("div", { class: "rb-children" });
    node.children.forEach((child, i) => {
      const childPath = `${base}.${i}`;
      list.append(
        child.kind === "group" ? renderGroup(child, childPath, node) : renderCondition(child, childPath, node),
      );
    });
    if (!node.children.length) {
      const empty = {
        all: "No conditions yet: this matches every device.",
        any: "No conditions yet: this matches no device.",
        none: "No conditions yet: this matches every device.",
        notall: "No conditions yet: this matches no device.",
      }[node.mode];
      list.append(h("p", { class: "text-secondary small my-2", text: empty }));
    }
    const mode = h(
      "select",
      {
        id: modeId,
        class: "form-select form-select-sm w-auto",
        "data-focus": `${node.id}-mode`,
        onchange: (e) => {
          node.mode = e.target.value;
          changed(true);
        },
      },
      MODES.map(([value, label]) => h("option", { value, selected: node.mode === value }, label)),
    );
    const head = h(
      "div",
      { class: "d-flex align-items-center gap-2 flex-wrap mb-2" },
      h("label", { for: modeId, class: "m-0 fw-bold", text: isRoot ? "Match devices with" : `Group ${number}: match` }),
      mode,
      isRoot
        ? null
        : h("button", {
            type: "button",
            class: "btn btn-sm ms-auto",
            "aria-label": `Remove group ${number}`,
            text: "Remove group",
            onclick: () => remove(parent, node),
          }),
    );
    const add = h(
      "div",
      { class: "d-flex gap-2 mt-2 flex-wrap" },
      h("button", {
        type: "button",
        class: "btn btn-sm",
        "data-focus": `${node.id}-add`,
        "aria-label": `Add a condition to ${title.toLowerCase()}`,
        text: "+ Condition",
        onclick: () => {
          const cond = condition({});
          resetCondition(cond, firstField, firstField.ops[0].op);
          node.children.push(cond);
          focusAfter = `${cond.id}-field`;
          changed(true);
        },
      }),
      h("button", {
        type: "button",
        class: "btn btn-sm",
        "aria-label": `Add a group of conditions to ${title.toLowerCase()}`,
        text: "+ Group",
        onclick: () => {
          const inner = group(node.mode === "all" ? "any" : "all");
          node.children.push(inner);
          focusAfter = `${inner.id}-mode`;
          changed(true);
        },
      }),
    );
    return h(
      "fieldset",
      {
        class: `rb-group${isRoot ? "" : " rb-nested"}${problem ? " rb-invalid" : ""}`,
        "data-path": path,
      },
      h("legend", { class: "visually-hidden", text: title }),
      head,
      list,
      problem ? h("div", { class: "text-danger small", role: "alert", text: problem }) : null,
      add,
    );
  }

  function remove(parent, node) {
    const index = parent.children.indexOf(node);
    parent.children.splice(index, 1);
    const neighbour = parent.children[Math.min(index, parent.children.length - 1)];
    focusAfter = neighbour
      ? neighbour.kind === "group" ? `${neighbour.id}-mode` : `${neighbour.id}-field`
      : `${parent.id}-add`;
    changed(true);
  }

  function renderCondition(cond, path, parent) {
    const number = ++counter;
    const field = fields.get(cond.field);
    const problem = errorFor(path);
    const fieldId = `${cond.id}-field`;
    const opId = `${cond.id}-op`;
    const label = `condition ${number}`;
    const fieldSelect = h(
      "select",
      {
        id: fieldId,
        class: `form-select form-select-sm${errors[`${path}.field`] ? " is-invalid" : ""}`,
        "data-focus": fieldId,
        onchange: (e) => {
          const chosen = fields.get(e.target.value);
          resetCondition(cond, chosen, chosen.ops[0].op);
          changed(true);
        },
      },
      field ? null : h("option", { value: cond.field, selected: true }, `${cond.field} (unknown)`),
      catalog.sections.map((section) =>
        h(
          "optgroup",
          { label: section.label },
          section.fields.map((f) => h("option", { value: f.key, selected: f.key === cond.field }, f.label)),
        ),
      ),
    );
    const ops = field ? field.ops : [{ op: cond.op, label: cond.op }];
    const opSelect = h(
      "select",
      {
        id: opId,
        class: `form-select form-select-sm${errors[`${path}.op`] ? " is-invalid" : ""}`,
        "data-focus": opId,
        onchange: (e) => {
          changeOp(cond, field, e.target.value);
          changed(true);
        },
      },
      ops.some((o) => o.op === cond.op) ? null : h("option", { value: cond.op, selected: true }, `${cond.op} (not for this field)`),
      ops.map((o) => h("option", { value: o.op, selected: o.op === cond.op }, o.label)),
    );
    const cells = [
      h("div", { class: "rb-cell" }, h("label", { class: "visually-hidden", for: fieldId, text: `Field of ${label}` }), fieldSelect),
      h("div", { class: "rb-cell" }, h("label", { class: "visually-hidden", for: opId, text: `Comparison of ${label}` }), opSelect),
      ...valueCells({ catalog, errors, changed }, cond, field, path, label),
    ];
    return h(
      "div",
      { class: `rb-cond${problem ? " rb-invalid" : ""}`, role: "group", "aria-label": `Condition ${number}`, "data-path": path },
      h(
        "div",
        { class: "d-flex gap-2 flex-wrap align-items-start" },
        cells,
        h("button", {
          type: "button",
          class: "btn btn-sm ms-auto",
          "aria-label": `Remove condition ${number}`,
          text: "Remove",
          onclick: () => remove(parent, cond),
        }),
      ),
      field?.hint ? h("div", { class: "form-hint small", text: field.hint }) : null,
      problem ? h("div", { class: "text-danger small mt-1", role: "alert", "data-rule-error": true, text: problem }) : null,
    );
  }

  // --- raw JSON -----------------------------------------------------------------------
  function toggleRaw() {
    if (!rawMode) {
      rawMode = true;
      rawProblem = "";
      render();
      textarea.focus();
      return;
    }
    try {
      root = parseRoot(JSON.parse(textarea.value));
    } catch (err) {
      rawProblem = `These rules cannot be shown in the builder: ${err.message}`;
      rawMessage.textContent = rawProblem;
      return;
    }
    rawMode = false;
    rawProblem = "";
    errors = {};
    render();
    builder.querySelector("select")?.focus();
    schedulePreview();
  }
  textarea.addEventListener("input", () => {
    if (rawMode) schedulePreview();
  });

  // --- preview ------------------------------------------------------------------------
  let timer = null;
  let inflight = null;

  function changed(structural) {
    if (structural) render();
    else textarea.value = JSON.stringify(serialize(root), null, 2);
    schedulePreview();
  }

  function schedulePreview() {
    clearTimeout(timer);
    timer = setTimeout(runPreview, DEBOUNCE_MS);
  }

  function formValue(name) {
    const input = form?.elements.namedItem(name);
    const value = input && "value" in input ? input.value : "";
    return value ? value : null;
  }

  async function runPreview() {
    if (isStatic()) return;
    let rules;
    if (rawMode) {
      try {
        rules = JSON.parse(textarea.value);
      } catch (err) {
        showProblem(`The JSON is not valid: ${err.message}`);
        return;
      }
    } else {
      rules = serialize(root);
    }
    inflight?.abort();
    inflight = new AbortController();
    panel.busy();
    el.setAttribute("aria-busy", "true");
    const body = {
      org_id: el.dataset.orgId,
      site_id: formValue("site_id"),
      parent_id: formValue("parent_id"),
      rules,
      per_page: PREVIEW_ROWS,
    };
    const token = form?.elements.namedItem("csrf_token")?.value || "";
    let response;
    try {
      response = await fetch(el.dataset.previewUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": token },
        body: JSON.stringify(body),
        credentials: "same-origin",
        signal: inflight.signal,
      });
    } catch (err) {
      if (err.name === "AbortError") return;
      showProblem("The preview could not reach the server; check the connection.");
      return;
    } finally {
      el.removeAttribute("aria-busy");
    }
    let data = {};
    try {
      data = await response.json();
    } catch {
      data = {};
    }
    if (response.ok) {
      const hadErrors = Object.keys(errors).length > 0;
      errors = {};
      if (hadErrors && !rawMode) render();
      showDevices(data);
      return;
    }
    const found = {};
    for (const e of data.errors || []) found[String(e.field).replace(/^body\./, "")] = e.message;
    const ruleErrors = Object.fromEntries(Object.entries(found).filter(([k]) => k.startsWith("rules")));
    errors = ruleErrors;
    if (!rawMode) render();
    const other = Object.entries(found).filter(([k]) => !k.startsWith("rules"));
    if (Object.keys(ruleErrors).length && !rawMode) {
      showProblem("Fix the highlighted condition to see the matching devices.");
    } else if (Object.keys(ruleErrors).length) {
      showProblem(Object.entries(ruleErrors).map(([k, v]) => `${k}: ${v}`).join("; "));
    } else if (other.length) {
      showProblem(other.map(([k, v]) => `${k.replace(/_id$/, "")}: ${v}`).join("; "));
    } else {
      showProblem(data.detail || `The preview failed (HTTP ${response.status}).`);
    }
  }

  // --- static / dynamic ---------------------------------------------------------------
  const card = el.closest("#rules-card");
  const typeInputs = form ? [...form.querySelectorAll("[data-group-type]")] : [];
  function isStatic() {
    const chosen = typeInputs.find((i) => i.checked);
    return chosen ? chosen.value !== "dynamic" : false;
  }
  function applyType() {
    if (card) card.hidden = isStatic();
    if (!isStatic()) schedulePreview();
  }
  typeInputs.forEach((input) => input.addEventListener("change", applyType));
  form?.addEventListener("change", (e) => {
    if (["site_id", "parent_id"].includes(e.target.name)) schedulePreview();
  });
  form?.addEventListener("submit", () => {
    if (!rawMode) textarea.value = JSON.stringify(serialize(root));
  });

  render();
  if (card) card.hidden = isStatic();
  if (!isStatic()) runPreview();
}
