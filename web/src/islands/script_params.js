// The parameter schema editor of the script form: one row per parameter (name, type,
// required, secret = writeOnly, default, allowed values, description) that writes the
// JSON Schema into the form's <textarea name="parameters">, which is also the "Raw JSON"
// view. Keywords the rows do not manage (pattern, minimum, ...) are kept as they were.
// Errors of the server's schema validation (parameters.properties.NAME...) show by the row.
const TYPES = ["string", "integer", "number", "boolean"];
let counter = 0;

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) el.append(child);
  return el;
}

function typed(kind, text) {
  const raw = String(text).trim();
  if (raw === "") return undefined;
  if (kind === "integer" && /^-?\d+$/.test(raw)) return parseInt(raw, 10);
  if (kind === "number" && raw !== "" && !Number.isNaN(Number(raw))) return Number(raw);
  if (kind === "boolean" && /^(true|false)$/i.test(raw)) return raw.toLowerCase() === "true";
  return kind === "string" ? String(text) : raw;
}

function shown(value) {
  return value === undefined || value === null ? "" : String(value);
}

export function mount(el) {
  const textarea = el.querySelector("textarea[name='parameters']");
  if (!textarea) return;
  const errors = JSON.parse(el.dataset.errors || "{}");
  let rows = []; // {id, name, prop, required}
  let extra = {}; // top-level keywords kept as they were (title, description, ...)

  const list = h("div", { class: "param-rows" });
  const empty = h("p", { class: "text-secondary", text: "No parameters yet." });
  const problem = h("div", { class: "alert alert-danger", role: "alert", hidden: true });
  const addButton = h("button", { type: "button", class: "btn", text: "Add parameter", onclick: () => addRow() });
  const editorPane = h("div", { id: "params-editor-pane", role: "tabpanel", "aria-labelledby": "params-tab-editor" },
    problem, empty, list, addButton);
  const rawPane = textarea.closest(".mb-2");
  rawPane.id = "params-raw-pane";
  rawPane.setAttribute("role", "tabpanel");
  rawPane.setAttribute("aria-labelledby", "params-tab-raw");

  const tabEditor = h("button", { type: "button", role: "tab", class: "nav-link active", id: "params-tab-editor",
    "aria-controls": "params-editor-pane", "aria-selected": "true", text: "Editor", onclick: () => showEditor() });
  const tabRaw = h("button", { type: "button", role: "tab", class: "nav-link", id: "params-tab-raw",
    "aria-controls": "params-raw-pane", "aria-selected": "false", text: "Raw JSON", onclick: () => showRaw() });
  const tabs = h("ul", { class: "nav nav-tabs mb-3", role: "tablist", "aria-label": "Parameter editor view" },
    h("li", { class: "nav-item", role: "presentation" }, tabEditor),
    h("li", { class: "nav-item", role: "presentation" }, tabRaw));
  rawPane.before(tabs, editorPane);

  function write() {
    if (!rows.length && !Object.keys(extra).length) {
      textarea.value = "";
      return;
    }
    const properties = {};
    const required = [];
    for (const row of rows) {
      const name = row.name.trim();
      if (!name) continue;
      properties[name] = row.prop;
      if (row.required) required.push(name);
    }
    const schema = { ...extra, type: "object", properties, required };
    textarea.value = JSON.stringify(schema, null, 2);
  }

  function read() {
    const text = textarea.value.trim();
    if (!text) {
      rows = [];
      extra = {};
      return true;
    }
    let schema;
    try {
      schema = JSON.parse(text);
    } catch (err) {
      return `The raw JSON is not valid (${err.message}); correct it there first.`;
    }
    if (!schema || typeof schema !== "object" || Array.isArray(schema)) return "The raw JSON must be an object.";
    const { properties = {}, required = [], type, ...rest } = schema;
    extra = rest;
    rows = Object.entries(properties).map(([name, prop]) => ({
      id: ++counter, name, prop: { ...(prop || {}) }, required: required.includes(name),
    }));
    return true;
  }

  function rowErrors(name) {
    const prefix = `parameters.properties.${name}`;
    return Object.entries(errors)
      .filter(([key]) => key === prefix || key.startsWith(prefix + "."))
      .map(([key, message]) => `${key.slice(prefix.length + 1) || "name"}: ${message}`);
  }

  function field(row, key, label, input, help) {
    const id = `pp-${row.id}-${key}`;
    input.id = id;
    return h("div", { class: `col-12 ${key === "description" ? "col-md-12" : "col-md-6 col-lg-4"}` },
      h("label", { class: "form-label", for: id, text: label }), input,
      help ? h("small", { class: "form-hint", text: help }) : null);
  }

  function renderRow(row) {
    const update = () => { write(); };
    const problems = rowErrors(row.name);
    const name = h("input", { class: `form-control font-monospace${problems.length ? " is-invalid" : ""}`, value: row.name,
      autocomplete: "off", spellcheck: "false", "aria-invalid": problems.length ? "true" : false,
      oninput: (e) => { row.name = e.target.value; legend.textContent = row.name || "New parameter"; update(); } });
    const type = h("select", { class: "form-select",
      onchange: (e) => { row.prop.type = e.target.value; row.prop.default = typed(row.prop.type, shown(row.prop.default)); if (row.prop.default === undefined) delete row.prop.default; update(); } },
      ...TYPES.map((t) => h("option", { value: t, selected: (row.prop.type || "string") === t, text: t })));
    if (!row.prop.type) row.prop.type = "string";
    const def = h("input", { class: "form-control", value: shown(row.prop.default),
      oninput: (e) => { const v = typed(row.prop.type, e.target.value); if (v === undefined) delete row.prop.default; else row.prop.default = v; update(); } });
    const choices = h("input", { class: "form-control", value: (row.prop.enum || []).join(", "),
      oninput: (e) => {
        const values = e.target.value.split(",").map((v) => typed(row.prop.type, v)).filter((v) => v !== undefined);
        if (values.length) row.prop.enum = values; else delete row.prop.enum;
        update();
      } });
    const description = h("input", { class: "form-control", value: shown(row.prop.description),
      oninput: (e) => { if (e.target.value) row.prop.description = e.target.value; else delete row.prop.description; update(); } });
    const requiredBox = h("input", { class: "form-check-input", type: "checkbox", checked: row.required,
      onchange: (e) => { row.required = e.target.checked; update(); } });
    const secretBox = h("input", { class: "form-check-input", type: "checkbox", checked: !!row.prop.writeOnly,
      onchange: (e) => { if (e.target.checked) row.prop.writeOnly = true; else delete row.prop.writeOnly; update(); } });
    const legend = h("legend", { class: "h4 mb-2", text: row.name || "New parameter" });
    const remove = h("button", { type: "button", class: "btn btn-sm btn-outline-danger",
      onclick: () => { rows = rows.filter((r) => r !== row); write(); render(); addButton.focus(); } });
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove parameter ${row.name || "(unnamed)"}`);
    const errorBox = problems.length
      ? h("div", { class: "invalid-feedback d-block", id: `pp-${row.id}-error` }, ...problems.map((p) => h("div", { text: p })))
      : null;
    if (errorBox) name.setAttribute("aria-describedby", errorBox.id);
    return h("fieldset", { class: "param-row border rounded p-3 mb-3", "data-param": row.name },
      h("div", { class: "d-flex justify-content-between align-items-start" }, legend, remove),
      h("div", { class: "row g-2" },
        field(row, "name", "Name (environment variable)", name),
        field(row, "type", "Type", type),
        field(row, "default", "Default value", def),
        field(row, "enum", "Allowed values (comma-separated)", choices),
        field(row, "description", "Description", description),
        h("div", { class: "col-12 d-flex gap-4" },
          h("label", { class: "form-check m-0" }, requiredBox, h("span", { class: "form-check-label", text: "Required" })),
          h("label", { class: "form-check m-0" }, secretBox, h("span", { class: "form-check-label", text: "Secret (masked everywhere)" })))),
      errorBox);
  }

  function render() {
    list.replaceChildren(...rows.map(renderRow));
    empty.hidden = rows.length > 0;
  }

  function addRow() {
    const row = { id: ++counter, name: "", prop: { type: "string" }, required: false };
    rows.push(row);
    render();
    write();
    document.getElementById(`pp-${row.id}-name`)?.focus();
  }

  function select(editor) {
    tabEditor.classList.toggle("active", editor);
    tabRaw.classList.toggle("active", !editor);
    tabEditor.setAttribute("aria-selected", String(editor));
    tabRaw.setAttribute("aria-selected", String(!editor));
    editorPane.hidden = !editor;
    rawPane.hidden = editor;
  }

  function showEditor() {
    const ok = read();
    if (ok !== true) {
      problem.textContent = ok;
      problem.hidden = false;
      select(false);
      textarea.focus();
      return;
    }
    problem.hidden = true;
    render();
    select(true);
  }

  function showRaw() {
    select(false);
  }

  const ok = read();
  if (ok === true) {
    render();
    select(true);
  } else {
    select(false);
  }
}
