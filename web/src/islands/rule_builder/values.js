// The value part of a condition: inputs chosen by the field's kind and operator (a
// select for enums and ids, checkboxes for lists of known values, number, date or text
// inputs, the software name and version comparison). Each writes the condition and calls
// ctx.changed(false).

import { LIST_OPS, h, splitList, toNumber } from "./tree.js";

// Inputs for the value part of a condition; each writes cond and re-previews.
export function valueCells(ctx, cond, field, path, label) {
  const { catalog, errors, changed } = ctx;
  if (!field) return [];
  const bad = (name) => (errors[`${path}.${name}`] ? " is-invalid" : "");
  const cell = (name, text, input) => {
    input.id = `${cond.id}-${name}`;
    input.dataset.focus = input.id;
    return h("div", { class: "rb-cell" }, h("label", { class: "visually-hidden", for: input.id, text: `${text} of ${label}` }), input);
  };
  const text = (name, value, attrs = {}, parse = (v) => v) =>
    h("input", {
      class: `form-control form-control-sm${bad(name)}`,
      value: value ?? "",
      ...attrs,
      oninput: (e) => {
        cond[name] = parse(e.target.value);
        changed(false);
      },
    });
  const choice = (name, options, value, parse = (v) => v) =>
    h(
      "select",
      {
        class: `form-select form-select-sm${bad(name)}`,
        onchange: (e) => {
          cond[name] = parse(e.target.value);
          changed(false);
        },
      },
      options.map(([v, l]) => h("option", { value: v, selected: String(v) === String(value) }, l)),
    );

  if (field.kind === "software") {
    const versionOps = [["", "any version"], ...catalog.version_ops.map((o) => [o.op, `version ${o.label}`])];
    const version = text("version", cond.version, { placeholder: "e.g. 9.1", disabled: !cond.version_op });
    return [
      cell("name_match", "Name match", choice("name_match", catalog.name_match.map((o) => [o.op, `name ${o.label}`]), cond.name_match || "eq")),
      cell("name", "Package name", text("name", cond.name, { placeholder: "package name, e.g. openssl" })),
      cell(
        "version_op",
        "Version comparison",
        h(
          "select",
          {
            class: `form-select form-select-sm${bad("version_op")}`,
            onchange: (e) => {
              if (e.target.value) cond.version_op = e.target.value;
              else {
                delete cond.version_op;
                delete cond.version;
              }
              version.disabled = !e.target.value;
              if (e.target.value && cond.version === undefined) cond.version = version.value;
              changed(false);
            },
          },
          versionOps.map(([v, l]) => h("option", { value: v, selected: (cond.version_op || "") === v }, l)),
        ),
      ),
      cell("version", "Version", version),
    ];
  }
  if (cond.op === "exists") {
    return [cell("value", "Has a value", choice("value", [["true", "yes"], ["false", "no"]], cond.value !== false, (v) => v === "true"))];
  }
  const kind = field.kind;
  const choices = (field.choices || []).map((c) => [c.value, c.label]);
  if (LIST_OPS.has(cond.op)) {
    if (choices.length && ["id", "options", "text"].includes(kind)) {
      return [checkboxes(ctx, cond, choices, label, path)];
    }
    const listKind = kind === "number" ? "number" : "text";
    return [cell("value", "Values (comma-separated)", text("value", (cond.value || []).join(", "), { placeholder: "a, b, c" }, (v) => splitList(v, listKind)))];
  }
  if (kind === "boolean") {
    return [cell("value", "Value", choice("value", [["true", "true"], ["false", "false"]], cond.value, (v) => v === "true"))];
  }
  if (choices.length && (kind === "id" || ((cond.op === "eq" || cond.op === "ne") && kind !== "tags"))) {
    const known = choices.some(([v]) => String(v) === String(cond.value));
    const options = known || cond.value === undefined ? choices : [[cond.value, `${cond.value}`], ...choices];
    return [cell("value", "Value", choice("value", options, cond.value))];
  }
  if (kind === "options" && choices.length) {
    return [cell("value", "Value", choice("value", choices, cond.value ?? choices[0][0]))];
  }
  if (kind === "number" || kind === "time") {
    const cells = [
      cell("value", kind === "time" ? "Days" : "Number", text("value", cond.value, { type: "number", step: "any", inputmode: "decimal", placeholder: kind === "time" ? "days" : "" }, toNumber)),
    ];
    if (kind === "time") cells.push(h("span", { class: "rb-cell align-self-center small", text: "days" }));
    if (field.key === "disk_free_gb") {
      cells.push(cell("mountpoint", "Mountpoint (optional)", text("mountpoint", cond.mountpoint, { placeholder: "on any disk, or e.g. /" })));
    }
    return cells;
  }
  if (kind === "date") {
    return [cell("value", "Date", text("value", cond.value, { type: "date" }))];
  }
  const input = text("value", cond.value, { placeholder: "value", autocomplete: "off" });
  const suggestions = field.suggestions || (choices.length ? choices.map(([v]) => v) : []);
  if (suggestions.length) {
    const listId = `${cond.id}-suggestions`;
    input.setAttribute("list", listId);
    return [cell("value", "Value", input), h("datalist", { id: listId }, suggestions.map((s) => h("option", { value: s })))];
  }
  return [cell("value", "Value", input)];
}

function checkboxes(ctx, cond, choices, label, path) {
  const { errors, changed } = ctx;
  const chosen = new Set((cond.value || []).map(String));
  const legendId = `${cond.id}-values`;
  return h(
    "fieldset",
    { class: `rb-cell rb-checks${errors[`${path}.value`] ? " rb-invalid" : ""}`, "aria-labelledby": legendId },
    h("legend", { id: legendId, class: "visually-hidden", text: `Values of ${label}` }),
    choices.map(([value, text], i) => {
      const id = `${cond.id}-v${i}`;
      return h(
        "label",
        { class: "form-check form-check-inline m-0 me-2", for: id },
        h("input", {
          id,
          class: "form-check-input",
          type: "checkbox",
          value,
          checked: chosen.has(String(value)),
          "data-focus": id,
          onchange: (e) => {
            const now = new Set((cond.value || []).map(String));
            if (e.target.checked) now.add(String(value));
            else now.delete(String(value));
            cond.value = choices.map(([v]) => v).filter((v) => now.has(String(v)));
            changed(false);
          },
        }),
        h("span", { class: "form-check-label", text }),
      );
    }),
  );
}
