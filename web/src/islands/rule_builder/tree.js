// The rule builder's tree: parsing rules JSON into blocks and conditions, writing it
// back, the server's paths of each node, and value defaults per field kind.

export const LIST_OPS = new Set(["in", "not_in"]);

let uid = 0;
export const nextId = () => `rb${++uid}`;

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// --- the tree ---------------------------------------------------------------------------

export function group(mode, children = []) {
  return { id: nextId(), kind: "group", mode, children };
}

export function condition(json) {
  const { field, op, ...rest } = json;
  return { id: nextId(), kind: "cond", field, op, ...rest };
}

export function parseNode(json) {
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    throw new Error("a rule must be an object");
  }
  if (Array.isArray(json.all)) return group("all", json.all.map(parseNode));
  if (Array.isArray(json.any)) return group("any", json.any.map(parseNode));
  if ("not" in json) {
    const inner = json.not;
    if (inner && Array.isArray(inner.all)) return group("notall", inner.all.map(parseNode));
    if (inner && Array.isArray(inner.any)) return group("none", inner.any.map(parseNode));
    return group("none", [parseNode(inner)]);
  }
  if (typeof json.field === "string") return condition(json);
  throw new Error("expected all, any, not or a condition");
}

export function parseRoot(json) {
  const node = parseNode(json);
  return node.kind === "cond" ? group("all", [node]) : node;
}

export function serialize(node) {
  if (node.kind === "group") {
    const children = node.children.map(serialize);
    if (node.mode === "all") return { all: children };
    if (node.mode === "any") return { any: children };
    if (node.mode === "none") return { not: { any: children } };
    return { not: { all: children } };
  }
  const { id, kind, ...rest } = node;
  const out = {};
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined && value !== "") out[key] = value;
  }
  return out;
}

// Paths as the server names them (rules.all.0.value).
export function childBase(node, path) {
  if (node.mode === "none") return `${path}.not.any`;
  if (node.mode === "notall") return `${path}.not.all`;
  return `${path}.${node.mode}`;
}

// --- values -----------------------------------------------------------------------------

export function defaultValue(field, op) {
  if (op === "exists") return true;
  const first = field.choices?.[0]?.value;
  if (LIST_OPS.has(op)) return first !== undefined ? [first] : [];
  if (field.kind === "boolean") return true;
  if (field.kind === "time") return 7;
  if (first !== undefined && (field.kind === "id" || op === "eq" || op === "ne")) return first;
  return field.kind === "number" ? undefined : "";
}

export function resetCondition(cond, field, op) {
  for (const key of Object.keys(cond)) {
    if (!["id", "kind"].includes(key)) delete cond[key];
  }
  cond.field = field.key;
  cond.op = op;
  if (field.kind === "software") {
    cond.name = "";
    return;
  }
  if (field.type) cond.type = field.type;
  const value = defaultValue(field, op);
  if (value !== undefined) cond.value = value;
}

export function changeOp(cond, field, op) {
  const before = cond.value;
  cond.op = op;
  if (field.kind === "software") return;
  if (op === "exists") cond.value = true;
  else if (LIST_OPS.has(op)) {
    const blank = before === undefined || before === "" || typeof before === "boolean";
    if (Array.isArray(before)) cond.value = before;
    else cond.value = blank ? defaultValue(field, op) : [before];
  } else if (Array.isArray(before)) cond.value = before.length ? before[0] : defaultValue(field, op);
  else if (typeof before === "boolean" && field.kind !== "boolean") cond.value = defaultValue(field, op);
  else if (before === undefined) {
    const value = defaultValue(field, op);
    if (value !== undefined) cond.value = value;
  }
}

export function toNumber(text) {
  const trimmed = String(text).trim();
  if (trimmed === "") return undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : trimmed; // the server names what is wrong
}

export function splitList(text, kind) {
  return String(text)
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .map((part) => (kind === "number" ? toNumber(part) : part));
}
